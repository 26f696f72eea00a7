/**
 * Partner Center REST (CSP partners), as far as buying Teams Phone Resource Account licenses goes:
 * - catalog: `GET /v1/products`, `/v1/products/{p}/skus`, `/v1/products/{p}/skus/{s}/availabilities`
 *   (https://learn.microsoft.com/partner-center/developer/get-a-list-of-availabilities-for-a-sku);
 *   availability ids are reissued on a schedule (https://learn.microsoft.com/partner-center/developer/get-an-availability-by-id)
 * - subscriptions: list, get, PATCH quantity → 200, or 202 + `Location` to poll
 *   (https://learn.microsoft.com/partner-center/developer/change-the-quantity-of-a-subscription)
 * - carts: create (201, expire after 7 days), checkout (201 `{orders, orderErrors}`, idempotent per cart)
 *   (https://learn.microsoft.com/partner-center/developer/create-a-cart, …/checkout-a-cart)
 * - orders: list
 * Errors use Partner Center's body `{code, description, data, source}` and codes from
 * https://learn.microsoft.com/partner-center/developer/error-codes. Tokens: audience
 * https://api.partnercenter.microsoft.com, from an app registered in the partner's account.
 * Control: `/_simulator/partner-center` (state), `…/config`, `…/apps/{clientId}`, `…/reset`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PARTNER_CENTER_RESOURCE } from '../../lib/microsoft';
import type { SimulatorContext } from '../context';
import { GraphApiError } from '../errors';
import { CART_LIFETIME_MS, SIMULATED_PRODUCT, partnerCenterOf, resetPartnerCenter } from '../partner-center-state';
import type { PartnerCenterState, PcCart, PcCartLineItem, PcOrder, PcSubscription } from '../partner-center-state';
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

const BILLING_FOR_TERM: Record<string, readonly string[]> = { P1M: ['monthly'], P1Y: ['monthly', 'annual'], P3Y: ['monthly', 'annual', 'triennial'] };

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
        claims = context.tokens.verify(request.headers.authorization, PARTNER_CENTER_RESOURCE);
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
    pc.get<{ Querystring: { country?: string; targetView?: string } }>('/v1/products', async (request) => {
      requireCountry(request.query);
      if (!request.query.targetView) throw invalidInput('The targetView query parameter is required (for example OnlineServicesNCE).');
      return collection([productView()], 'Product');
    });
    pc.get<{ Params: { productId: string }; Querystring: { country?: string } }>('/v1/products/:productId', async (request) => {
      requireCountry(request.query);
      if (request.params.productId !== SIMULATED_PRODUCT.productId) throw notFound(`Product ${request.params.productId} was not found.`);
      return productView();
    });
    pc.get<{ Params: { productId: string }; Querystring: { country?: string } }>('/v1/products/:productId/skus', async (request) => {
      requireCountry(request.query);
      if (request.params.productId !== SIMULATED_PRODUCT.productId) throw notFound(`Product ${request.params.productId} was not found.`);
      return collection([skuView()], 'Sku');
    });
    pc.get<{ Params: { productId: string; skuId: string }; Querystring: { country?: string } }>('/v1/products/:productId/skus/:skuId/availabilities', async (request) => {
      requireCountry(request.query);
      const { productId, skuId } = request.params;
      if (productId !== SIMULATED_PRODUCT.productId || skuId !== SIMULATED_PRODUCT.skuId) throw notFound(`SKU ${productId}:${skuId} was not found.`);
      return collection([availabilityView(partnerCenterOf(context), request.query.country as string)], 'Availability');
    });

    // ---- subscriptions ----
    pc.get<{ Params: { customerId: string } }>('/v1/customers/:customerId/subscriptions', async (request) => {
      const state = customer(request);
      return collection([...state.subscriptions.values()].map((s) => subscriptionView(s, request.params.customerId)), 'Subscription');
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
      if (subscription.status !== 'active') throw new PartnerCenterError(409, 800030, `Subscription ${subscription.id} is ${subscription.status}; only an active subscription can change quantity.`);
      const running = [...state.changes.values()].find((c) => c.subscriptionId === subscription.id && c.status === 'inProgress');
      if (running) throw new PartnerCenterError(409, 800031, `A change to subscription ${subscription.id} is in progress; try again when it has finished.`);
      if (quantity < subscription.quantity) {
        // New-commerce seats can only be reduced in the first days of a term; refused here (the least convenient case).
        throw new PartnerCenterError(400, 800032, `Quantity of subscription ${subscription.id} cannot be reduced from ${subscription.quantity} to ${quantity}.`);
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
      return reply
        .code(202)
        .header('location', `/v1/customers/${request.params.customerId}/subscriptions/${subscription.id}/operations/${change.id}`)
        .header('retry-after', '1')
        .send(subscriptionView(subscription, request.params.customerId));
    });
    pc.get<{ Params: { customerId: string; subscriptionId: string; operationId: string } }>(
      '/v1/customers/:customerId/subscriptions/:subscriptionId/operations/:operationId',
      async (request, reply) => {
        const state = customer(request);
        const change = state.changes.get(request.params.operationId.toLowerCase());
        if (!change || change.subscriptionId !== request.params.subscriptionId.toLowerCase()) throw notFound(`Operation ${request.params.operationId} was not found.`);
        if (change.status === 'inProgress') void reply.header('retry-after', '1');
        return { id: change.id, status: change.status, subscriptionId: change.subscriptionId, quantity: change.to, previousQuantity: change.from, attributes: { objectType: 'SubscriptionOperation' } };
      },
    );

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
        const [productId, skuId] = item.catalogItemId.split(':');
        const subscription: PcSubscription = {
          id: state.newId(),
          offerId: `${productId}:${skuId}`,
          offerName: SIMULATED_PRODUCT.title,
          friendlyName: item.friendlyName ?? SIMULATED_PRODUCT.title,
          quantity: item.quantity,
          unitType: 'Licenses',
          creationDate: state.iso(),
          effectiveStartDate: state.iso(),
          commitmentEndDate: state.iso(context.now() + (item.termDuration === 'P1M' ? 30 : 365) * 24 * 3600 * 1000),
          autoRenewEnabled: true,
          status: 'active',
          billingCycle: item.billingCycle,
          termDuration: item.termDuration,
          orderId: order.id,
        };
        state.subscriptions.set(subscription.id, subscription);
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
      catalogItemId: state.catalogItemId(),
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
    if (problems.length > 0) return reply.code(400).send({ error: { code: 'InvalidConfig', message: problems.join('; ') } });
    state.config = {
      ...state.config,
      ...(availabilityPeriodMs !== undefined ? { availabilityPeriodMs } : {}),
      ...(provisioningDelayMs !== undefined ? { provisioningDelayMs } : {}),
      ...(quantityChangeMs !== undefined ? { quantityChangeMs } : {}),
      ...(body.quantityChange !== undefined ? { quantityChange: body.quantityChange as '200' | '202' } : {}),
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

function collection(items: object[], objectType: string): object {
  return { totalCount: items.length, items, links: {}, attributes: { objectType: 'Collection', itemType: objectType } };
}

function productView(): object {
  return {
    id: SIMULATED_PRODUCT.productId,
    title: SIMULATED_PRODUCT.title,
    description: SIMULATED_PRODUCT.description,
    productType: { id: 'OnlineServices', displayName: 'OnlineServices' },
    isMicrosoftProduct: true,
    publisherName: 'Microsoft Corporation',
    links: { skus: { uri: `/products/${SIMULATED_PRODUCT.productId}/skus?country=US`, method: 'GET', headers: [] } },
  };
}

function skuView(): object {
  return {
    id: SIMULATED_PRODUCT.skuId,
    productId: SIMULATED_PRODUCT.productId,
    title: SIMULATED_PRODUCT.skuTitle,
    description: SIMULATED_PRODUCT.description,
    minimumQuantity: 1,
    maximumQuantity: 100_000,
    isTrial: false,
    purchasePrerequisites: [],
    isAddOn: true,
  };
}

function availabilityView(state: PartnerCenterState, country: string): object {
  const id = state.currentAvailabilityId();
  return {
    id,
    productId: SIMULATED_PRODUCT.productId,
    skuId: SIMULATED_PRODUCT.skuId,
    catalogItemId: `${SIMULATED_PRODUCT.productId}:${SIMULATED_PRODUCT.skuId}:${id}`,
    defaultCurrency: { code: 'USD', symbol: '$' },
    segment: 'commercial',
    country: country.toUpperCase(),
    isPurchasable: true,
    isRenewable: true,
    terms: [
      { duration: 'P1M', description: 'One-Month commitment for monthly billing', billingCycle: 'monthly' },
      { duration: 'P1Y', description: 'One-Year commitment for monthly/annual billing', billingCycle: 'annual' },
    ],
  };
}

function lineItem(state: PartnerCenterState, raw: unknown, index: number): PcCartLineItem {
  const item = (raw ?? {}) as Partial<PcCartLineItem>;
  const where = `lineItems[${index}]`;
  if (typeof item.catalogItemId !== 'string' || item.catalogItemId.split(':').length !== 3) {
    throw invalidInput(`${where}.catalogItemId must be productId:skuId:availabilityId.`);
  }
  if (item.catalogItemId !== state.catalogItemId()) {
    // Availability ids are reissued: an id read earlier may no longer be valid (get-an-availability-by-id).
    throw new PartnerCenterError(400, 400056, `${where}.catalogItemId ${item.catalogItemId} is not a current availability; look the availability up again.`);
  }
  if (typeof item.quantity !== 'number' || !Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > 100_000) {
    throw new PartnerCenterError(400, 3000, `Invalid property: ${where}.quantity must be a whole number from 1 to 100000.`);
  }
  if (typeof item.termDuration !== 'string' || !BILLING_FOR_TERM[item.termDuration]) throw invalidInput(`${where}.termDuration must be one of P1M, P1Y, P3Y.`);
  if (typeof item.billingCycle !== 'string' || !BILLING_FOR_TERM[item.termDuration]?.includes(item.billingCycle.toLowerCase())) {
    throw invalidInput(`${where}.billingCycle ${String(item.billingCycle)} is not offered with termDuration ${item.termDuration}.`);
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
