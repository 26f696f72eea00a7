/**
 * Partner Center REST (CSP partners), as far as buying Teams Phone Resource Account licenses goes:
 * - catalog: `GET /v1/products?country=&targetView=OnlineServices` (new-commerce products have
 *   `productType.id` `OnlineServicesNCE`; https://learn.microsoft.com/partner-center/developer/get-a-list-of-products),
 *   `/v1/products/{p}`, `/v1/products/{p}/skus`, `/v1/products/{p}/skus/{s}/availabilities`
 *   (https://learn.microsoft.com/partner-center/developer/get-a-list-of-availabilities-for-a-sku);
 *   availability ids are reissued on a schedule (https://learn.microsoft.com/partner-center/developer/get-an-availability-by-id)
 * - subscriptions: list, get, PATCH quantity → 200, or 202 with `Location` = the subscription itself, to be
 *   read again until its status and quantity have changed
 *   (https://learn.microsoft.com/partner-center/developer/change-the-quantity-of-a-subscription)
 * - carts: create (201, expire after 7 days), checkout (201 `{orders, orderErrors}`, idempotent per cart)
 *   (https://learn.microsoft.com/partner-center/developer/create-a-cart, …/checkout-a-cart)
 * - orders: list
 * Collections page with `links.next` and an `MS-ContinuationToken` header, as Partner Center's invoice
 * line items do (https://learn.microsoft.com/partner-center/developer/get-invoiceline-items); whether the
 * catalog and subscription lists page is UNKNOWN, so they do (the least convenient reading).
 * Errors use Partner Center's body `{code, description, data, source}` and codes from
 * https://learn.microsoft.com/partner-center/developer/error-codes. Tokens: audience
 * https://api.partnercenter.microsoft.com, issued by the partner's tenant to an app registered in the
 * partner's Partner Center account (https://learn.microsoft.com/partner-center/developer/partner-center-authentication).
 * Control: `/_simulator/partner-center` (state), `…/config`, `…/apps/{clientId}`, `…/catalog/products/…`, `…/reset`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PARTNER_CENTER_RESOURCE } from '../../lib/microsoft';
import type { SimulatorContext } from '../context';
import { GraphApiError } from '../errors';
import { LEGACY_PRODUCT_TYPE, NCE_PRODUCT_TYPE, RESOURCE_ACCOUNT_PRODUCT, SEGMENTS, skuFromBody, skuProblems } from '../partner-center-catalog';
import type { CatalogProduct, CatalogSku, ProductTypeId, Segment } from '../partner-center-catalog';
import { CART_LIFETIME_MS, partnerCenterOf, resetPartnerCenter } from '../partner-center-state';
import type { ListedAvailability, PageSizes, PartnerCenterState, PcCart, PcCartLineItem, PcOrder, PcSubscription } from '../partner-center-state';
import { CONTROL_PREFIX } from './control';

/** Partner Center's error: `{code, description, data, source}`. */
export class PartnerCenterError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: number,
    description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

const accessDenied = (why: string) =>
  new PartnerCenterError(401, 400, `Access denied: ${why}`, { 'www-authenticate': 'OAuth realm=urn:cpsvc:cpid:simulated' });
const invalidInput = (description: string) => new PartnerCenterError(400, 400056, description);
const notFound = (description: string) => new PartnerCenterError(404, 1000, description);

/** targetView values of "Get a list of products" (DOC); only OnlineServices lists license-based products. */
const TARGET_VIEWS = [
  'Azure', 'AzureReservations', 'AzureReservationsVM', 'AzureReservationsSQL', 'AzureReservationsCosmosDb', 'MicrosoftAzure',
  'OnlineServices', 'Software', 'SoftwareSUSELinux', 'SoftwarePerpetual', 'SoftwareSubscriptions',
] as const;

