/**
 * Buying licenses from a waiting run or batch, on a real Temporal server with the real activities over
 * the tenant simulator (Graph, Teams and Partner Center): short of licenses, the run offers a purchase
 * and waits for an explicit approval; an approval buys through an activity and the run continues by
 * itself once the seats arrive; without an approval nothing is bought. With `manual`, the wait names the
 * admin-center path.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { provisionBatch, provisionResourceAccount } from '../../workflows';
import { BATCH_WORKFLOW_TYPE, approveBatchLicensePurchaseUpdate, batchWorkflowId, getBatchProgressQuery } from '../../workflows/provision-batch/definitions';
import type { BatchRowRequest } from '../../workflows/provision-batch/definitions';
import { PROVISION_WORKFLOW_TYPE, approveLicensePurchaseUpdate, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import type { ProvisionResourceAccountStatus } from '../../workflows/provision-resource-account/definitions';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { eventually, noneFree, pcConfig, pcSettings, pcState, startLicensingWorker } from './helpers';

const DOMAIN = 'contoso.onmicrosoft.com';

describe('license purchase from a waiting run or batch', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  const queues: Record<'pc' | 'manual', string> = { pc: `pc-${randomUUID()}`, manual: `manual-${randomUUID()}` };
  const stops: Array<() => Promise<void>> = [];

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
    await pcConfig(sim, { provisioningDelayMs: 500, quantityChangeMs: 300 });
    const pc = pcSettings(sim, { perBatch: 5, perDay: 20 });
    const ledgerTenant = randomUUID();
    for (const [kind, settings] of [['pc', pc], ['manual', { kind: 'manual' }]] as const) {
      stops.push((await startLicensingWorker(temporal, sim, queues[kind], settings, ledgerTenant)).stop);
    }
  });
  after(async () => {
    for (const stop of stops) await stop();
    await sim?.close();
    await temporal?.teardown();
  });

  async function startRun(name: string, phoneNumber: string, queue: string, options: Record<string, number> = {}): Promise<WorkflowHandle<typeof provisionResourceAccount>> {
    const upn = `${name}-${randomUUID().slice(0, 6)}@${DOMAIN}`;
    return temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue: queue,
      workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, upn),
      args: [{ tenantId: LOCAL_TENANT_ID, upn, displayName: name, kind: 'autoAttendant', usageLocation: 'US', phoneNumber, options: { licenseRecheckIntervalMs: 1000, ...options } }],
    });
  }

  const waitingWithOffer = (s: ProvisionResourceAccountStatus) => s.state === 'needs-attention' && s.attention?.purchase !== undefined;

  async function refused(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
    } catch (err) {
      assert.ok(err instanceof WorkflowUpdateFailedError, `an update refusal, got ${String(err)}`);
      return err.cause instanceof Error ? err.cause.message : err.message;
    }
    assert.fail('the update was accepted');
  }

  test('a run short of licenses offers a purchase, buys only on approval, and completes by itself when the seats arrive', async () => {
    await noneFree(sim);
    const ordersBefore = (await pcState(sim)).orders.length;
    const handle = await startRun('buy', '+12065550121', queues.pc);
    const waiting = await eventually('the purchase offer', () => handle.query(getStatusQuery), waitingWithOffer, 60_000);
    const purchase = waiting.attention?.purchase;
    assert.equal(purchase?.kind, 'partner-center');
    assert.equal(purchase?.canPurchase, true);
    assert.equal(purchase?.shortfall, 1);
    assert.equal(purchase?.ceilings?.perBatch, 5);
    assert.match(waiting.attention?.waitingFor ?? '', /approve a purchase of 1 through Partner Center/);
    assert.ok(waiting.attention?.howToDecide.some((line) => line.includes('dialtone approve-purchase')));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await pcState(sim)).orders.length, ordersBefore, 'nothing is bought before an approval');

    assert.match(await refused(handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 0, by: 'alice' }] })), /units must be a whole number ≥ 1/);
    assert.match(await refused(handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 6, by: 'alice' }] })), /per-batch ceiling of 5 \(DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH/);
    const accepted = await handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 2, by: 'alice', reason: 'new site' }] });
    assert.deepEqual(accepted, { accepted: true, units: 2 });

    const result = await handle.result();
    assert.equal(result.state, 'completed', JSON.stringify(result.steps.map((s) => [s.name, s.status, s.lastError?.message])));
    const retry = result.decisions.find((d) => d.automatic && d.decision === 'retry');
    assert.ok(retry, 'the run continued by itself once the seats were free');
    const orders = (await pcState(sim)).orders;
    assert.equal(orders.length, ordersBefore + 1, 'one order');
    assert.equal(orders[orders.length - 1]?.lineItems[0]?.quantity, 2);
  });

  test('once a purchase went through, a second approval in the same wait is refused: nothing is bought twice', async () => {
    await noneFree(sim);
    // Bought seats take their time to appear, so the run is still waiting when the second approval comes.
    await pcConfig(sim, { provisioningDelayMs: 600_000 });
    try {
      const purchases = async () => {
        const state = await pcState(sim);
        return state.orders.length + state.quantityChanges.length;
      };
      const before = await purchases();
      const handle = await startRun('twice', '+12065550127', queues.pc);
      await eventually('the purchase offer', () => handle.query(getStatusQuery), waitingWithOffer, 60_000);
      await handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 1, by: 'alice' }] });
      const bought = await eventually('the purchase made', () => handle.query(getStatusQuery), (s) => s.attention?.purchase?.approvals?.at(-1)?.state === 'bought', 60_000);
      assert.equal(bought.state, 'needs-attention', 'the run waits for the seats');
      const second = await refused(handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 1, by: 'bob' }] }));
      assert.match(second, /1 licenses were bought already in this wait \(approved by alice at .*\).*A second approval would buy them again, so it is refused/);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await purchases(), before + 1, 'one purchase (an order or a quantity change), not two');
      const status = await handle.query(getStatusQuery);
      assert.deepEqual(status.attention?.purchase?.approvals?.map((a) => [a.by, a.state]), [['alice', 'bought']], 'one approval, bought once');
      await handle.terminate('test done');
    } finally {
      await pcConfig(sim, { provisioningDelayMs: 500 });
    }
  });

  test('without an approval nothing is bought: the run abandons at its deadline', async () => {
    await noneFree(sim);
    const before = await pcState(sim);
    const handle = await startRun('noapprove', '+12065550122', queues.pc, { attentionTimeoutMs: 4000 });
    await eventually('the purchase offer', () => handle.query(getStatusQuery), waitingWithOffer, 60_000);
    const result = await handle.result();
    assert.equal(result.state, 'abandoned');
    const afterState = await pcState(sim);
    assert.equal(afterState.orders.length, before.orders.length, 'no order');
    assert.deepEqual(afterState.subscriptions.map((s) => s.quantity), before.subscriptions.map((s) => s.quantity), 'no quantity change');
  });

  test('a batch short of licenses buys its whole shortfall on one approval (raising the subscription) and runs its rows', async () => {
    await noneFree(sim);
    const before = await pcState(sim);
    const batchId = `lp-${randomUUID().slice(0, 8)}`;
    const rows: BatchRowRequest[] = ['b1', 'b2', 'b3'].map((name, i) => ({
      upn: `${name}-${batchId}@${DOMAIN}`, displayName: name, kind: 'autoAttendant', usageLocation: 'US', phoneNumber: `+1206555012${3 + i}`,
    }));
    const handle = await temporal.client.workflow.start<typeof provisionBatch>(BATCH_WORKFLOW_TYPE, {
      taskQueue: queues.pc,
      workflowId: batchWorkflowId(LOCAL_TENANT_ID, batchId),
      args: [{ tenantId: LOCAL_TENANT_ID, batchId, rows, options: { licenseRecheckIntervalMs: 1000 } }],
    });
    const waiting = await eventually('the batch offer', () => handle.query(getBatchProgressQuery), (p) => p.state === 'waiting-for-licenses' && p.licenses?.purchase !== undefined, 60_000);
    assert.equal(waiting.licenses?.short, 3);
    assert.match(waiting.message, /short of 3 Teams Phone Resource Account licenses .*approve a purchase through Partner Center/);
    assert.equal(waiting.licenses?.purchase?.offer?.via, 'subscription-quantity', 'the subscription the first test created is raised');
    assert.match(await refused(handle.executeUpdate(approveBatchLicensePurchaseUpdate, { args: [{ units: 2, by: 'bob' }] })), /at least the shortfall, 3/);
    await handle.executeUpdate(approveBatchLicensePurchaseUpdate, { args: [{ units: 3, by: 'bob', reason: 'batch' }] });
    const buying = await eventually('the purchase under way', () => handle.query(getBatchProgressQuery), (p) => p.state !== 'waiting-for-licenses' || /bought through Partner Center|buying 3 through Partner Center/.test(p.message), 30_000);
    if (buying.state === 'waiting-for-licenses') assert.match(buying.message, /approved by bob/);
    const result = await handle.result();
    assert.equal(result.progress.state, 'completed', result.progress.message);
    assert.equal(result.progress.counts.completed, 3);
    assert.ok(result.progress.controls.some((c) => c.action === 'license-purchase' && c.by === 'bob'));
    const afterState = await pcState(sim);
    assert.equal(afterState.orders.length, before.orders.length, 'no new order: a quantity change');
    const raised = afterState.quantityChanges.filter((c) => !before.quantityChanges.some((b) => b.id === c.id));
    assert.deepEqual(raised.map((c) => c.to - c.from), [3], 'one quantity change of 3');
  });

  test('with manual procurement the wait names the admin-center path and refuses approvals', async () => {
    await noneFree(sim);
    const handle = await startRun('manual', '+12065550127', queues.manual, { attentionTimeoutMs: 60_000 });
    const waiting = await eventually('the manual instructions', () => handle.query(getStatusQuery), waitingWithOffer, 60_000);
    assert.equal(waiting.attention?.purchase?.canPurchase, false);
    assert.match(waiting.attention?.waitingFor ?? '', /Billing > Purchase services/);
    assert.match(await refused(handle.executeUpdate(approveLicensePurchaseUpdate, { args: [{ units: 1, by: 'alice' }] })), /this worker buys no licenses \(procurement manual\)/);
    await handle.terminate('test over');
  });
});
