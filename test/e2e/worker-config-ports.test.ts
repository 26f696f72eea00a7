/**
 * The product's worker process, configured by environment variables only, uses the adapters its
 * configuration names: Partner Center license purchase (DIALTONE_LICENSE_PROCUREMENT=partner-center),
 * and the PowerShell session for Teams (the default) — here its simulator stand-in. A run short of
 * licenses offers the purchase, buys on approval, and completes by itself; then its association is made.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { DEFAULT_VOICE_APPS } from '../../simulator/catalog';
import type { provisionResourceAccount } from '../../workflows';
import { PROVISION_WORKFLOW_TYPE, approveLicensePurchaseUpdate, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { killHard, workerProcesses } from '../helpers/worker-process';
import { eventually, pcConfig, pcState } from '../licensing/helpers';

/** Command lines of a process's children (Linux /proc). */
function childCommands(pid: number): string[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  return children.map((child) => readFileSync(`/proc/${child}/cmdline`, 'utf8').replaceAll('\0', ' '));
}

const MAIN_LINE = DEFAULT_VOICE_APPS.find((app) => app.name === 'Main line')?.identity ?? '';

describe('a worker process configured only by its environment', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  let worker: ChildProcess | undefined;
  // A tenant of its own: the purchase ledger is keyed by tenant and day on a Temporal server other test files share.
  const tenantId = randomUUID();
  const taskQueue = `ports-${randomUUID()}`;
  const workers = workerProcesses(() => temporal, () => sim, () => taskQueue, () => ({
    AZURE_TENANT_ID: tenantId,
    DIALTONE_LICENSE_PROCUREMENT: 'partner-center',
    DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH: '3',
  }));

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator({ tenantId });
    await pcConfig(sim, { provisioningDelayMs: 500, quantityChangeMs: 300 });
    worker = workers.start();
  });
  after(async () => {
    await killHard(worker);
    await sim?.close();
    await temporal?.teardown();
  });

  test('buys licenses through Partner Center on approval, within its ceiling, and associates through the PowerShell session', async () => {
    const state = (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { licenses: Array<{ skuPartNumber: string; consumed: number }> };
    const consumed = state.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.consumed ?? 0;
    assert.equal((await sim.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: consumed } })).statusCode, 200);
    const ordersBefore = (await pcState(sim)).orders.length;

    const upn = `aa-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    const handle = await temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: resourceAccountWorkflowId(tenantId, upn),
      args: [{
        tenantId, upn, displayName: 'Main line', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550115',
        association: { configurationId: MAIN_LINE, configurationType: 'AutoAttendant' }, options: { licenseRecheckIntervalMs: 1000 },
      }],
    });
    const waiting = await eventually('the purchase offer', () => handle.query(getStatusQuery),
      (s) => s.state === 'needs-attention' && s.attention?.purchase !== undefined, 120_000).catch((err: unknown) => assert.fail(`${String(err)}\n${workers.log()}`));
    assert.equal(waiting.attention?.purchase?.kind, 'partner-center', 'the worker took DIALTONE_LICENSE_PROCUREMENT');
    assert.equal(waiting.attention?.purchase?.ceilings?.perBatch, 3, 'and its ceiling');
    await assert.rejects(handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 4, by: 'ops' }] }),
      (err: unknown) => err instanceof WorkflowUpdateFailedError && err.cause instanceof Error && /per-batch ceiling of 3/.test(err.cause.message));
    await handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 1, by: 'ops', reason: 'new line' }] });

    const result = await handle.result();
    assert.equal(result.state, 'completed', `${JSON.stringify(result.steps.map((s) => [s.name, s.status, s.lastError?.message]))}\n${workers.log()}`);
    assert.equal((await pcState(sim)).orders.length, ordersBefore + 1, 'one order');
    const associations = ((await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { associations: Array<{ objectId: string; configurationId: string }> }).associations;
    assert.deepEqual(associations.filter((a) => a.objectId === result.accountId).map((a) => a.configurationId), [MAIN_LINE]);
    // The worker said what it runs with, and its Teams calls go through its PowerShell session: the stand-in
    // runs as the worker's child process.
    assert.match(workers.log(), /"teamsAdmin":\{"adapter":"powershell"/);
    assert.match(workers.log(), /"procurement":\{"kind":"partner-center"/);
    assert.ok(childCommands(worker?.pid ?? 0).some((args) => args.includes('teams-powershell-host')), 'the PowerShell session runs as the worker\'s child');
  });
});