/** The request header that carries a collection's continuation token to its next page. */
const CONTINUATION_HEADER = 'ms-continuationtoken';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on Partner Center routes: the authenticated app's client id. */
    partnerCenterApp?: string;
  }
}

export async function partnerCenterRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  await app.register(async (pc) => {
    pc.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      if (error instanceof PartnerCenterError) return sendError(reply, error);
      const status = error.statusCode ?? 500;
      return sendError(reply, new PartnerCenterError(status, status < 500 ? 400056 : 0, status < 500 ? error.message : 'An unexpected error occurred.'));
    });
    pc.addHook('onRequest', async (request: FastifyRequest) => {
      let claims;
      try {
        // Only the partner's tenant issues tokens Partner Center takes: a token of the customer's tenant is refused.
        claims = context.tokens.verify(request.headers.authorization, PARTNER_CENTER_RESOURCE, context.options.partner.tenantId);
      } catch (err) {
        throw accessDenied(err instanceof GraphApiError ? err.message : 'the access token is not valid');
      }
      const state = partnerCenterOf(context);
      if (!state.registeredApps.has(claims.appid.toLowerCase())) {
        throw accessDenied(`the application ${claims.appid} is not registered in the partner's Partner Center account (Account settings > App management)`);
      }
      state.advance();
      request.partnerCenterApp = claims.appid;
    });

    const customer = (request: FastifyRequest<{ Params: { customerId: string } }>): PartnerCenterState => {
      const { customerId } = request.params;
      if (customerId.toLowerCase() !== context.options.tenantId.toLowerCase()) {
        throw new PartnerCenterError(403, 20002, `Partner ID has no commerce relationship with customer ID ${customerId}.`);
      }
      return partnerCenterOf(context);
    };

    // ---- catalog ----
    const requireCountry = (query: { country?: string }) => {
      if (!query.country || !/^[A-Za-z]{2}$/.test(query.country)) throw invalidInput('The country query parameter is required (a two-letter ISO country code).');
    };
    const segmentOf = (query: { targetSegment?: string }): Segment | undefined => {
      if (query.targetSegment === undefined) return undefined;
      const segment = SEGMENTS.find((s) => s === query.targetSegment?.toLowerCase());
      if (!segment) throw invalidInput(`The targetSegment ${query.targetSegment} is not supported; use one of ${SEGMENTS.join(', ')}.`);
      return segment;
    };
    const findProduct = (productId: string): CatalogProduct => {
      const product = partnerCenterOf(context).product(productId);
      if (!product) throw new PartnerCenterError(404, 400013, `The parent product ${productId} was not found.`);
      return product;
    };
    const findSku = (product: CatalogProduct, skuId: string): CatalogSku => {
      const sku = product.skus.find((s) => s.id === skuId);
      if (!sku) throw new PartnerCenterError(404, 400018, `The SKU ${skuId} of product ${product.id} was not found.`);
      return sku;
    };
    type CatalogQuery = { country?: string; targetView?: string; targetSegment?: string; seekOperation?: string };
    pc.get<{ Querystring: CatalogQuery }>('/v1/products', async (request) => {
      requireCountry(request.query);
      const { targetView } = request.query;
      if (!targetView) throw invalidInput('The targetView query parameter is required (for example OnlineServices).');
      // OnlineServicesNCE is a productType, not a targetView (get-a-list-of-products).
      const view = TARGET_VIEWS.find((v) => v.toLowerCase() === targetView.toLowerCase());
      if (!view) throw invalidInput(`The targetView ${targetView} is not supported; use one of ${TARGET_VIEWS.join(', ')}.`);
      const segment = segmentOf(request.query);
      const country = request.query.country as string;
      const products = view === 'OnlineServices'
        ? partnerCenterOf(context).catalog.filter((p) => !segment || p.skus.some((s) => s.availabilities.some((a) => a.segment === segment)))
        : [];
      return paged(request, products.map((p) => productView(p, country)), partnerCenterOf(context).config.pageSizes.products);
    });
    pc.get<{ Params: { productId: string }; Querystring: CatalogQuery }>('/v1/products/:productId', async (request) => {
      requireCountry(request.query);
      return productView(findProduct(request.params.productId), request.query.country as string);
    });
    pc.get<{ Params: { productId: string }; Querystring: CatalogQuery }>('/v1/products/:productId/skus', async (request) => {
      requireCountry(request.query);
      const product = findProduct(request.params.productId);
      const segment = segmentOf(request.query);
      const skus = product.skus.filter((s) => !segment || s.availabilities.some((a) => a.segment === segment));
      return paged(request, skus.map((s) => skuView(product, s, request.query.country as string)), partnerCenterOf(context).config.pageSizes.skus);
    });
    pc.get<{ Params: { productId: string; skuId: string }; Querystring: CatalogQuery }>('/v1/products/:productId/skus/:skuId/availabilities', async (request) => {
      requireCountry(request.query);
      const product = findProduct(request.params.productId);
      const sku = findSku(product, request.params.skuId);
      const segment = segmentOf(request.query);
      const listed = partnerCenterOf(context).availabilities(sku, product).filter((a) => !segment || a.segment === segment);
      return paged(request, listed.map((a) => availabilityView(a, request.query.country as string)), partnerCenterOf(context).config.pageSizes.availabilities);
    });

    // ---- subscriptions ----
    pc.get<{ Params: { customerId: string }; Querystring: { seekOperation?: string } }>('/v1/customers/:customerId/subscriptions', async (request) => {
      const state = customer(request);
      return paged(request, [...state.subscriptions.values()].map((s) => subscriptionView(s, request.params.customerId)), partnerCenterOf(context).config.pageSizes.subscriptions);
    });
    const findSubscription = (state: PartnerCenterState, id: string): PcSubscription => {
      const subscription = state.subscriptions.get(id.toLowerCase());
      if (!subscription) throw new PartnerCenterError(404, 20003, `Subscription with ID ${id} not found.`);
      return subscription;
    };
    pc.get<{ Params: { customerId: string; subscriptionId: string } }>('/v1/customers/:customerId/subscriptions/:subscriptionId', async (request) => {
      const state = customer(request);
      return subscriptionView(findSubscription(state, request.params.subscriptionId), request.params.customerId);
    });
    pc.patch<{ Params: { customerId: string; subscriptionId: string }; Body: unknown }>('/v1/customers/:customerId/subscriptions/:subscriptionId', async (request, reply) => {
      const state = customer(request);
      const subscription = findSubscription(state, request.params.subscriptionId);
      const body = (request.body ?? {}) as Partial<PcSubscription>;
      // "A full subscription resource is required in the request body" (change-the-quantity-of-a-subscription).
      if (typeof body.id !== 'string' || body.id.toLowerCase() !== subscription.id || typeof body.offerId !== 'string') {
        throw invalidInput('The request body must be the full subscription resource (id, offerId, quantity, …) as GET returns it.');
      }
      const quantity = body.quantity;
      if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > 100_000) {
        throw new PartnerCenterError(400, 3000, 'Invalid property: quantity must be a whole number from 1 to 100000.');
      }
      if (subscription.status === 'pending') throw new PartnerCenterError(409, 800031, `A change to subscription ${subscription.id} is in progress; try again when it has finished.`);
      if (subscription.status !== 'active') throw new PartnerCenterError(409, 800030, `Subscription ${subscription.id} is ${subscription.status}; only an active subscription can change quantity.`);
      if (quantity < subscription.quantity) {
        // New-commerce seats can only be reduced in the first days of a term; refused here (the least convenient case).
        throw new PartnerCenterError(400, 800090, `Subscription quantity cannot be decreased (${subscription.id}: ${subscription.quantity} to ${quantity}).`);
      }
      if (quantity === subscription.quantity) return subscriptionView(subscription, request.params.customerId);
      if (state.config.quantityChange === '200') {
        state.schedule(quantity - subscription.quantity);
        subscription.quantity = quantity;
        return subscriptionView(subscription, request.params.customerId);
      }
      const now = context.now();
      const change = { id: state.newId(), subscriptionId: subscription.id, from: subscription.quantity, to: quantity, acceptedAt: now, completesAt: now + state.quantityChangeDelay(), status: 'inProgress' as const };
      state.changes.set(change.id, change);
      // Until the change is done the subscription keeps its old quantity and reads `pending`.
      subscription.status = 'pending';
      // As documented: the Location is the subscription itself, relative and without /v1; no body, no Retry-After.
      return reply.code(202).header('location', `/customers/${request.params.customerId}/subscriptions/${subscription.id}`).send();
    });

    // ---- carts and orders ----
    pc.post<{ Params: { customerId: string }; Body: unknown }>('/v1/customers/:customerId/carts', async (request, reply) => {
      const state = customer(request);
      const body = (request.body ?? {}) as { lineItems?: unknown };
      if (!Array.isArray(body.lineItems) || body.lineItems.length === 0) throw invalidInput('A cart needs at least one line item (lineItems).');
      const lineItems: PcCartLineItem[] = body.lineItems.map((raw: unknown, index) => lineItem(state, raw, index));
      const now = context.now();
      const cart: PcCart = {
        id: state.newId(),
        creationTimeStamp: state.iso(now),
        lastModifiedTimeStamp: state.iso(now),
        expirationTimeStamp: state.iso(now + CART_LIFETIME_MS),
        lastModifiedUser: request.partnerCenterApp ?? '',
        lineItems,
        status: 'Active',
      };
      state.carts.set(cart.id, cart);
      return reply.code(201).send(cartView(cart));
    });
    const findCart = (state: PartnerCenterState, id: string): PcCart => {
      const cart = state.carts.get(id.toLowerCase());
      if (!cart) throw notFound(`Cart ${id} was not found.`);
      return cart;
    };
    pc.get<{ Params: { customerId: string; cartId: string } }>('/v1/customers/:customerId/carts/:cartId', async (request) => cartView(findCart(customer(request), request.params.cartId)));
    pc.post<{ Params: { customerId: string; cartId: string } }>('/v1/customers/:customerId/carts/:cartId/checkout', async (request, reply) => {
      const state = customer(request);
      const cart = findCart(state, request.params.cartId);
      // Idempotent: a cart checked out before answers with the first checkout's result (checkout-a-cart).
      if (cart.checkout) return reply.code(201).send(cart.checkout);
      if (Date.parse(cart.expirationTimeStamp) <= context.now()) throw invalidInput(`Cart ${cart.id} expired at ${cart.expirationTimeStamp} (carts expire 7 days after creation).`);
      const order: PcOrder = {
        id: state.newId().replaceAll('-', '').slice(0, 20),
        referenceCustomerId: request.params.customerId,
        billingCycle: cart.lineItems[0]?.billingCycle ?? 'monthly',
        currencyCode: 'USD',
        lineItems: [],
        creationDate: state.iso(),
        status: 'completed',
      };
      for (const [index, item] of cart.lineItems.entries()) {
        const [productId = '', skuId = ''] = item.catalogItemId.split(':');
        const product = state.product(productId);
        const sku = product?.skus.find((s) => s.id === skuId);
        if (!product || !sku) throw invalidInput(`lineItems[${index}].catalogItemId ${item.catalogItemId} is no longer in the catalog.`);
        const subscription = state.addSubscription({ catalogItemId: item.catalogItemId, product, sku }, {
          quantity: item.quantity, termDuration: item.termDuration, billingCycle: item.billingCycle, orderId: order.id, ...(item.friendlyName ? { friendlyName: item.friendlyName } : {}),
        });
        order.lineItems.push({ lineItemNumber: index, offerId: item.catalogItemId, subscriptionId: subscription.id, termDuration: item.termDuration, quantity: item.quantity });
        state.schedule(item.quantity);
      }
      state.orders.set(order.id, order);
      cart.status = 'Ordered';
      cart.lastModifiedTimeStamp = state.iso();
      cart.checkout = { orders: [orderView(order)], orderErrors: [], attributes: { objectType: 'CartCheckoutResult' } };
      return reply.code(201).send(cart.checkout);
    });
    pc.get<{ Params: { customerId: string } }>('/v1/customers/:customerId/orders', async (request) => {
      const state = customer(request);
      return collection([...state.orders.values()].map(orderView), 'Order');
    });
  });

  // ---- control (no authentication, like the rest of the control API) ----
  app.get(`${CONTROL_PREFIX}/partner-center`, async () => {
    const state = partnerCenterOf(context);
    state.advance();
    return {
      config: state.config,
      partnerTenantId: context.options.partner.tenantId,
      catalogItemId: state.catalogItemId(RESOURCE_ACCOUNT_PRODUCT.productId, RESOURCE_ACCOUNT_PRODUCT.skuId),
      products: state.catalog.length,
      registeredApps: [...state.registeredApps],
      subscriptions: [...state.subscriptions.values()],
      carts: [...state.carts.values()].map(({ checkout: _checkout, ...cart }) => cart),
      orders: [...state.orders.values()],
      quantityChanges: [...state.changes.values()],
      pendingSeats: state.pendingSeats(),
    };
  });
  app.put<{ Body: unknown }>(`${CONTROL_PREFIX}/partner-center/config`, async (request, reply) => {
    const state = partnerCenterOf(context);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const problems: string[] = [];
    const ms = (name: string, min: number) => {
      const value = body[name];
      if (value === undefined) return undefined;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min) problems.push(`${name} must be a number of ms ≥ ${min}`);
      return value as number;
    };
    const availabilityPeriodMs = ms('availabilityPeriodMs', 1);
    const provisioningDelayMs = ms('provisioningDelayMs', 0);
    const quantityChangeMs = ms('quantityChangeMs', 0);
    if (body.quantityChange !== undefined && body.quantityChange !== '200' && body.quantityChange !== '202') problems.push('quantityChange must be "200" or "202"');
    if (body.quantityChangeResult !== undefined && body.quantityChangeResult !== 'succeeded' && body.quantityChangeResult !== 'failed') {
      problems.push('quantityChangeResult must be "succeeded" or "failed"');
    }
    const pageSizes = body.pageSizes as Partial<Record<keyof PageSizes, unknown>> | undefined;
    const pageNames = Object.keys(state.config.pageSizes);
    if (pageSizes !== undefined) {
      if (typeof pageSizes !== 'object' || pageSizes === null || Object.entries(pageSizes).some(([k, v]) => !pageNames.includes(k) || !Number.isInteger(v) || (v as number) < 1)) {
        problems.push(`pageSizes must be an object with any of ${pageNames.join(', ')}, each a whole number ≥ 1`);
      }
    }
    if (problems.length > 0) return reply.code(400).send({ error: { code: 'InvalidConfig', message: problems.join('; ') } });
    state.config = {
      ...state.config,
      ...(availabilityPeriodMs !== undefined ? { availabilityPeriodMs } : {}),
      ...(provisioningDelayMs !== undefined ? { provisioningDelayMs } : {}),
      ...(quantityChangeMs !== undefined ? { quantityChangeMs } : {}),
      ...(body.quantityChange !== undefined ? { quantityChange: body.quantityChange as '200' | '202' } : {}),
      ...(body.quantityChangeResult !== undefined ? { quantityChangeResult: body.quantityChangeResult as 'succeeded' | 'failed' } : {}),
      pageSizes: { ...state.config.pageSizes, ...(pageSizes as Partial<PageSizes> | undefined) },
    };
    return state.config;
  });
  app.put<{ Params: { clientId: string }; Body: { registered?: unknown } }>(`${CONTROL_PREFIX}/partner-center/apps/:clientId`, async (request, reply) => {
    const registered = request.body?.registered;
    if (typeof registered !== 'boolean') return reply.code(400).send({ error: { code: 'InvalidConfig', message: 'registered must be true or false' } });
    const state = partnerCenterOf(context);
    if (registered) state.registeredApps.add(request.params.clientId.toLowerCase());
    else state.registeredApps.delete(request.params.clientId.toLowerCase());
    return { clientId: request.params.clientId, registered };
  });
  // The catalog can be changed, so a test can give a customer two products of one title, or a second SKU.
  app.put<{ Params: { productId: string }; Body: unknown }>(`${CONTROL_PREFIX}/partner-center/catalog/products/:productId`, async (request, reply) => {
    const body = (request.body ?? {}) as { title?: unknown; productType?: unknown; skus?: unknown };
    const problems: string[] = [];
    if (typeof body.title !== 'string' || body.title.trim() === '') problems.push('title must be a non-empty string');
    if (body.productType !== undefined && body.productType !== NCE_PRODUCT_TYPE && body.productType !== LEGACY_PRODUCT_TYPE) {
      problems.push(`productType must be ${NCE_PRODUCT_TYPE} or ${LEGACY_PRODUCT_TYPE}`);
    }
    const skus = body.skus ?? [];
    if (!Array.isArray(skus)) problems.push('skus must be a list of {id, title, isTrial?, segments?}');
    else skus.forEach((raw: unknown, i) => {
      problems.push(...skuProblems(raw, `skus[${i}]`));
      if (typeof (raw as { id?: unknown })?.id !== 'string') problems.push(`skus[${i}].id must be a string`);
    });
    if (problems.length > 0) return reply.code(400).send({ error: { code: 'InvalidConfig', message: problems.join('; ') } });
    const state = partnerCenterOf(context);
    const product: CatalogProduct = {
      id: request.params.productId,
      title: body.title as string,
      description: `${body.title as string}.`,
      productTypeId: (body.productType as ProductTypeId | undefined) ?? NCE_PRODUCT_TYPE,
      skus: (skus as Array<{ id: string }>).map((raw) => skuFromBody(raw.id, raw)),
    };
    const index = state.catalog.findIndex((p) => p.id.toLowerCase() === product.id.toLowerCase());
    if (index >= 0) state.catalog[index] = product;
    else state.catalog.push(product);
    return { id: product.id, title: product.title, productType: product.productTypeId, skus: product.skus.map((s) => s.id) };
  });
  app.put<{ Params: { productId: string; skuId: string }; Body: unknown }>(`${CONTROL_PREFIX}/partner-center/catalog/products/:productId/skus/:skuId`, async (request, reply) => {
    const state = partnerCenterOf(context);
    const product = state.product(request.params.productId);
    if (!product) return reply.code(404).send({ error: { code: 'NotFound', message: `No product ${request.params.productId} in the catalog` } });
    const problems = skuProblems(request.body, 'body');
    if (problems.length > 0) return reply.code(400).send({ error: { code: 'InvalidConfig', message: problems.join('; ') } });
    const sku = skuFromBody(request.params.skuId, request.body);
    const index = product.skus.findIndex((s) => s.id === sku.id);
    if (index >= 0) product.skus[index] = sku;
    else product.skus.push(sku);
    return { productId: product.id, skuId: sku.id, title: sku.title, isTrial: sku.isTrial, segments: sku.availabilities.map((a) => a.segment) };
  });
  app.delete<{ Params: { productId: string } }>(`${CONTROL_PREFIX}/partner-center/catalog/products/:productId`, async (request, reply) => {
    const state = partnerCenterOf(context);
    const before = state.catalog.length;
    state.catalog = state.catalog.filter((p) => p.id.toLowerCase() !== request.params.productId.toLowerCase());
    if (state.catalog.length === before) return reply.code(404).send({ error: { code: 'NotFound', message: `No product ${request.params.productId} in the catalog` } });
    return reply.code(204).send();
  });
  app.post(`${CONTROL_PREFIX}/partner-center/reset`, async () => {
    resetPartnerCenter(context);
    return { reset: true };
  });
}

