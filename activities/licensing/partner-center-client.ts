/**
 * A small Partner Center REST client (CSP partners): app-only token for
 * https://api.partnercenter.microsoft.com/.default from the worker's @azure/identity credential
 * (https://learn.microsoft.com/partner-center/developer/partner-center-authentication), the calls license
 * purchase needs, and Partner Center's errors (`{code, description}`,
 * https://learn.microsoft.com/partner-center/developer/error-codes) mapped to the port's domain errors.
 * Tokens never enter an error message or a log line.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { ApplicationFailure } from '@temporalio/common';
import { PARTNER_CENTER_RESOURCE } from '../../lib/microsoft';
import type { ServiceCallMetrics } from '../metrics';
import { routeTemplate } from '../metrics';
import { ProcurementError, procurementFailure } from './procurement';

export interface PartnerCenterClientOptions {
  credential: TokenCredential;
  /** Default https://api.partnercenter.microsoft.com; the simulator's URL in simulator mode. */
  baseUrl: string;
  /** Where throttled answers are counted, by route template. */
  metrics?: ServiceCallMetrics;
}

export interface PcCollection<T> {
  totalCount: number;
  items: T[];
}
export interface PcProduct {
  id: string;
  title: string;
}
export interface PcSku {
  id: string;
  productId: string;
  title: string;
}
export interface PcAvailability {
  id: string;
  productId: string;
  skuId: string;
  catalogItemId: string;
  terms?: Array<{ duration: string; billingCycle: string }>;
}
/** A customer's subscription; PATCH sends the whole resource back with a new quantity. */
export interface PcSubscription {
  id: string;
  offerId: string;
  offerName?: string;
  quantity: number;
  status: string;
  [field: string]: unknown;
}
export interface PcCartLineItemInput {
  id: number;
  catalogItemId: string;
  quantity: number;
  billingCycle: string;
  termDuration: string;
  friendlyName?: string;
}
export interface PcCart {
  id: string;
  status: string;
  expirationTimeStamp: string;
  lineItems: PcCartLineItemInput[];
}
export interface PcOrder {
  id: string;
  status?: string;
  lineItems: Array<{ offerId: string; subscriptionId: string; quantity: number }>;
  creationDate?: string;
}
export interface PcCheckoutResult {
  orders: PcOrder[];
  orderErrors: Array<{ orderGroupId?: string; code?: number | string; description?: string }>;
}
/** A PATCH of a subscription's quantity: done (200), or accepted with a `Location` to poll (202). */
export type PcQuantityChange = { done: true; subscription: PcSubscription } | { done: false; location: string; retryAfterMs: number };

export class PartnerCenterClient {
  private readonly baseUrl: string;

  constructor(private readonly options: PartnerCenterClientOptions) {
    if (!/^https:\/\//.test(options.baseUrl)) throw new Error(`Partner Center base URL must be an https URL (got "${options.baseUrl}")`);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  listProducts(country: string, targetView: string): Promise<PcCollection<PcProduct>> {
    return this.call('GET', `/v1/products?country=${encodeURIComponent(country)}&targetView=${encodeURIComponent(targetView)}`);
  }

  listSkus(productId: string, country: string): Promise<PcCollection<PcSku>> {
    return this.call('GET', `/v1/products/${encodeURIComponent(productId)}/skus?country=${encodeURIComponent(country)}`);
  }

  /** https://learn.microsoft.com/partner-center/developer/get-a-list-of-availabilities-for-a-sku */
  listAvailabilities(productId: string, skuId: string, country: string): Promise<PcCollection<PcAvailability>> {
    return this.call('GET', `/v1/products/${encodeURIComponent(productId)}/skus/${encodeURIComponent(skuId)}/availabilities?country=${encodeURIComponent(country)}`);
  }

  /** https://learn.microsoft.com/partner-center/developer/get-all-of-a-customer-s-subscriptions */
  listSubscriptions(customerId: string): Promise<PcCollection<PcSubscription>> {
    return this.call('GET', `/v1/customers/${encodeURIComponent(customerId)}/subscriptions`);
  }

  getSubscription(customerId: string, subscriptionId: string): Promise<PcSubscription> {
    return this.call('GET', `/v1/customers/${encodeURIComponent(customerId)}/subscriptions/${encodeURIComponent(subscriptionId)}`);
  }

  /**
   * Sets an absolute quantity (the full resource goes back, as the docs require):
   * https://learn.microsoft.com/partner-center/developer/change-the-quantity-of-a-subscription
   */
  async changeQuantity(customerId: string, subscription: PcSubscription, quantity: number): Promise<PcQuantityChange> {
    const response = await this.send('PATCH', `/v1/customers/${encodeURIComponent(customerId)}/subscriptions/${encodeURIComponent(subscription.id)}`, { ...subscription, quantity });
    const location = response.headers.get('location');
    if (response.status === 202 && location) {
      return { done: false, location, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) ?? 1000 };
    }
    return { done: true, subscription: (await response.json()) as PcSubscription };
  }

