/**
 * The purchase ledger when it does not answer, on a real Temporal server: a ledger workflow that runs
 * on a task queue nobody polls (its first purchase of the day came from a worker since moved to another
 * queue). A call fails within its answer timeout, naming that queue and the fix; and a worker asked to
 * stop while a purchase waits for the ledger stops, instead of waiting for a workflow task it no longer
 * polls for.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { temporal as proto } from '@temporalio/proto';
import { TemporalPurchaseLedger } from '../../activities/licensing/ledger';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { licensePurchaseLedger, provisionResourceAccount } from '../../workflows';
import { LEDGER_WORKFLOW_TYPE, purchaseLedgerWorkflowId, utcDay } from '../../workflows/license-purchase-ledger/definitions';
import { PROVISION_WORKFLOW_TYPE, approveLicensePurchaseUpdate, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { eventually, noneFree, pcConfig, pcSettings, sleep, startLicensingWorker } from './helpers';

const DOMAIN = 'contoso.onmicrosoft.com';

describe('a purchase ledger that does not answer', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  const started: string[] = [];

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
    await pcConfig(sim, { provisioningDelayMs: 300 });
  });
  after(async () => {
    for (const workflowId of started) await temporal.client.workflow.getHandle(workflowId).terminate('test done').catch(() => undefined);
    await sim?.close();
    await temporal?.teardown();
  });

  /** Today's ledger of a tenant, started on a task queue that no worker polls. */
  async function strandedLedger(tenantId: string): Promise<{ day: string; deadQueue: string }> {
    const day = utcDay(Date.now());
    const deadQueue = `moved-away-${randomUUID()}`;
    const handle = await temporal.client.workflow.start<typeof licensePurchaseLedger>(LEDGER_WORKFLOW_TYPE, {
      taskQueue: deadQueue, workflowId: purchaseLedgerWorkflowId(tenantId, day), args: [{ tenantId, day }],
    });
    started.push(handle.workflowId);
    return { day, deadQueue };
  }

  test('a call fails within its answer timeout and names the queue the ledger runs on, and the fix', async () => {
    const tenantId = randomUUID();
    const { day, deadQueue } = await strandedLedger(tenantId);
    const ownQueue = `own-${randomUUID()}`;
    const ledger = new TemporalPurchaseLedger({ tenantId, client: () => temporal.client, taskQueue: () => ownQueue, answerTimeoutMs: 2_000 });
    const reserve = ledger.reserve(day, {
      key: 'k1', units: 1, approvedBy: 'alice', plan: { via: 'cart', catalogItemId: 'x' },
      ceilings: { perBatch: 5, perDay: 5 }, ceilingNames: { perBatch: 'A', perDay: 'B' },
    });
    await assert.rejects(reserve, (err: Error) => {
      assert.match(err.message, new RegExp(`purchase ledger ${purchaseLedgerWorkflowId(tenantId, day)} did not answer within 2 s: it runs on task queue "${deadQueue}", ` +
        `which this worker \\(task queue "${ownQueue}"\\) does not poll\\. Start a worker on "${deadQueue}"`));
      return true;
    });
    const sameQueue = new TemporalPurchaseLedger({ tenantId, client: () => temporal.client, taskQueue: () => deadQueue, answerTimeoutMs: 2_000 });
    await assert.rejects(sameQueue.record(day, { key: 'k1', state: 'done' }), /runs on this worker's task queue .*busy or stuck/);
  });

  test('a worker asked to stop while a purchase waits for the ledger stops, and the purchase is retried later', async () => {
    const ledgerTenant = randomUUID();
    const taskQueue = `stop-${randomUUID()}`;
    const { worker, running } = await startLicensingWorker(temporal, sim, taskQueue, pcSettings(sim, { perBatch: 5, perDay: 20 }), ledgerTenant);
    let stopped = false;
    void running.finally(() => (stopped = true));
    try {
      await noneFree(sim);
      const upn = `stranded-${randomUUID().slice(0, 6)}@${DOMAIN}`;
      const handle = await temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, upn),
        args: [{ tenantId: LOCAL_TENANT_ID, upn, displayName: 'Stranded', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550126', options: { licenseRecheckIntervalMs: 1000 } }],
      });
      started.push(handle.workflowId);
      await eventually('the purchase offer', () => handle.query(getStatusQuery), (s) => s.attention?.purchase?.canPurchase === true, 60_000);
      // Only now, so the offer could still read the (then absent) ledger.
      await strandedLedger(ledgerTenant);
      await handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 1, by: 'alice' }] });
      await eventually('the purchase activity running', async () => (await handle.describe()).raw.pendingActivities ?? [],
        (pending) => pending.some((a) => a.activityType?.name === 'purchaseLicenses' && a.state === proto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED), 30_000);
      await sleep(1_000);

      worker.shutdown();
      // Well inside the ledger's own answer timeout (45 s): the stop comes from the activity's cancellation.
      const deadline = Date.now() + 20_000;
      while (!stopped && Date.now() < deadline) await sleep(100);
      assert.ok(stopped, 'the worker stopped although a purchase was waiting for the ledger');
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const purchase = pending.find((a) => a.activityType?.name === 'purchaseLicenses');
      assert.ok(purchase, 'the purchase is still pending, for the next worker to retry');
      assert.ok((purchase.attempt ?? 0) >= 1);
    } finally {
      if (!stopped) {
        // Leave the file able to end: let the stranded ledger answer so the held activity can finish.
        worker.shutdown();
      }
    }
  });
});