/** Runs what is due in Partner Center (for the app's onRequest hook, so Graph sees bought seats in time). */
export function advancePartnerCenter(context: SimulatorContext): void {
  partnerCenterOf(context).advance();
}

function sendError(reply: FastifyReply, error: PartnerCenterError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
  return reply.code(error.statusCode).send({ code: error.code, description: error.message, data: [], source: 'PartnerFD' });
}

/**
 * One page of a collection. The next page is asked for with `seekOperation=Next` and the token in the
 * `MS-ContinuationToken` header, which `links.next` carries (as Partner Center's invoice line items page,
 * get-invoiceline-items); `totalCount` counts the page's items, as in that example.
 */
function paged(request: FastifyRequest, items: object[], size: number): object {
  const url = new URL(request.url, 'https://api.partnercenter.microsoft.com');
  const next = url.searchParams.get('seekOperation');
  url.searchParams.delete('seekOperation');
  // Links are relative and lack the /v1 prefix, as in Partner Center's answers.
  const self = `${url.pathname.replace(/^\/v1/, '')}${url.search}`;
  let offset = 0;
  if (next !== null) {
    if (next.toLowerCase() !== 'next') throw invalidInput(`seekOperation ${next} is not supported; use Next with the ${CONTINUATION_HEADER} header links.next names.`);
    const token = request.headers[CONTINUATION_HEADER];
    const decoded = typeof token === 'string' ? decodeContinuation(token) : undefined;
    if (!decoded || decoded.self !== self) {
      throw invalidInput(`seekOperation=Next needs the MS-ContinuationToken header that links.next of the previous page carries.`);
    }
    offset = decoded.offset;
  }
  const page = items.slice(offset, offset + size);
  const links: Record<string, object> = { self: { uri: self, method: 'GET', headers: [] } };
  let continuationToken: string | undefined;
  if (offset + size < items.length) {
    continuationToken = Buffer.from(JSON.stringify({ offset: offset + size, self })).toString('base64url');
    links.next = { uri: `${self}${self.includes('?') ? '&' : '?'}seekOperation=Next`, method: 'GET', headers: [{ key: 'MS-ContinuationToken', value: continuationToken }] };
  }
  return { totalCount: page.length, items: page, ...(continuationToken ? { continuationToken } : {}), links, attributes: { objectType: 'Collection' } };
}

