/**
 * The simulator's Partner Center routes, with a manual clock: documented shapes (collections, carts,
 * checkout results, subscriptions), Partner Center's error body and codes, availability ids that are
 * reissued, carts that expire after 7 days, idempotent checkout, quantity changes through 202 +
 * Location, and bought seats that reach the tenant only after a delay.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientSecretCredential } from '@azure/identity';
import { LOCAL_CLIENT_ID, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { GRAPH_RESOURCE, PARTNER_CENTER_RESOURCE } from '../../lib/microsoft';
import { simulatorPerSuite } from './helpers';
import type { TestSimulator } from './helpers';

const DAY = 24 * 3600 * 1000;
const CUSTOMER = `/v1/customers/${LOCAL_TENANT_ID}`;

describe('simulated Partner Center', () => {
  let sim: TestSimulator;
  simulatorPerSuite((s) => (sim = s));

  async function pc(path: string, init: { method?: string; body?: unknown; credential?: ClientSecretCredential; scope?: string } = {}): Promise<Response> {
    const token = await (init.credential ?? sim.credential()).getToken(init.scope ?? `${PARTNER_CENTER_RESOURCE}/.default`);
    return fetch(`${sim.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token.token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  }
  async function reset(config: Record<string, unknown> = {}): Promise<void> {
    await sim.control('/partner-center/reset', { method: 'POST' });
    await sim.control('/partner-center/config', { method: 'PUT', body: config });
  }
  async function availability(): Promise<{ id: string; catalogItemId: string }> {
    const list = (await (await pc('/v1/products/CFQ7TTC0SIM1/skus/0001/availabilities?country=US')).json()) as { items: Array<{ id: string; catalogItemId: string }> };
    const item = list.items[0];
    assert.ok(item);
    return item;
  }
  async function enabled(): Promise<number> {
    const state = (await (await sim.control('/state')).json()) as { licenses: Array<{ skuPartNumber: string; enabled: number }> };
    return state.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.enabled ?? 0;
  }
  const line = (catalogItemId: string, quantity: number) => ({ lineItems: [{ id: 0, catalogItemId, quantity, billingCycle: 'monthly', termDuration: 'P1M' }] });

  test('tokens: another audience, or an app not registered in Partner Center, get 401 in Partner Center\'s error body', async () => {
    await reset();
    const graphToken = await pc('/v1/products?country=US&targetView=OnlineServicesNCE', { scope: `${GRAPH_RESOURCE}/.default` });
    assert.equal(graphToken.status, 401);
    assert.ok(graphToken.headers.get('www-authenticate'));
    const body = (await graphToken.json()) as { code: number; description: string; data: unknown[]; source: string };
    assert.deepEqual({ code: body.code, source: body.source, data: body.data }, { code: 400, source: 'PartnerFD', data: [] });
    assert.match(body.description, /Access denied.*audience/);
    await sim.control(`/partner-center/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { registered: false } });
    const unregistered = await pc('/v1/products?country=US&targetView=OnlineServicesNCE');
    assert.equal(unregistered.status, 401);
    assert.match(((await unregistered.json()) as { description: string }).description, /not registered in the partner's Partner Center account/);
  });

  test('catalog: country and targetView required; availability ids are reissued and an old one is refused in a cart', async () => {
    await reset({ availabilityPeriodMs: 60_000 });
    const missing = await pc('/v1/products?targetView=OnlineServicesNCE');
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { code: number }).code, 400056);
    const products = (await (await pc('/v1/products?country=US&targetView=OnlineServicesNCE')).json()) as { totalCount: number; items: Array<{ id: string; title: string }>; attributes: { objectType: string } };
    assert.equal(products.attributes.objectType, 'Collection');
    assert.equal(products.items[0]?.title, 'Microsoft Teams Phone Resource Account');
    const first = await availability();
    assert.equal(first.catalogItemId, `CFQ7TTC0SIM1:0001:${first.id}`);
    sim.clock.advance(60_000);
    const second = await availability();
    assert.notEqual(second.id, first.id, 'reissued');
    const stale = await pc(`${CUSTOMER}/carts`, { method: 'POST', body: line(first.catalogItemId, 1) });
    assert.equal(stale.status, 400);
    assert.match(((await stale.json()) as { description: string }).description, /not a current availability/);
  });

  test('carts: 201, expire 7 days after creation; checkout 201 {orders, orderErrors}, idempotent; seats arrive after the provisioning delay', async () => {
    await reset({ provisioningDelayMs: 30_000 });
    const before = await enabled();
    const created = await pc(`${CUSTOMER}/carts`, { method: 'POST', body: line((await availability()).catalogItemId, 4) });
    assert.equal(created.status, 201);
    const cart = (await created.json()) as { id: string; status: string; creationTimeStamp: string; expirationTimeStamp: string; lineItems: Array<{ quantity: number }> };
    assert.equal(cart.status, 'Active');
    assert.equal(Date.parse(cart.expirationTimeStamp) - Date.parse(cart.creationTimeStamp), 7 * DAY);
    const checkout = await pc(`${CUSTOMER}/carts/${cart.id}/checkout`, { method: 'POST' });
    assert.equal(checkout.status, 201);
    const result = (await checkout.json()) as { orders: Array<{ id: string; lineItems: Array<{ subscriptionId: string; quantity: number }> }>; orderErrors: unknown[] };
    assert.equal(result.orders.length, 1);
    assert.deepEqual(result.orderErrors, []);
    const again = await pc(`${CUSTOMER}/carts/${cart.id}/checkout`, { method: 'POST' });
    assert.equal(again.status, 201);
    assert.deepEqual(await again.json(), result, 'the first checkout\'s result, nothing bought again');
    const orders = (await (await pc(`${CUSTOMER}/orders`)).json()) as { totalCount: number };
    assert.equal(orders.totalCount, 1);
    assert.equal(((await (await pc(`${CUSTOMER}/carts/${cart.id}`)).json()) as { status: string }).status, 'Ordered');
    assert.equal(await enabled(), before, 'not assignable yet');
    sim.clock.advance(30_000);
    assert.equal(await enabled(), before + 4);

    const late = (await (await pc(`${CUSTOMER}/carts`, { method: 'POST', body: line((await availability()).catalogItemId, 1) })).json()) as { id: string };
    sim.clock.advance(7 * DAY);
    const expired = await pc(`${CUSTOMER}/carts/${late.id}/checkout`, { method: 'POST' });
    assert.equal(expired.status, 400);
    assert.match(((await expired.json()) as { description: string }).description, /expired/);
  });

  test('subscriptions: list and get; PATCH of the full resource → 202 + Location, 409 while it runs, no decrease; 200 mode; errors 403 20002 and 404 20003', async () => {
    await reset({ quantityChangeMs: 5_000, provisioningDelayMs: 0 });
    await pc(`${CUSTOMER}/carts/${((await (await pc(`${CUSTOMER}/carts`, { method: 'POST', body: line((await availability()).catalogItemId, 2) })).json()) as { id: string }).id}/checkout`, { method: 'POST' });
    const list = (await (await pc(`${CUSTOMER}/subscriptions`)).json()) as { items: Array<Record<string, unknown> & { id: string; quantity: number; status: string; offerId: string }> };
    const subscription = list.items[0];
    assert.ok(subscription);
    assert.deepEqual([subscription.quantity, subscription.status, subscription.offerId], [2, 'active', 'CFQ7TTC0SIM1:0001']);

    const partial = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { quantity: 5 } });
    assert.equal(partial.status, 400);
    const decrease = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...subscription, quantity: 1 } });
    assert.equal(decrease.status, 400);
    const before = await enabled();
    const accepted = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...subscription, quantity: 5 } });
    assert.equal(accepted.status, 202);
    const location = accepted.headers.get('location');
    assert.ok(location);
    assert.equal(((await (await pc(location)).json()) as { status: string }).status, 'inProgress');
    assert.equal(((await (await pc(`${CUSTOMER}/subscriptions/${subscription.id}`)).json()) as { quantity: number }).quantity, 2, 'the old quantity until it is done');
    const busy = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...subscription, quantity: 5 } });
    assert.equal(busy.status, 409);
    sim.clock.advance(5_000);
    assert.equal(((await (await pc(location)).json()) as { status: string }).status, 'succeeded');
    assert.equal(((await (await pc(`${CUSTOMER}/subscriptions/${subscription.id}`)).json()) as { quantity: number }).quantity, 5);
    assert.equal(await enabled(), before + 3);

    await sim.control('/partner-center/config', { method: 'PUT', body: { quantityChange: '200' } });
    const fresh = (await (await pc(`${CUSTOMER}/subscriptions/${subscription.id}`)).json()) as Record<string, unknown>;
    const direct = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...fresh, quantity: 6 } });
    assert.equal(direct.status, 200);
    assert.equal(((await direct.json()) as { quantity: number }).quantity, 6);

    const other = await pc('/v1/customers/11111111-2222-3333-4444-555555555555/subscriptions');
    assert.equal(other.status, 403);
    assert.equal(((await other.json()) as { code: number }).code, 20002);
    const gone = await pc(`${CUSTOMER}/subscriptions/00000000-0000-0000-0000-000000000001`);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: number }).code, 20003);
  });
});
