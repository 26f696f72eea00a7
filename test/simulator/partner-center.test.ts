/**
 * The simulator's Partner Center routes, with a manual clock: tokens only from the partner's tenant and
 * its registered app, documented shapes (collections paged with `links.next` and `MS-ContinuationToken`,
 * carts, checkout results, subscriptions), a catalog of many products with several SKUs, Partner Center's
 * error body and codes, availability ids that are reissued, carts that expire after 7 days, idempotent
 * checkout, quantity changes answered 202 with the subscription as `Location`, and bought seats that
 * reach the tenant only after a delay.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { LOCAL_CLIENT_ID, LOCAL_PARTNER_CLIENT_ID, LOCAL_PARTNER_CLIENT_SECRET, LOCAL_PARTNER_TENANT_ID, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { GRAPH_RESOURCE, PARTNER_CENTER_RESOURCE } from '../../lib/microsoft';
import { simulatorPerSuite } from './helpers';
import type { TestSimulator } from './helpers';

const DAY = 24 * 3600 * 1000;
const CUSTOMER = `/v1/customers/${LOCAL_TENANT_ID}`;
const PRODUCT = 'CFQ7TTC0SIM1';
const SKU = '0002';

interface Link {
  uri: string;
  method: string;
  headers: Array<{ key: string; value: string }>;
}
interface Page<T> {
  totalCount: number;
  items: T[];
  links: { self?: Link; next?: Link };
  attributes: { objectType: string };
}
interface Product { id: string; title: string; productType: { id: string } }
interface Sku { id: string; title: string; isTrial: boolean }
interface Availability { id: string; catalogItemId: string; segment: string; isPurchasable: boolean; terms: Array<{ duration: string; billingCycle: string }> }
type Subscription = Record<string, unknown> & { id: string; quantity: number; status: string; offerId: string };

describe('simulated Partner Center', () => {
  let sim: TestSimulator;
  simulatorPerSuite((s) => (sim = s));

  const partnerCredential = (clientId = LOCAL_PARTNER_CLIENT_ID, secret = LOCAL_PARTNER_CLIENT_SECRET) =>
    new ClientSecretCredential(LOCAL_PARTNER_TENANT_ID, clientId, secret, { authorityHost: sim.url, disableInstanceDiscovery: true });

  async function pc(path: string, init: { method?: string; body?: unknown; credential?: ClientSecretCredential; scope?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const token = await (init.credential ?? partnerCredential()).getToken(init.scope ?? `${PARTNER_CENTER_RESOURCE}/.default`);
    return fetch(`${sim.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token.token}`, ...init.headers, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  }
  /** Every page of a collection, following links.next as documented for Partner Center's paged collections. */
  async function all<T>(path: string): Promise<{ items: T[]; pages: Array<Page<T>> }> {
    const pages: Array<Page<T>> = [];
    let response = await pc(path);
    for (;;) {
      assert.equal(response.status, 200, await response.clone().text());
      const page = (await response.json()) as Page<T>;
      pages.push(page);
      const next = page.links.next;
      if (!next) break;
      response = await pc(`/v1${next.uri}`, { headers: Object.fromEntries(next.headers.map((h) => [h.key, h.value])) });
    }
    return { items: pages.flatMap((p) => p.items), pages };
  }
  async function reset(config: Record<string, unknown> = {}): Promise<void> {
    await sim.control('/partner-center/reset', { method: 'POST' });
    await sim.control('/partner-center/config', { method: 'PUT', body: config });
  }
  async function availability(segment = 'commercial'): Promise<Availability> {
    const item = (await all<Availability>(`/v1/products/${PRODUCT}/skus/${SKU}/availabilities?country=US`)).items.find((a) => a.segment === segment);
    assert.ok(item);
    return item;
  }
  async function enabled(): Promise<number> {
    const state = (await (await sim.control('/state')).json()) as { licenses: Array<{ skuPartNumber: string; enabled: number }> };
    return state.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.enabled ?? 0;
  }
  const line = (catalogItemId: string, quantity: number) => ({ lineItems: [{ id: 0, catalogItemId, quantity, billingCycle: 'monthly', termDuration: 'P1M' }] });
  const description = async (response: Response) => ((await response.json()) as { description: string }).description;

  test("tokens: only the partner tenant's registered app; the customer tenant's token, another audience or an unregistered app get 401 in Partner Center's error body", async () => {
    await reset();
    // The product's old behaviour: a Partner Center token asked from the customer's tenant with its app.
    const customerToken = await pc('/v1/products?country=US&targetView=OnlineServices', { credential: sim.credential() });
    assert.equal(customerToken.status, 401);
    assert.ok(customerToken.headers.get('www-authenticate'));
    const body = (await customerToken.json()) as { code: number; description: string; data: unknown[]; source: string };
    assert.deepEqual({ code: body.code, source: body.source, data: body.data }, { code: 400, source: 'PartnerFD', data: [] });
    assert.match(body.description, /Access denied.*Invalid issuer or tenant/);

    const graphToken = await pc('/v1/products?country=US&targetView=OnlineServices', { scope: `${GRAPH_RESOURCE}/.default` });
    assert.equal(graphToken.status, 401);
    assert.match(await description(graphToken), /Access denied.*audience/);

    // Each tenant knows only its own apps: the partner's app at the customer's token endpoint is AADSTS700016.
    const wrongTenant = new ClientSecretCredential(LOCAL_TENANT_ID, LOCAL_PARTNER_CLIENT_ID, LOCAL_PARTNER_CLIENT_SECRET, { authorityHost: sim.url, disableInstanceDiscovery: true });
    await assert.rejects(wrongTenant.getToken(`${PARTNER_CENTER_RESOURCE}/.default`), /AADSTS700016.*not found in the directory 'Contoso'/);
    await assert.rejects(partnerCredential(LOCAL_PARTNER_CLIENT_ID, 'wrong').getToken(`${PARTNER_CENTER_RESOURCE}/.default`), /AADSTS7000215/);
    await assert.rejects(partnerCredential(LOCAL_CLIENT_ID, 'x').getToken(`${PARTNER_CENTER_RESOURCE}/.default`), /AADSTS700016.*Fabrikam CSP/);

    assert.equal((await pc('/v1/products?country=US&targetView=OnlineServices')).status, 200);
    await sim.control(`/partner-center/apps/${LOCAL_PARTNER_CLIENT_ID}`, { method: 'PUT', body: { registered: false } });
    const unregistered = await pc('/v1/products?country=US&targetView=OnlineServices');
    assert.equal(unregistered.status, 401);
    assert.match(await description(unregistered), /not registered in the partner's Partner Center account/);
  });

  test('catalog: many products over several pages (links.next + MS-ContinuationToken), new commerce typed OnlineServicesNCE, OnlineServicesNCE is no targetView', async () => {
    await reset();
    const missing = await pc('/v1/products?targetView=OnlineServices');
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { code: number }).code, 400056);
    const nceView = await pc('/v1/products?country=US&targetView=OnlineServicesNCE');
    assert.equal(nceView.status, 400, 'OnlineServicesNCE is a productType, not a targetView');
    assert.match(await description(nceView), /targetView OnlineServicesNCE is not supported; use one of .*OnlineServices/);

    const { items: products, pages } = await all<Product>('/v1/products?country=US&targetView=OnlineServices');
    assert.ok(products.length >= 40, `several dozen products, got ${products.length}`);
    assert.ok(pages.length >= 3);
    const [first] = pages;
    assert.ok(first);
    assert.equal(first.totalCount, first.items.length, "totalCount counts the page's items");
    assert.equal(first.attributes.objectType, 'Collection');
    assert.match(first.links.next?.uri ?? '', /^\/products\?country=US&targetView=OnlineServices&seekOperation=Next$/);
    assert.equal(first.links.next?.headers[0]?.key, 'MS-ContinuationToken');
    assert.ok(!first.items.some((p) => p.id === PRODUCT), 'the resource-account product is not on the first page');
    const titled = products.filter((p) => p.title === 'Microsoft Teams Phone Resource Account');
    assert.deepEqual(titled.map((p) => [p.id, p.productType.id]).sort(), [[PRODUCT, 'OnlineServicesNCE'], ['DZH318Z0SIM0', 'OnlineServices']]);
    for (const title of ['Microsoft 365 Business Basic', 'Microsoft Teams Phone Standard', 'Microsoft Teams Rooms Pro']) {
      assert.ok(products.some((p) => p.title === title), title);
    }
    assert.equal(new Set(products.map((p) => p.id)).size, products.length, 'product ids are unique');

    const noToken = await pc('/v1/products?country=US&targetView=OnlineServices&seekOperation=Next');
    assert.equal(noToken.status, 400);
    assert.match(await description(noToken), /MS-ContinuationToken/);

    const skus = (await all<Sku>(`/v1/products/${PRODUCT}/skus?country=US`)).items;
    assert.deepEqual(skus.map((s) => [s.id, s.isTrial]), [['0001', true], ['0002', false], ['0003', false], ['0004', false]]);
    assert.ok(skus.every((s) => s.title !== 'Microsoft Teams Phone Resource Account'), 'no SKU is titled like the product');
    const availabilities = await all<Availability>(`/v1/products/${PRODUCT}/skus/${SKU}/availabilities?country=US`);
    assert.deepEqual(availabilities.items.map((a) => a.segment), ['nonprofit', 'commercial']);
    assert.equal(availabilities.pages.length, 2, 'one availability a page');
    const commercial = availabilities.items[1];
    assert.equal(commercial?.isPurchasable, true);
    assert.deepEqual(commercial?.terms.map((t) => `${t.duration}/${t.billingCycle}`), ['P1Y/Annual', 'P1Y/Monthly', 'P1M/Monthly']);
    const government = (await all<Availability>(`/v1/products/${PRODUCT}/skus/0003/availabilities?country=US`)).items;
    assert.deepEqual(government.map((a) => a.segment), ['government']);
    const unknown = await pc('/v1/products/CFQ7TTC0NONE/skus?country=US');
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: number }).code, 400013);
  });

  test('catalog: availability ids are reissued and an old one is refused in a cart; a term the availability does not offer is refused', async () => {
    await reset({ availabilityPeriodMs: 60_000 });
    const first = await availability();
    assert.match(first.catalogItemId, new RegExp(`^${PRODUCT}:${SKU}:${first.id}$`));
    sim.clock.advance(60_000);
    const second = await availability();
    assert.notEqual(second.id, first.id, 'reissued');
    const stale = await pc(`${CUSTOMER}/carts`, { method: 'POST', body: line(first.catalogItemId, 1) });
    assert.equal(stale.status, 400);
    assert.match(await description(stale), /not a current availability/);
    const triennial = await pc(`${CUSTOMER}/carts`, { method: 'POST', body: { lineItems: [{ id: 0, catalogItemId: second.catalogItemId, quantity: 1, billingCycle: 'triennial', termDuration: 'P3Y' }] } });
    assert.equal(triennial.status, 400);
    assert.match(await description(triennial), /P3Y with billingCycle triennial is not offered .*offered: P1Y\/Annual, P1Y\/Monthly, P1M\/Monthly/);
  });

  test('carts: 201, expire 7 days after creation; checkout 201 {orders, orderErrors}, idempotent; seats arrive after the provisioning delay', async () => {
    await reset({ provisioningDelayMs: 30_000 });
    const before = await enabled();
    const created = await pc(`${CUSTOMER}/carts`, { method: 'POST', body: line((await availability()).catalogItemId, 4) });
    assert.equal(created.status, 201);
    const cart = (await created.json()) as { id: string; status: string; creationTimeStamp: string; expirationTimeStamp: string };
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
    assert.match(await description(expired), /expired/);
  });

  test('subscriptions: paged, the offerId is the catalog item; PATCH → 202 with the subscription as Location (relative, no body, no Retry-After), pending with its old quantity, 409 meanwhile', async () => {
    await reset({ quantityChangeMs: 5_000, provisioningDelayMs: 0 });
    const { catalogItemId } = await availability();
    const cart = (await (await pc(`${CUSTOMER}/carts`, { method: 'POST', body: line(catalogItemId, 2) })).json()) as { id: string };
    await pc(`${CUSTOMER}/carts/${cart.id}/checkout`, { method: 'POST' });
    const { items, pages } = await all<Subscription>(`${CUSTOMER}/subscriptions`);
    assert.ok(pages.length >= 2, 'the customer holds other subscriptions: more than one page');
    assert.ok(!pages[0]?.items.some((s) => s.offerId.startsWith(`${PRODUCT}:`)), 'the new subscription is not on the first page');
    const subscription = items.find((s) => s.offerId.startsWith(`${PRODUCT}:${SKU}:`));
    assert.ok(subscription);
    assert.deepEqual([subscription.quantity, subscription.status, subscription.offerId], [2, 'active', catalogItemId]);

    const partial = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { quantity: 5 } });
    assert.equal(partial.status, 400);
    const decrease = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...subscription, quantity: 1 } });
    assert.equal(decrease.status, 400);
    assert.equal(((await decrease.json()) as { code: number }).code, 800090);
    const before = await enabled();
    const accepted = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...subscription, quantity: 5 } });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.headers.get('location'), `/customers/${LOCAL_TENANT_ID}/subscriptions/${subscription.id}`);
    assert.equal(accepted.headers.get('retry-after'), null);
    assert.equal(await accepted.text(), '');
    const read = async () => (await (await pc(`/v1${accepted.headers.get('location') ?? ''}`)).json()) as Subscription;
    assert.deepEqual([(await read()).quantity, (await read()).status], [2, 'pending'], 'the old quantity until it is done');
    const operations = await pc(`${CUSTOMER}/subscriptions/${subscription.id}/operations/anything`);
    assert.equal(operations.status, 404, 'no operation resource');
    const busy = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...subscription, quantity: 5 } });
    assert.equal(busy.status, 409);
    sim.clock.advance(5_000);
    assert.deepEqual([(await read()).quantity, (await read()).status], [5, 'active']);
    assert.equal(await enabled(), before + 3);

    await sim.control('/partner-center/config', { method: 'PUT', body: { quantityChangeResult: 'failed' } });
    const failing = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...(await read()), quantity: 7 } });
    assert.equal(failing.status, 202);
    sim.clock.advance(5_000);
    assert.deepEqual([(await read()).quantity, (await read()).status], [5, 'active'], 'a failed change leaves the old quantity, and says nothing');

    await sim.control('/partner-center/config', { method: 'PUT', body: { quantityChange: '200', quantityChangeResult: 'succeeded' } });
    const direct = await pc(`${CUSTOMER}/subscriptions/${subscription.id}`, { method: 'PATCH', body: { ...(await read()), quantity: 6 } });
    assert.equal(direct.status, 200);
    assert.equal(((await direct.json()) as { quantity: number }).quantity, 6);

    const other = await pc('/v1/customers/11111111-2222-3333-4444-555555555555/subscriptions');
    assert.equal(other.status, 403);
    assert.equal(((await other.json()) as { code: number }).code, 20002);
    const gone = await pc(`${CUSTOMER}/subscriptions/00000000-0000-0000-0000-000000000001`);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: number }).code, 20003);
  });

  test('control: a product or SKU can be added to the catalog, and page sizes set; reset restores the catalog', async () => {
    await reset({ pageSizes: { products: 100 } });
    const product = await sim.control('/partner-center/catalog/products/CFQ7TTC0DUP1', { method: 'PUT', body: { title: 'Microsoft Teams Phone Resource Account', skus: [{ id: '0001', title: 'Duplicate' }] } });
    assert.equal(product.status, 200, await product.text());
    const sku = await sim.control(`/partner-center/catalog/products/${PRODUCT}/skus/0009`, { method: 'PUT', body: { title: 'Second commercial SKU', segments: ['commercial'] } });
    assert.equal(sku.status, 200, await sku.text());
    const { pages, items } = await all<Product>('/v1/products?country=US&targetView=OnlineServices');
    assert.equal(pages.length, 1);
    assert.ok(items.some((p) => p.id === 'CFQ7TTC0DUP1'));
    assert.ok((await all<Sku>(`/v1/products/${PRODUCT}/skus?country=US`)).items.some((s) => s.id === '0009'));
    const bad = await sim.control(`/partner-center/catalog/products/${PRODUCT}/skus/0010`, { method: 'PUT', body: { title: '', segments: ['charity'] } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /body\.title must be a non-empty string; body\.segments must be a non-empty list of commercial, education, government, nonprofit/);
    await reset();
    assert.ok(!(await all<Product>('/v1/products?country=US&targetView=OnlineServices')).items.some((p) => p.id === 'CFQ7TTC0DUP1'));
  });
});