function decodeContinuation(token: string): { offset: number; self: string } | undefined {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown; self?: unknown };
    return Number.isInteger(value.offset) && typeof value.self === 'string' ? { offset: value.offset as number, self: value.self } : undefined;
  } catch {
    return undefined;
  }
}

function collection(items: object[], objectType: string): object {
  return { totalCount: items.length, items, links: {}, attributes: { objectType: 'Collection', itemType: objectType } };
}

function productView(product: CatalogProduct, country: string): object {
  return {
    id: product.id,
    title: product.title,
    description: product.description,
    productType: { id: product.productTypeId, displayName: product.productTypeId },
    isMicrosoftProduct: true,
    publisherName: 'Microsoft Corporation',
    links: {
      skus: { uri: `/products/${product.id}/skus?country=${country}`, method: 'GET', headers: [] },
      self: { uri: `/products/${product.id}?country=${country}`, method: 'GET', headers: [] },
    },
  };
}

function skuView(product: CatalogProduct, sku: CatalogSku, country: string): object {
  return {
    id: sku.id,
    productId: product.id,
    title: sku.title,
    description: sku.description,
    minimumQuantity: sku.minimumQuantity,
    maximumQuantity: sku.maximumQuantity,
    isTrial: sku.isTrial,
    supportedBillingCycles: [...new Set(sku.availabilities.flatMap((a) => a.terms.map((t) => t.billingCycle.toLowerCase())))],
    purchasePrerequisites: ['MicrosoftCloudAgreement'],
    dynamicAttributes: { isAddon: false, prerequisiteSkus: [] },
    links: { availabilities: { uri: `/products/${product.id}/skus/${sku.id}/availabilities?country=${country}`, method: 'GET', headers: [] } },
  };
}

