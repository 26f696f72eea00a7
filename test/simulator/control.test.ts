import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SubscribedSku } from '@microsoft/microsoft-graph-types';
import { RESOURCE_ACCOUNT_APP_IDS, RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../../lib/microsoft';
import type { TestSimulator } from './helpers';
import { DOMAIN, createResourceAccount, graphFailure, simulatorPerSuite } from './helpers';

interface State {
  tenant: { id: string; domains: string[] };
  apps: Record<string, unknown>[];
  behaviour: { faultRate: number; timeScale: number };
  licenses: { skuPartNumber: string; enabled: number; consumed: number; available: number }[];
  users: { userPrincipalName: string; replicated: boolean }[];
  numbers: unknown[];
  operations: unknown[];
}

describe('control API', () => {
  let simulator: TestSimulator;
  simulatorPerSuite((started) => (simulator = started));

  const state = async () => (await (await simulator.control('/state')).json()) as State;
  const errorMessage = async (response: Response) => ((await response.json()) as { error: { message: string } }).error.message;

  test('healthz answers without a token', async () => {
    const response = await simulator.control('/healthz');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  test('state shows the tenant, licenses, users and numbers, and never a client secret', async () => {
    const current = await state();
    assert.deepEqual(current.tenant.domains, [DOMAIN]);
    const resource = current.licenses.find((license) => license.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER);
    assert.deepEqual(resource && { enabled: resource.enabled, available: resource.available }, { enabled: 25, available: 25 });
    assert.equal(current.users.length, 2);
    assert.ok(current.numbers.length >= 60);
    assert.deepEqual(current.operations, []);
    assert.ok(current.apps.every((app) => !('clientSecret' in app)));
  });

  test('reset returns to the seeded tenant and the start-up behaviour', async () => {
    await createResourceAccount(simulator, 'temporary');
    await simulator.control('/config', { method: 'PUT', body: { faultRate: 0.5 } });
    assert.equal((await state()).users.length, 3);
    assert.equal((await simulator.control('/reset', { method: 'POST' })).status, 204);
    const current = await state();
    assert.equal(current.users.length, 2);
    assert.equal(current.behaviour.faultRate, 0);
  });

  test('config accepts valid changes and refuses invalid ones, naming each field', async () => {
    const invalid = await simulator.control('/config', { method: 'PUT', body: { timeScale: 0, faultRate: 2, delays: { replication: -1 } } });
    assert.equal(invalid.status, 400);
    const message = await errorMessage(invalid);
    for (const field of ['timeScale', 'faultRate', 'delays.replication']) assert.match(message, new RegExp(field.replace('.', '\\.')));
    const unknown = await simulator.control('/config', { method: 'PUT', body: { fualtRate: 0.1 } });
    assert.equal(unknown.status, 400);
    assert.match(await errorMessage(unknown), /fualtRate is not a setting/);

    const valid = await simulator.control('/config', {
      method: 'PUT',
      body: { timeScale: 0.01, delays: { licensePropagation: { minMs: 1000, maxMs: 2000 } }, throttle: { resourceUnits: 100, windowMs: 1000 } },
    });
    assert.equal(valid.status, 200);
    const behaviour = (await (await simulator.control('/config')).json()) as Record<string, unknown>;
    assert.equal(behaviour.timeScale, 0.01);
    assert.deepEqual((behaviour.delays as Record<string, unknown>).licensePropagation, { minMs: 1000, maxMs: 2000 });
    assert.deepEqual(behaviour.throttle, { resourceUnits: 100, windowMs: 1000 });
  });

  test('a license purchase raises prepaidUnits.enabled as Graph reports it', async () => {
    const refused = await simulator.control('/licenses/purchase', { method: 'POST', body: { skuPartNumber: 'NOT_A_SKU', units: 0 } });
    assert.equal(refused.status, 400);
    assert.match(await errorMessage(refused), /skuPartNumber.*units/);
    const bought = await simulator.control('/licenses/purchase', { method: 'POST', body: { skuPartNumber: RESOURCE_ACCOUNT_SKU_PART_NUMBER, units: 10 } });
    assert.equal(bought.status, 200);
    const skus = (await simulator.graph().api('/subscribedSkus').get()) as { value: SubscribedSku[] };
    const resource = skus.value.find((sku) => sku.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER);
    assert.equal(resource?.prepaidUnits?.enabled, 35);
    assert.equal(resource?.subscriptionIds?.length, 2, 'each purchase is a subscription');
  });

  test('seed adds users (replicated or not), numbers and licenses; invalid seeds are refused whole', async () => {
    const seeded = await simulator.control('/seed', {
      method: 'POST',
      body: {
        licenses: [{ skuPartNumber: 'MCOEV', units: 3 }],
        numbers: [{ telephoneNumber: '+496912345678', isoCountryCode: 'DE', city: 'Frankfurt' }],
        users: [
          { userPrincipalName: `cq-existing@${DOMAIN}`, displayName: 'Existing queue', applicationId: RESOURCE_ACCOUNT_APP_IDS.callQueue,
            usageLocation: 'DE', licenses: [RESOURCE_ACCOUNT_SKU_PART_NUMBER] },
          { userPrincipalName: `fresh@${DOMAIN}`, displayName: 'Fresh', replicated: false },
        ],
      },
    });
    assert.equal(seeded.status, 201);
    const body = (await seeded.json()) as { users: { id: string; userPrincipalName: string }[] };
    const [existing, fresh] = body.users;
    assert.ok(existing && fresh);

    const seededUser = (await state()).users.find((user) => user.userPrincipalName === `cq-existing@${DOMAIN}`) as unknown as {
      licenses: { inTeams: boolean }[]; teams: { accountType: string; featureTypes: string[] };
    };
    assert.deepEqual(seededUser.licenses.map((license) => license.inTeams), [true], 'seeded licenses are already in Teams');
    assert.equal(seededUser.teams.accountType, 'resourceAccount');
    assert.equal((await graphFailure(simulator.graph().api(`/users/${fresh.id}`).get())).statusCode, 404);
    const numbers = (await simulator.graph().api("/admin/teams/telephoneNumberManagement/numberAssignments?$filter=isoCountryCode eq 'DE'").get()) as { value: { city: string }[] };
    assert.deepEqual(numbers.value.map((entry) => entry.city), ['Frankfurt']);

    const before = (await state()).users.length;
    const invalid = await simulator.control('/seed', {
      method: 'POST',
      body: { numbers: [{ telephoneNumber: '0123', isoCountryCode: 'de' }], users: [{ userPrincipalName: `x@${DOMAIN}`, displayName: 'X' }] },
    });
    assert.equal(invalid.status, 400);
    assert.match(await errorMessage(invalid), /numbers\[0\]\.telephoneNumber.*numbers\[0\]\.isoCountryCode/);
    assert.equal((await state()).users.length, before);
  });

  test('requests are counted by method, route pattern and status, without the control API itself', async () => {
    await simulator.control('/reset', { method: 'POST' });
    const account = await createResourceAccount(simulator, 'counted');
    await graphFailure(simulator.graph().api(`/users/${account}`).get());
    simulator.clock.advance(60_000);
    await simulator.graph().api(`/users/${account}`).get();
    const summary = (await (await simulator.control('/requests')).json()) as {
      total: number; routes: { method: string; route: string; count: number; statuses: Record<string, number> }[];
    };
    const userRoute = summary.routes.find((entry) => entry.method === 'GET' && entry.route === '/v1.0/users/:id');
    assert.deepEqual(userRoute?.statuses, { 200: 1, 404: 1 });
    const create = summary.routes.find((entry) => entry.method === 'POST' && entry.route === '/Teams.PlatformService/v2/ApplicationInstances');
    assert.deepEqual(create?.statuses, { 200: 1 });
    assert.ok(summary.routes.every((entry) => !entry.route.startsWith('/_simulator')));
    assert.equal(summary.total, summary.routes.reduce((sum, entry) => sum + entry.count, 0));
  });

  test('apps can be listed and their permissions and roles changed; mistakes are named', async () => {
    const apps = (await (await simulator.control('/apps')).json()) as { clientId: string; graphRoles: string[]; directoryRoles: string[] }[];
    assert.deepEqual(apps[0]?.directoryRoles, ['Teams Administrator', 'User Administrator']);
    assert.ok(apps.every((app) => !('clientSecret' in app)));
    const unknownApp = await simulator.control('/apps/00000000-0000-4000-8000-000000000000', { method: 'PUT', body: { graphRoles: [] } });
    assert.equal(unknownApp.status, 404);
    const typo = await simulator.control(`/apps/${apps[0]?.clientId}`, { method: 'PUT', body: { roles: [] } });
    assert.equal(typo.status, 400);
    assert.match(await errorMessage(typo), /roles is not a setting/);
  });

  test('a subscription\'s status and units can be set; a bad status is refused', async () => {
    const set = await simulator.control(`/licenses/${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`, { method: 'PUT', body: { capabilityStatus: 'LockedOut', units: 3 } });
    assert.equal(set.status, 200);
    assert.deepEqual(((await set.json()) as { prepaidUnits: unknown }).prepaidUnits, { enabled: 0, lockedOut: 3, suspended: 0, warning: 0 });
    const bad = await simulator.control(`/licenses/${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`, { method: 'PUT', body: { capabilityStatus: 'Expired' } });
    assert.equal(bad.status, 400);
    assert.match(await errorMessage(bad), /capabilityStatus must be one of Enabled, Warning, Suspended, LockedOut, Deleted/);
    assert.equal((await simulator.control('/licenses/MCOEV', { method: 'PUT', body: { units: 1 } })).status, 404, 'a SKU the tenant does not own');
  });

  test('a number can be released by hand (as Microsoft support would); an unknown number is a 404', async () => {
    assert.equal((await simulator.control(`/numbers/${encodeURIComponent('+12065550100')}/release`, { method: 'POST' })).status, 200);
    assert.equal((await simulator.control(`/numbers/${encodeURIComponent('+19995550100')}/release`, { method: 'POST' })).status, 404);
  });
});