  /** Follows a 202's `Location` (its body shape is not documented: only `status` is read). */
  async pollChange(location: string): Promise<{ status: string; retryAfterMs: number }> {
    const path = location.startsWith('http') ? new URL(location).pathname : location;
    const response = await this.send('GET', path);
    const body = (await response.json()) as { status?: string };
    return { status: String(body.status ?? 'unknown'), retryAfterMs: retryAfterMs(response.headers.get('retry-after')) ?? 1000 };
  }

  /**
   * https://learn.microsoft.com/partner-center/developer/create-a-cart. `MS-RequestId` is derived from
   * the purchase's key, so Partner Center can recognise a repeated request
   * (https://learn.microsoft.com/partner-center/developer/headers).
   */
  createCart(customerId: string, lineItems: PcCartLineItemInput[], requestKey: string): Promise<PcCart> {
    return this.call('POST', `/v1/customers/${encodeURIComponent(customerId)}/carts`, { lineItems }, requestKey);
  }

  /** Idempotent per cart: a second checkout answers with the first one's result (checkout-a-cart). */
  checkout(customerId: string, cartId: string, requestKey: string): Promise<PcCheckoutResult> {
    return this.call('POST', `/v1/customers/${encodeURIComponent(customerId)}/carts/${encodeURIComponent(cartId)}/checkout`, undefined, requestKey);
  }

  private async call<T>(method: string, path: string, body?: unknown, requestKey?: string): Promise<T> {
    const response = await this.send(method, path, body, requestKey);
    return (await response.json()) as T;
  }

  private async send(method: string, path: string, body?: unknown, requestKey?: string): Promise<Response> {
    const token = await this.options.credential.getToken(`${PARTNER_CENTER_RESOURCE}/.default`);
    if (!token) throw ApplicationFailure.create({ type: ProcurementError.PurchaseDenied, nonRetryable: true, message: 'no Partner Center token was issued for the worker\'s app' });
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token.token}`,
          accept: 'application/json',
          'ms-requestid': requestKey ? stableUuid(`${requestKey}:${method}:${path}`) : randomUUID(),
          'ms-correlationid': randomUUID(),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      // Network trouble: retryable (the same plan is repeated, so a lost answer cannot buy twice).
      throw ApplicationFailure.create({ type: 'PartnerCenterUnavailable', message: `Partner Center did not answer ${method} ${path}: ${err instanceof Error ? err.message : String(err)}` });
    }
    if (response.ok) return response;
    if (response.status === 429) this.options.metrics?.throttled('partner-center', routeTemplate(path));
    throw await toFailure(method, path, response);
  }
}

async function toFailure(method: string, path: string, response: Response): Promise<ApplicationFailure> {
  let code = '';
  let description = response.statusText;
  try {
    const body = (await response.json()) as { code?: unknown; description?: unknown };
    code = body.code === undefined ? '' : String(body.code);
    if (typeof body.description === 'string') description = body.description;
  } catch {
    // not JSON: the status line is all there is
  }
  const what = `Partner Center answered ${method} ${path.split('?')[0]} with ${response.status}${code ? ` (code ${code})` : ''}: ${description}`;
  if (response.status === 401 || response.status === 403) {
    return procurementFailure(ProcurementError.PurchaseDenied,
      `${what}. Register the worker's app in Partner Center (Account settings > App management) with a role that may buy for the customer, ` +
      'and check DIALTONE_PARTNER_CENTER_CUSTOMER_ID.');
  }
  if (response.status === 409 || response.status === 429 || response.status >= 500) {
    const delay = retryAfterMs(response.headers.get('retry-after'));
    return ApplicationFailure.create({ type: 'PartnerCenterUnavailable', message: what, ...(delay !== undefined ? { nextRetryDelay: delay } : {}) });
  }
  return procurementFailure(ProcurementError.PurchaseRejected, what);
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** A UUID-shaped id derived from a string (same input, same id). */
function stableUuid(input: string): string {
  const hex = createHash('sha256').update(input).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
