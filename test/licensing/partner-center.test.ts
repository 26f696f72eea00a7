/**
 * The partner-center adapter against the tenant simulator's Partner Center, with its ledger on a real
 * Temporal server: cart + checkout with the availability looked up at run time, a quantity increase
 * through 202 + Location, retries that never buy twice, the ceilings, and a refused app. The manual
 * adapter says where to buy and buys nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { ManualProcurement } from '../../activities/licensing/manual';
import { ProcurementError } from '../../activities/licensing/procurement';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { adapterFor, enabledUnits, eventually, pcConfig, pcReset, pcState, startLedgerWorker } from './helpers';

async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('partner-center adapter', () => {
  let sim: TestSimulator;
  let temporal: TestTemporal;
  let ledger: { taskQueue: string; stop(): Promise<void> };

  before(async () => {
    sim = await startTestSimulator();
    temporal = await startTestTemporal();
    ledger = await startLedgerWorker(temporal);
  });
  after(async () => {
    await ledger?.stop();
    await temporal?.teardown();
    await sim?.close();
  });
  beforeEach(async () => {
    await pcReset(sim);
    await pcConfig(sim, { provisioningDelayMs: 300, quantityChangeMs: 400 });
  });

  test('without a subscription it orders through a cart with a fresh availability; a retry with the same key buys nothing more', async () => {
    // Availability ids are reissued every 200 ms here: an id read earlier would be refused.
    await pcConfig(sim, { availabilityPeriodMs: 200 });
    const tenantId = randomUUID();
    const adapter = adapterFor(sim, temporal, ledger.taskQueue, { perBatch: 10, perDay: 20 }, tenantId);
    const described = await adapter.describe(3);
    assert.equal(described.offer?.via, 'cart');
    assert.match(described.offer?.catalogItemId ?? '', /^CFQ7TTC0SIM1:0001:CFQ7TTC0/);
    assert.deepEqual({ perBatch: described.ceilings?.perBatch, perDay: described.ceilings?.perDay, left: described.ceilings?.leftToday }, { perBatch: 10, perDay: 20, left: 20 });
    await new Promise((r) => setTimeout(r, 250));
    const before = await enabledUnits(sim);
    const key = `test:${randomUUID()}`;
    const first = await adapter.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: key });
    assert.equal(first.via, 'cart');
    assert.equal(first.alreadyDone, false);
    assert.ok(first.orderId);
    const again = await adapter.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: key });
    assert.equal(again.orderId, first.orderId, 'the same order, from the idempotent checkout');
    assert.equal(again.alreadyDone, true);
    const state = await pcState(sim);
    assert.equal(state.orders.length, 1, 'one order');
    assert.equal(state.carts.length, 1, 'one cart');
    assert.equal(state.subscriptions[0]?.quantity, 3);
    assert.equal(await enabledUnits(sim), before, 'seats are not assignable at once');
    await eventually('the bought seats reach subscribedSkus', () => enabledUnits(sim), (units) => units === before + 3);
  });

  test('with an active subscription it raises the quantity (202 + Location), once, to an absolute target', async () => {
    const tenantId = randomUUID();
    const adapter = adapterFor(sim, temporal, ledger.taskQueue, { perBatch: 10, perDay: 20 }, tenantId);
    await adapter.purchase({ units: 2, approvedBy: 'alice', idempotencyKey: `seed:${randomUUID()}` });
    const described = await adapter.describe(4);
    assert.equal(described.offer?.via, 'subscription-quantity');
    assert.equal(described.offer?.currentQuantity, 2);
    const key = `raise:${randomUUID()}`;
    const result = await adapter.purchase({ units: 4, approvedBy: 'bob', reason: 'batch q3', idempotencyKey: key });
    assert.deepEqual({ via: result.via, target: result.targetQuantity, done: result.alreadyDone }, { via: 'subscription-quantity', target: 6, done: false });
    const retried = await adapter.purchase({ units: 4, approvedBy: 'bob', idempotencyKey: key });
    assert.equal(retried.alreadyDone, true);
    assert.equal(retried.targetQuantity, 6, 'the stored target, not the current quantity + 4');
    const state = await pcState(sim);
    assert.equal(state.subscriptions.length, 1);
    assert.equal(state.subscriptions[0]?.quantity, 6);
    assert.deepEqual(state.quantityChanges.map((c) => [c.from, c.to, c.status]), [[2, 6, 'succeeded']], 'one quantity change');
  });

  test('a purchase over the per-batch ceiling is refused, naming the ceiling; nothing is bought', async () => {
    const adapter = adapterFor(sim, temporal, ledger.taskQueue, { perBatch: 5, perDay: 20 }, randomUUID());
    const err = await refusal(adapter.purchase({ units: 6, approvedBy: 'alice', idempotencyKey: `big:${randomUUID()}`, batchId: 'b1' }));
    assert.equal(err.type, ProcurementError.PurchaseCeilingExceeded);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /per-batch ceiling of 5 \(DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH\).*Nothing was bought.*Raise DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH/);
    // Two purchases of one batch count together.
    await adapter.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: `b1-1:${randomUUID()}`, batchId: 'b1' });
    const second = await refusal(adapter.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: `b1-2:${randomUUID()}`, batchId: 'b1' }));
    assert.equal(second.type, ProcurementError.PurchaseCeilingExceeded);
    assert.match(second.message, /for batch b1 is over the per-batch ceiling of 5/);
    assert.equal((await pcState(sim)).orders.length, 1, 'only the purchase within the ceiling');
  });

  test('the daily ceiling counts every purchase of the tenant that day, across adapters (workers)', async () => {
    const tenantId = randomUUID();
    const one = adapterFor(sim, temporal, ledger.taskQueue, { perBatch: 10, perDay: 8 }, tenantId);
    const other = adapterFor(sim, temporal, ledger.taskQueue, { perBatch: 10, perDay: 8 }, tenantId);
    await one.purchase({ units: 5, approvedBy: 'alice', idempotencyKey: `d1:${randomUUID()}` });
    const err = await refusal(other.purchase({ units: 4, approvedBy: 'bob', idempotencyKey: `d2:${randomUUID()}` }));
    assert.equal(err.type, ProcurementError.PurchaseCeilingExceeded);
    assert.match(err.message, /9 bought on \d{4}-\d{2}-\d{2} \(UTC\), over the daily ceiling of 8 \(DIALTONE_PURCHASE_MAX_UNITS_PER_DAY; 3 left today\)/);
    assert.equal((await other.describe(1)).ceilings?.leftToday, 3);
    const state = await pcState(sim);
    assert.equal(state.orders.length, 1);
    assert.equal(state.subscriptions[0]?.quantity, 5);
  });

  test('an app not registered in Partner Center is refused (401) and the refusal says what to do', async () => {
    await sim.app.inject({ method: 'PUT', url: `/_simulator/partner-center/apps/${sim.tenant.clientId}`, payload: { registered: false } });
    try {
      const adapter = adapterFor(sim, temporal, ledger.taskQueue, { perBatch: 10, perDay: 20 }, randomUUID());
      const err = await refusal(adapter.describe(1));
      assert.equal(err.type, ProcurementError.PurchaseDenied);
      assert.match(err.message, /401 \(code 400\).*App management/);
      assert.doesNotMatch(err.message, /eyJ/, 'no token in the message');
    } finally {
      await sim.app.inject({ method: 'PUT', url: `/_simulator/partner-center/apps/${sim.tenant.clientId}`, payload: { registered: true } });
    }
  });
});

describe('manual adapter', () => {
  test('describes the admin-center path and refuses to buy', async () => {
    const manual = new ManualProcurement();
    const described = await manual.describe(4);
    assert.equal(described.canPurchase, false);
    assert.match(described.instructions, /Buy 4 "Microsoft Teams Phone Resource Account" licenses.*Billing > Purchase services/);
    const err = await refusal(manual.purchase());
    assert.equal(err.type, ProcurementError.PurchaseNotSupported);
    assert.match(err.message, /DIALTONE_LICENSE_PROCUREMENT=partner-center/);
  });
});
