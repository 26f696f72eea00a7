/**
 * Ownership comes from durable facts: a real worker process is killed (SIGKILL) again and again while
 * runs are in flight, at whatever point of whatever step they are; then every run is rolled back, and
 * the tenant must be back where it started — no account, license or number left behind, none adopted.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { provisionResourceAccount } from '../../workflows';
import { PROVISION_WORKFLOW_TYPE, decideUpdate, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import type { ProvisionResourceAccountStatus } from '../../workflows/provision-resource-account/definitions';
import { killHard, workerProcesses } from '../helpers/worker-process';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';

interface SimState {
  licenses: Array<{ skuPartNumber: string; consumed: number }>;
  users: Array<{ id: string; userPrincipalName: string; deletedDateTime: string | null }>;
  numbers: Array<{ telephoneNumber: string; assignmentTargetId?: string | null }>;
}

const RUNS = 8;
const NUMBERS = Array.from({ length: RUNS }, (_, i) => `+1206555011${i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('worker killed mid-run, again and again, then everything rolled back', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  let worker: ChildProcess | undefined;
  const taskQueue = `kill-${randomUUID()}`;

  const workers = workerProcesses(() => temporal, () => sim, () => taskQueue);
  const startWorker = () => workers.start();
  const kill = killHard;


  async function simState(): Promise<SimState> {
    return (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json();
  }

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
  });
  after(async () => {
    await kill(worker);
    await sim?.close();
    await temporal?.teardown();
  });

  test('no account, license or number is left behind, and no run calls its own account adopted', async () => {
    // The numbers are stuck: every step up to the number writes to the tenant, then the number step runs
    // into its deadline and the run waits for a decision — with everything it did still to undo.
    for (const number of NUMBERS) {
      const stuck = await sim.app.inject({ method: 'POST', url: `/_simulator/numbers/${encodeURIComponent(number)}/stuck` });
      assert.equal(stuck.statusCode, 200, stuck.body);
    }
    // Slow calls, so that a kill lands while writes are in flight (a create sent, its answer not yet read).
    const slowed = await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { latency: { minMs: 150, maxMs: 450 } } });
    assert.equal(slowed.statusCode, 200, slowed.body);
    const start = await simState();
    const consumedAtStart = start.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.consumed;
    const activeAtStart = start.users.filter((u) => !u.deletedDateTime).map((u) => u.id).sort();

    worker = startWorker();
    const handles = await Promise.all(
      NUMBERS.map((phoneNumber, i) => {
        const upn = `kill-${i}-${randomUUID().slice(0, 6)}@contoso.onmicrosoft.com`;
        return temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, upn),
          args: [{
            tenantId: LOCAL_TENANT_ID, upn, displayName: `Kill ${i}`, kind: 'autoAttendant', usageLocation: 'US', phoneNumber,
            phoneNumberType: 'callingPlan', options: { propagationTimeoutMs: 20_000 },
          }],
        });
      }),
    );

    // Kill the worker at uneven moments while the runs write, restarting it each time.
    const kills = [2500, 1200, 3100, 1700, 2300];
    for (const delay of kills) {
      await sleep(delay);
      await kill(worker);
      worker = startWorker();
    }

    const statuses = async () => Promise.all(handles.map((h) => h.query(getStatusQuery).catch(() => undefined)));
    let waiting: Array<ProvisionResourceAccountStatus | undefined> = [];
    for (let i = 0; i < 600; i++) {
      waiting = await statuses();
      if (waiting.every((s) => s?.state === 'needs-attention')) break;
      await sleep(500);
    }
    assert.ok(waiting.every((s) => s?.state === 'needs-attention'), `every run waits at its number: ${waiting.map((s) => `${s?.state}/${s?.currentStep}`).join(', ')}\n${workers.log().slice(-3000)}`);
    for (const status of waiting) {
      assert.equal(status?.attention?.step, 'assignNumber', JSON.stringify(status?.attention));
      assert.equal(status?.adopted, false, 'an account the pre-flight did not see is the run\'s own, whatever a retry found');
    }

    await Promise.all(handles.map((h) => h.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'chaos-test' }] })));
    const results = await Promise.all(handles.map((h) => h.result()));
    assert.deepEqual(results.map((r) => r.state), results.map(() => 'rolled-back'));

    // Give the tenant's reported counts time to settle (consumedUnits lags), then compare.
    let end = await simState();
    for (let i = 0; i < 50 && end.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.consumed !== consumedAtStart; i++) {
      await sleep(100);
      end = await simState();
    }
    assert.deepEqual(end.users.filter((u) => !u.deletedDateTime).map((u) => u.id).sort(), activeAtStart, 'no account left active');
    assert.equal(end.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.consumed, consumedAtStart, 'no license left consumed');
    for (const number of NUMBERS) {
      assert.equal(end.numbers.find((n) => n.telephoneNumber === number)?.assignmentTargetId ?? null, null, `${number} is on no account`);
    }
  });
});