function availabilityView(availability: ListedAvailability, country: string): object {
  return {
    id: availability.id,
    productId: availability.product.id,
    skuId: availability.sku.id,
    catalogItemId: availability.catalogItemId,
    defaultCurrency: { code: 'USD', symbol: '$' },
    segment: availability.segment,
    country: country.toUpperCase(),
    isPurchasable: availability.isPurchasable,
    isRenewable: true,
    terms: availability.terms.map((t) => ({ duration: t.duration, description: t.description, billingCycle: t.billingCycle })),
  };
}

function lineItem(state: PartnerCenterState, raw: unknown, index: number): PcCartLineItem {
  const item = (raw ?? {}) as Partial<PcCartLineItem>;
  const where = `lineItems[${index}]`;
  if (typeof item.catalogItemId !== 'string' || item.catalogItemId.split(':').length !== 3) {
    throw invalidInput(`${where}.catalogItemId must be productId:skuId:availabilityId.`);
  }
  const availability = state.currentAvailability(item.catalogItemId);
  if (!availability) {
    // Availability ids are reissued: an id read earlier may no longer be valid (get-an-availability-by-id).
    throw new PartnerCenterError(400, 400056, `${where}.catalogItemId ${item.catalogItemId} is not a current availability; look the availability up again.`);
  }
  if (!availability.isPurchasable) throw new PartnerCenterError(403, 800020, 'The catalog item is not eligible for purchase.');
  if (typeof item.quantity !== 'number' || !Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > availability.sku.maximumQuantity) {
    throw new PartnerCenterError(400, 3000, `Invalid property: ${where}.quantity must be a whole number from 1 to ${availability.sku.maximumQuantity}.`);
  }
  const term = availability.terms.find((t) => t.duration === item.termDuration && t.billingCycle.toLowerCase() === String(item.billingCycle).toLowerCase());
  if (typeof item.termDuration !== 'string' || typeof item.billingCycle !== 'string' || !term) {
    throw invalidInput(`${where}: termDuration ${String(item.termDuration)} with billingCycle ${String(item.billingCycle)} is not offered by availability ${availability.id} ` +
      `(offered: ${availability.terms.map((t) => `${t.duration}/${t.billingCycle}`).join(', ')}).`);
  }
  return {
    id: index,
    catalogItemId: item.catalogItemId,
    ...(typeof item.friendlyName === 'string' ? { friendlyName: item.friendlyName } : {}),
    quantity: item.quantity,
    billingCycle: item.billingCycle.toLowerCase(),
    termDuration: item.termDuration,
    currencyCode: 'USD',
    provisioningContext: {},
    orderGroup: '0',
  };
}

function cartView(cart: PcCart): object {
  const { checkout: _checkout, ...rest } = cart;
  return { ...rest, attributes: { objectType: 'Cart' } };
}

function subscriptionView(subscription: PcSubscription, customerId: string): object {
  return {
    ...subscription,
    links: { self: { uri: `/customers/${customerId}/subscriptions/${subscription.id}`, method: 'GET', headers: [] } },
    attributes: { etag: `"${subscription.quantity}"`, objectType: 'Subscription' },
  };
}

function orderView(order: PcOrder): object {
  return { ...order, attributes: { objectType: 'Order' } };
}
