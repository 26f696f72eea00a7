/**
 * Graph `GET /domains` and `GET /domains/{id}` on the simulator, through the Graph SDK client: the
 * documented shape (https://learn.microsoft.com/graph/api/resources/domain) and permission
 * (https://learn.microsoft.com/graph/api/domain-list: Domain.Read.All, or Domain.ReadWrite.All /
 * Directory.Read.All; no other).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Domain } from '@microsoft/microsoft-graph-types';
import { LOCAL_APP_GRAPH_ROLES } from '../../simulator/options';
import type { SimulatedApp } from '../../simulator/options';
import { simulatorPerSuite } from './helpers';
import type { TestSimulator } from './helpers';

const READER: SimulatedApp = {
  clientId: '5d0a7c2e-0000-4000-8000-0000000000d1',
  clientSecret: 'domain-reader-secret',
  graphRoles: ['Domain.Read.All'],
  directoryRoles: [],
};
const WORKER_ONLY: SimulatedApp = {
  clientId: '5d0a7c2e-0000-4000-8000-0000000000d2',
  clientSecret: 'worker-only-secret',
  graphRoles: LOCAL_APP_GRAPH_ROLES,
  directoryRoles: [],
};

describe('Graph domains', () => {
  let sim: TestSimulator;
  simulatorPerSuite((s) => (sim = s), { domains: ['contoso.onmicrosoft.com', 'contoso.com'], apps: [READER, WORKER_ONLY] });

  test('lists every domain with the domain resource properties; the first is the default', async () => {
    const graph = sim.graph(sim.credential(READER.clientId, READER.clientSecret));
    const page = (await graph.api('/domains').get()) as { value: Domain[]; '@odata.context': string };
    assert.match(page['@odata.context'], /\/v1\.0\/\$metadata#domains$/);
    assert.deepEqual(page.value.map((d) => [d.id, d.isDefault, d.isInitial, d.isVerified]), [
      ['contoso.onmicrosoft.com', true, true, true],
      ['contoso.com', false, false, true],
    ]);
    assert.deepEqual(Object.keys(page.value[0] ?? {}).sort(), [
      'authenticationType', 'availabilityStatus', 'id', 'isAdminManaged', 'isDefault', 'isInitial', 'isRoot', 'isVerified',
      'passwordNotificationWindowInDays', 'passwordValidityPeriodInDays', 'state', 'supportedServices',
    ]);
    const selected = (await graph.api('/domains').select(['id', 'isVerified']).get()) as { value: Domain[] };
    assert.deepEqual(selected.value[1], { id: 'contoso.com', isVerified: true });
  });

  test('gets one domain by name, case-insensitively; an unknown one is 404', async () => {
    const graph = sim.graph(sim.credential(READER.clientId, READER.clientSecret));
    const domain = (await graph.api('/domains/Contoso.com').get()) as Domain;
    assert.equal(domain.id, 'contoso.com');
    assert.equal(domain.isVerified, true);
    await assert.rejects(graph.api('/domains/fabrikam.com').get(), (err: { statusCode?: number; code?: string }) =>
      err.statusCode === 404 && err.code === 'Request_ResourceNotFound');
  });

  test('refuses an app with only what the worker needs (no Domain.Read.All): 403', async () => {
    const graph = sim.graph(sim.credential(WORKER_ONLY.clientId, WORKER_ONLY.clientSecret));
    await assert.rejects(graph.api('/domains').get(), (err: { statusCode?: number; code?: string }) =>
      err.statusCode === 403 && err.code === 'Authorization_RequestDenied');
  });

  test('refuses query options Graph does not document for it', async () => {
    const graph = sim.graph(sim.credential(READER.clientId, READER.clientSecret));
    await assert.rejects(graph.api('/domains').filter("isVerified eq true").get(), (err: { statusCode?: number }) => err.statusCode === 400);
  });
});
