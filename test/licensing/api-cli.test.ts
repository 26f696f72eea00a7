/**
 * Approving a license purchase over REST and with `dialtone approve-purchase`, against the real API on a
 * real Temporal server, a worker with the partner-center adapter and the tenant simulator: schema errors
 * (400) name the field, refusals (409) say why and how to change it, an approval (200) buys, and the
 * status shows the offer and the purchase.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { REPO_ROOT } from '../../lib/paths';
import type { provisionResourceAccount } from '../../workflows';
import { PROVISION_WORKFLOW_TYPE, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import { AUTH, TOKEN, testConfig } from '../api/helpers';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { eventually, noneFree, pcConfig, pcSettings, pcState, startLicensingWorker } from './helpers';

const DOMAIN = 'contoso.onmicrosoft.com';

function dialtone(apiUrl: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cli/dialtone.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, DIALTONE_API_URL: apiUrl, DIALTONE_API_TOKEN: TOKEN } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

describe('license purchase over REST and the CLI', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  let app: ApiApp;
  let apiUrl: string;
  let stopWorker: () => Promise<void>;
  let taskQueue: string;

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
    await pcConfig(sim, { provisioningDelayMs: 300 });
    const config = testConfig();
    taskQueue = config.temporal.taskQueue;
    stopWorker = (await startLicensingWorker(temporal, sim, taskQueue, pcSettings(sim, { perBatch: 3, perDay: 10 }), randomUUID())).stop;
    app = await buildApp(config, { temporalClient: temporal.client });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await noneFree(sim);
  });
  after(async () => {
    await app?.close();
    await stopWorker?.();
    await sim?.close();
    await temporal?.teardown();
  });

  test('400s name the field; 404 for no run; 409 says why; the CLI approves and the run completes', async () => {
    const upn = `api-${randomUUID().slice(0, 6)}@${DOMAIN}`;
    const bad = await app.inject({ method: 'POST', url: `/v1/resource-accounts/${encodeURIComponent(upn)}/license-purchase`, headers: AUTH, payload: { units: 0 } });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.match(bad.body, /units/);
    const unknown = await app.inject({ method: 'POST', url: `/v1/resource-accounts/${encodeURIComponent(upn)}/license-purchase`, headers: AUTH, payload: { units: 1, colour: 'red' } });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.body, /colour/);
    const none = await app.inject({ method: 'POST', url: `/v1/resource-accounts/${encodeURIComponent(upn)}/license-purchase`, headers: AUTH, payload: { units: 1 } });
    assert.equal(none.statusCode, 404, none.body);
    const noBatch = await app.inject({ method: 'POST', url: '/v1/batches/nope/license-purchase', headers: AUTH, payload: { units: 1 } });
    assert.equal(noBatch.statusCode, 404, noBatch.body);

    const handle = await temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, upn),
      args: [{ tenantId: LOCAL_TENANT_ID, upn, displayName: 'API', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550128', options: { licenseRecheckIntervalMs: 1000 } }],
    });
    await eventually('the offer', () => handle.query(getStatusQuery), (s) => s.attention?.purchase !== undefined, 60_000);
    const status = await app.inject({ method: 'GET', url: `/v1/resource-accounts/${encodeURIComponent(upn)}`, headers: AUTH });
    assert.equal(status.json().attention?.purchase?.kind, 'partner-center', 'the status shows the offer');

    const over = await app.inject({ method: 'POST', url: `/v1/resource-accounts/${encodeURIComponent(upn)}/license-purchase`, headers: AUTH, payload: { units: 4 } });
    assert.equal(over.statusCode, 409, over.body);
    assert.match(over.json().error.message, /per-batch ceiling of 3 \(DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH/);

    const cliOver = await dialtone(apiUrl, 'approve-purchase', upn, '--units', 'x');
    assert.equal(cliOver.code, 2, 'a bad --units is refused before any request');
    assert.match(cliOver.stderr, /whole number of licenses/);
    const approved = await dialtone(apiUrl, 'approve-purchase', upn, '--units', '1', '--by', 'carol', '--reason', 'cli test');
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(JSON.parse(approved.stdout).units, 1);
    const again = await app.inject({ method: 'POST', url: `/v1/resource-accounts/${encodeURIComponent(upn)}/license-purchase`, headers: AUTH, payload: { units: 1 } });
    assert.equal(again.statusCode, 409, 'a second approval while one is being made, or after, is refused');

    const result = await handle.result();
    assert.equal(result.state, 'completed');
    assert.equal((await pcState(sim)).orders.length, 1);
    const after = await app.inject({ method: 'POST', url: `/v1/resource-accounts/${encodeURIComponent(upn)}/license-purchase`, headers: AUTH, payload: { units: 1 } });
    assert.equal(after.statusCode, 409);
    assert.match(after.json().error.message, /has finished|not waiting|no purchase can be approved/);
  });
});
