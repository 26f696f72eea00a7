/**
 * The partner-center adapter against the tenant simulator's Partner Center, with its ledger on a real
 * Temporal server: the offer found in a paged catalog by its documented identity (new-commerce product,
 * non-trial SKU, availability of the segment and term), cart + checkout with the availability looked up
 * at run time, a quantity increase answered 202 and followed by reading the subscription, retries that
 * never buy twice, the ceilings, and refusals of a token that is not the partner's registered app's. The
 * manual adapter says where to buy and buys nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { offerSelection } from '../../activities/licensing/activities';
import { ManualProcurement } from '../../activities/licensing/manual';
import { QUANTITY_CHANGE_PENDING } from '../../activities/licensing/partner-center';
import type { OfferSelection } from '../../activities/licensing/partner-center-offer';
import { ProcurementError } from '../../activities/licensing/procurement';
import { LOCAL_PARTNER_CLIENT_ID } from '../../lib/local-defaults';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { adapterFor, enabledUnits, eventually, pcClient, pcConfig, pcReset, pcSettings, pcState, resourceAccountSubscriptions, startLedgerWorker } from './helpers';

async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

const CEILINGS = { perBatch: 10, perDay: 20 };

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

  /** An adapter with its own ledger (one tenant id per test, so a retry in the same test finds its plan). */
  let ledgerTenant = randomUUID();
  beforeEach(() => {
    ledgerTenant = randomUUID();
  });
  const adapter = (options: Parameters<typeof adapterFor>[5] = {}, ceilings = CEILINGS) => adapterFor(sim, temporal, ledger.taskQueue, ceilings, ledgerTenant, options);
  const offer = (selection: Partial<OfferSelection>): OfferSelection => ({ ...offerSelection(pcSettings(sim, CEILINGS)), ...selection });
  const putCatalog = async (url: string, payload: object) => {
    const response = await sim.app.inject({ method: 'PUT', url: `/_simulator/partner-center/catalog/products/${url}`, payload });
    assert.equal(response.statusCode, 200, response.body);
  };
  const routes = async () => ((await sim.app.inject({ method: 'GET', url: '/_simulator/requests' })).json() as { routes: Array<{ method: string; route: string; count: number }> }).routes;
  const count = async (method: string, route: string) => (await routes()).find((r) => r.method === method && r.route === route)?.count ?? 0;
  /** Seeds the customer's resource-account subscription through a cart, as a first purchase would. */
  const seedSubscription = async (units: number) => {
    const seeded = await adapter().purchase({ units, approvedBy: 'alice', idempotencyKey: `seed:${randomUUID()}` });
    assert.equal(seeded.via, 'cart');
  };

  test('without a subscription it finds the offer in the paged catalog (new commerce, the commercial non-trial SKU) and orders through a cart; a retry with the same key buys nothing more', async () => {
    // Availability ids are reissued every 200 ms here: an id read earlier would be refused.
    await pcConfig(sim, { availabilityPeriodMs: 200 });
    const procurement = adapter();
    const productReads = await count('GET', '/v1/products');
    const described = await procurement.describe(3);
    assert.equal(described.offer?.via, 'cart');
    // Not the trial 0001, not the nonprofit availability listed first, not the traditional product of the same title.
    assert.match(described.offer?.catalogItemId ?? '', /^CFQ7TTC0SIM1:0002:CFQ7TTC0[0-9A-F]{4}$/);
    assert.equal((await pcState(sim)).catalogItemId.split(':').slice(0, 2).join(':'), 'CFQ7TTC0SIM1:0002');
    assert.match(described.instructions, /SKU "Teams Phone Resource Account", commercial, P1M, billed monthly/);
    assert.deepEqual({ perBatch: described.ceilings?.perBatch, perDay: described.ceilings?.perDay, left: described.ceilings?.leftToday }, { perBatch: 10, perDay: 20, left: 20 });
    assert.ok((await count('GET', '/v1/products')) - productReads >= 3, 'every page of the catalog was read');
    await new Promise((r) => setTimeout(r, 250));
    const before = await enabledUnits(sim);
    const key = `test:${randomUUID()}`;
    const first = await procurement.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: key });
    assert.equal(first.via, 'cart');
    assert.equal(first.alreadyDone, false);
    assert.ok(first.orderId);
    const again = await procurement.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: key });
    assert.equal(again.orderId, first.orderId, 'the same order, from the idempotent checkout');
    assert.equal(again.alreadyDone, true);
    const state = await pcState(sim);
    assert.equal(state.orders.length, 1, 'one order');
    assert.equal(state.carts.length, 1, 'one cart');
    assert.deepEqual(resourceAccountSubscriptions(state).map((s) => s.quantity), [3]);
    assert.equal(await enabledUnits(sim), before, 'seats are not assignable at once');
    await eventually('the bought seats reach subscribedSkus', () => enabledUnits(sim), (units) => units === before + 3);
  });

  test('with a subscription (on the second page of the customer\'s) it raises the quantity: 202, then the subscription is read until it is active at the target; once, to an absolute target', async () => {
    await seedSubscription(2);
    const procurement = adapter();
    const described = await procurement.describe(4);
    assert.equal(described.offer?.via, 'subscription-quantity');
    assert.equal(described.offer?.currentQuantity, 2);
    const SUBSCRIPTION = '/v1/customers/:customerId/subscriptions/:subscriptionId';
    const reads = await count('GET', SUBSCRIPTION);
    const key = `raise:${randomUUID()}`;
    const result = await procurement.purchase({ units: 4, approvedBy: 'bob', reason: 'batch q3', idempotencyKey: key });
    assert.deepEqual({ via: result.via, target: result.targetQuantity, done: result.alreadyDone }, { via: 'subscription-quantity', target: 6, done: false });
    assert.ok((await count('GET', SUBSCRIPTION)) - reads >= 2, 'the subscription was read again after the 202');
    assert.ok(!(await routes()).some((r) => r.route.includes('operations') || r.route === '(no route)'), 'no operation resource was asked for');
    const retried = await procurement.purchase({ units: 4, approvedBy: 'bob', idempotencyKey: key });
    assert.equal(retried.alreadyDone, true);
    assert.equal(retried.targetQuantity, 6, 'the stored target, not the current quantity + 4');
    const state = await pcState(sim);
    assert.deepEqual(resourceAccountSubscriptions(state).map((s) => [s.quantity, s.status]), [[6, 'active']]);
    assert.deepEqual(state.quantityChanges.map((c) => [c.from, c.to, c.status]), [[2, 6, 'succeeded']], 'one quantity change');
  });

  test('a change that has not shown within the attempt\'s budget fails the attempt as retryable; the retry reads the subscription and changes nothing more', async () => {
    await seedSubscription(2);
    await pcConfig(sim, { quantityChangeMs: 1_500 });
    const procurement = adapter({ quantityChangeBudgetMs: 300 });
    const key = `slow:${randomUUID()}`;
    const slow = await refusal(procurement.purchase({ units: 3, approvedBy: 'carol', idempotencyKey: key }));
    assert.equal(slow.type, QUANTITY_CHANGE_PENDING);
    assert.equal(slow.nonRetryable, false, 'retried, not given up');
    assert.match(slow.message, /has not finished raising subscription .* to 5 seats within 300 ms \(it shows 2, pending\); the purchase is retried/);
    // Another purchase meanwhile cannot plan from the quantity shown: it waits for the change too.
    const other = await refusal(procurement.purchase({ units: 1, approvedBy: 'dave', idempotencyKey: `other:${randomUUID()}` }));
    assert.equal(other.type, QUANTITY_CHANGE_PENDING);
    assert.match(other.message, /still changing the quantity of subscription .*nothing was bought/);
    const retried = await adapter({ quantityChangeBudgetMs: 10_000 }).purchase({ units: 3, approvedBy: 'carol', idempotencyKey: key });
    assert.equal(retried.targetQuantity, 5);
    const state = await pcState(sim);
    assert.deepEqual(state.quantityChanges.map((c) => [c.from, c.to, c.status]), [[2, 5, 'succeeded']], 'one PATCH for both attempts');
    assert.deepEqual(resourceAccountSubscriptions(state).map((s) => s.quantity), [5]);
  });

  test('an accepted change that did not happen is made again by the next attempt, to the same absolute quantity', async () => {
    await seedSubscription(2);
    await pcConfig(sim, { quantityChangeMs: 100, quantityChangeResult: 'failed' });
    const key = `lost:${randomUUID()}`;
    const lost = await refusal(adapter({ quantityChangeBudgetMs: 700 }).purchase({ units: 4, approvedBy: 'erin', idempotencyKey: key }));
    assert.equal(lost.type, QUANTITY_CHANGE_PENDING);
    assert.match(lost.message, /it shows 2, active/);
    await pcConfig(sim, { quantityChangeResult: 'succeeded' });
    const done = await adapter().purchase({ units: 4, approvedBy: 'erin', idempotencyKey: key });
    assert.equal(done.targetQuantity, 6);
    const state = await pcState(sim);
    assert.deepEqual(state.quantityChanges.map((c) => [c.from, c.to, c.status]), [[2, 6, 'failed'], [2, 6, 'succeeded']]);
    assert.deepEqual(resourceAccountSubscriptions(state).map((s) => s.quantity), [6], '6, not 10: the target is absolute');
  });

  test('the product is chosen among new-commerce products by title; two of one title are refused, naming them and DIALTONE_PARTNER_CENTER_PRODUCT_ID', async () => {
    await putCatalog('CFQ7TTC0DUP1', { title: 'Microsoft Teams Phone Resource Account', skus: [{ id: '0001', title: 'Resource Account (other)' }] });
    const err = await refusal(adapter().describe(1));
    assert.equal(err.type, ProcurementError.PurchaseOfferNotFound);
    assert.match(err.message, /has 2 new-commerce products titled "Microsoft Teams Phone Resource Account": CFQ7TTC0SIM1 .*CFQ7TTC0DUP1 .*Set DIALTONE_PARTNER_CENTER_PRODUCT_ID to the one to buy/);
    assert.doesNotMatch(err.message, /DZH318Z0SIM0/, 'the traditional product of that title is not a candidate');
    const chosen = await adapter({ offer: offer({ productId: 'CFQ7TTC0DUP1' }) }).describe(1);
    assert.match(chosen.offer?.catalogItemId ?? '', /^CFQ7TTC0DUP1:0001:/);
    const legacy = await refusal(adapter({ offer: offer({ productId: 'DZH318Z0SIM0' }) }).describe(1));
    assert.match(legacy.message, /DZH318Z0SIM0 .* is not a new-commerce product \(productType OnlineServices/);
    const none = await refusal(adapter({ offer: offer({ productTitle: 'Teams Phone Resource Account' }) }).describe(1));
    assert.match(none.message, /no new-commerce product titled "Teams Phone Resource Account".*DIALTONE_PARTNER_CENTER_PRODUCT_TITLE/);
  });

  test('the SKU is chosen by its identity: not a trial, with a purchasable availability of the segment and term; two candidates are refused, naming them and DIALTONE_PARTNER_CENTER_SKU_ID', async () => {
    assert.match((await adapter({ offer: offer({ segment: 'education' }) }).describe(1)).offer?.catalogItemId ?? '', /^CFQ7TTC0SIM1:0004:/);
    assert.match((await adapter({ offer: offer({ segment: 'nonprofit' }) }).describe(1)).offer?.catalogItemId ?? '', /^CFQ7TTC0SIM1:0002:/);
    const noTerm = await refusal(adapter({ offer: offer({ termDuration: 'P3Y', billingCycle: 'triennial' }) }).describe(1));
    assert.equal(noTerm.type, ProcurementError.PurchaseOfferNotFound);
    assert.match(noTerm.message, /No SKU of product CFQ7TTC0SIM1 .* has a purchasable commercial availability with term P3Y billed triennial .*0002 "Teams Phone Resource Account" \(nonprofit: P1Y\/annual, P1Y\/monthly, P1M\/monthly; commercial: .*Set DIALTONE_PARTNER_CENTER_SEGMENT, DIALTONE_PARTNER_CENTER_TERM and DIALTONE_PARTNER_CENTER_BILLING_CYCLE/);
    const trial = await refusal(adapter({ offer: offer({ skuId: '0001' }) }).describe(1));
    assert.match(trial.message, /CFQ7TTC0SIM1:0001 \("Microsoft Teams Phone Resource Account Trial"\) is a trial.*Set DIALTONE_PARTNER_CENTER_SKU_ID to a SKU that is not a trial: 0002 /);

    await sim.app.inject({ method: 'PUT', url: '/_simulator/partner-center/catalog/products/CFQ7TTC0SIM1/skus/0009', payload: { title: 'Teams Phone Resource Account (CSP)' } });
    const two = await refusal(adapter().describe(1));
    assert.match(two.message, /has 2 SKUs that could be bought as a commercial availability with term P1M billed monthly .*: 0002 "Teams Phone Resource Account", 0009 "Teams Phone Resource Account \(CSP\)"\. Set DIALTONE_PARTNER_CENTER_SKU_ID to the one to buy/);
    const picked = adapter({ offer: offer({ skuId: '0009' }) });
    assert.match((await picked.describe(1)).offer?.catalogItemId ?? '', /^CFQ7TTC0SIM1:0009:/);
    const bought = await picked.purchase({ units: 1, approvedBy: 'frank', idempotencyKey: `sku:${randomUUID()}` });
    assert.equal(bought.via, 'cart');
    assert.match((await pcState(sim)).orders[0]?.lineItems[0]?.offerId ?? '', /^CFQ7TTC0SIM1:0009:/);
  });

  test('a purchase over the per-batch ceiling is refused, naming the ceiling; nothing is bought', async () => {
    const procurement = adapter({}, { perBatch: 5, perDay: 20 });
    const err = await refusal(procurement.purchase({ units: 6, approvedBy: 'alice', idempotencyKey: `big:${randomUUID()}`, batchId: 'b1' }));
    assert.equal(err.type, ProcurementError.PurchaseCeilingExceeded);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /per-batch ceiling of 5 \(DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH\).*Nothing was bought.*Raise DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH/);
    // Two purchases of one batch count together.
    await procurement.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: `b1-1:${randomUUID()}`, batchId: 'b1' });
    const second = await refusal(procurement.purchase({ units: 3, approvedBy: 'alice', idempotencyKey: `b1-2:${randomUUID()}`, batchId: 'b1' }));
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
    assert.deepEqual(resourceAccountSubscriptions(state).map((s) => s.quantity), [5]);
  });

  test("Partner Center refuses (401) the customer tenant's app and an app not registered in Partner Center; the refusal says what to set", async () => {
    // The old behaviour: the token asked from the customer's tenant with the worker's app.
    const customerApp = { ...sim.tenant, credential: { kind: 'secret' as const, secret: 'simulator-only-client-secret' } };
    const fromCustomer = await refusal(adapter({ client: pcClient(sim, customerApp) }).describe(1));
    assert.equal(fromCustomer.type, ProcurementError.PurchaseDenied);
    assert.match(fromCustomer.message, /401 \(code 400\).*Invalid issuer or tenant.*asked from the partner's own tenant: check that app .* of tenant 8d3f1a52-.* is that app \(DIALTONE_PARTNER_CENTER_CLIENT_ID, DIALTONE_PARTNER_CENTER_TENANT_ID\)/);

    await sim.app.inject({ method: 'PUT', url: `/_simulator/partner-center/apps/${LOCAL_PARTNER_CLIENT_ID}`, payload: { registered: false } });
    const err = await refusal(adapter().describe(1));
    assert.equal(err.type, ProcurementError.PurchaseDenied);
    assert.match(err.message, /401 \(code 400\).*App management/);
    assert.doesNotMatch(err.message, /eyJ/, 'no token in the message');
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
