/**
 * A small Partner Center REST client (CSP partners): an app-only token for
 * https://api.partnercenter.microsoft.com/.default from the credential of the app registered in the
 * partner's Partner Center account, asked from the partner's own tenant
 * (https://learn.microsoft.com/partner-center/developer/partner-center-authentication), the calls license
 * purchase needs, collections read to their end (`links.next` with its `MS-ContinuationToken` header),
 * and Partner Center's errors (`{code, description}`,
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
  /** The Partner Center app's credential: an app of the partner's tenant, registered in Partner Center (not the customer's app). */
  credential: TokenCredential;
  /** Default https://api.partnercenter.microsoft.com; the simulator's URL in simulator mode. */
  baseUrl: string;
  /** The app and tenant the credential stands for, named in refusals (never a secret). */
  app?: { tenantId: string; clientId: string };
  /** Where throttled answers are counted, by route template. */
  metrics?: ServiceCallMetrics;
}

/** A link of a Partner Center resource: relative to the API's version root (`/products/…`, no `/v1`). */
export interface PcLink {
  uri: string;
  method?: string;
  headers?: Array<{ key: string; value: string }>;
}
export interface PcCollection<T> {
  totalCount: number;
  items: T[];
  links?: { self?: PcLink; next?: PcLink };
}
export interface PcProduct {
  id: string;
  title: string;
  /** `OnlineServicesNCE` for new-commerce license-based products (get-a-list-of-products). */
  productType?: { id: string; displayName?: string };
}
export interface PcSku {
  id: string;
  productId: string;
  title: string;
  isTrial?: boolean;
}
export interface PcTerm {
  duration: string;
  billingCycle?: string;
  description?: string;
}
export interface PcAvailability {
  id: string;
  productId: string;
  skuId: string;
  catalogItemId: string;
  /** commercial, education, government or nonprofit (the SKU has no segment; its availabilities do). */
  segment?: string;
  isPurchasable?: boolean;
  terms?: PcTerm[];
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
/**
 * A PATCH of a subscription's quantity: done (200, with the subscription), or accepted (202): Partner
 * Center finishes later, and its `Location` names the subscription itself, to be read until its status
 * and quantity have changed (change-the-quantity-of-a-subscription).
 */
export type PcQuantityChange = { done: true; subscription: PcSubscription } | { done: false; location?: string };

/** Most pages one collection is read through: a `links.next` that never ends is a fault, not a catalog. */
const MAX_PAGES = 200;

export class PartnerCenterClient {
  private readonly baseUrl: string;

  constructor(private readonly options: PartnerCenterClientOptions) {
    if (!/^https:\/\//.test(options.baseUrl)) throw new Error(`Partner Center base URL must be an https URL (got "${options.baseUrl}")`);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /**
   * Every product of the `OnlineServices` view, all pages. New-commerce products are among them with
   * `productType.id` `OnlineServicesNCE`, which is not a targetView (get-a-list-of-products).
   */
  listProducts(country: string): Promise<PcCollection<PcProduct>> {
    return this.listAll(`/v1/products?country=${encodeURIComponent(country)}&targetView=OnlineServices`);
  }

  /** https://learn.microsoft.com/partner-center/developer/get-a-product-by-id */
  getProduct(productId: string, country: string): Promise<PcProduct> {
    return this.call('GET', `/v1/products/${encodeURIComponent(productId)}?country=${encodeURIComponent(country)}`);
  }

  listSkus(productId: string, country: string): Promise<PcCollection<PcSku>> {
    return this.listAll(`/v1/products/${encodeURIComponent(productId)}/skus?country=${encodeURIComponent(country)}`);
  }

  /** https://learn.microsoft.com/partner-center/developer/get-a-list-of-availabilities-for-a-sku */
  listAvailabilities(productId: string, skuId: string, country: string): Promise<PcCollection<PcAvailability>> {
    return this.listAll(`/v1/products/${encodeURIComponent(productId)}/skus/${encodeURIComponent(skuId)}/availabilities?country=${encodeURIComponent(country)}`);
  }

  /** https://learn.microsoft.com/partner-center/developer/get-all-of-a-customer-s-subscriptions */
  listSubscriptions(customerId: string): Promise<PcCollection<PcSubscription>> {
    return this.listAll(`/v1/customers/${encodeURIComponent(customerId)}/subscriptions`);
  }

  getSubscription(customerId: string, subscriptionId: string): Promise<PcSubscription> {
    return this.call('GET', `/v1/customers/${encodeURIComponent(customerId)}/subscriptions/${encodeURIComponent(subscriptionId)}`);
  }

  /**
   * Sets an absolute quantity (the full resource goes back, as the docs require):
   * https://learn.microsoft.com/partner-center/developer/change-the-quantity-of-a-subscription. A 202
   * has no body to read; what it accepted shows in the subscription later.
   */
  async changeQuantity(customerId: string, subscription: PcSubscription, quantity: number): Promise<PcQuantityChange> {
    const response = await this.send('PATCH', `/v1/customers/${encodeURIComponent(customerId)}/subscriptions/${encodeURIComponent(subscription.id)}`, { ...subscription, quantity });
    if (response.status === 202) {
      await response.body?.cancel();
      const location = response.headers.get('location');
      return { done: false, ...(location ? { location } : {}) };
    }
    return { done: true, subscription: (await response.json()) as PcSubscription };
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

  /**
   * A collection read to its last page: each `links.next` is followed with the headers it names (the
   * `MS-ContinuationToken`), its `uri` taken relative to `/v1` as Partner Center's links are.
   */
  private async listAll<T>(path: string): Promise<PcCollection<T>> {
    const items: T[] = [];
    let page = await this.call<PcCollection<T>>('GET', path);
    for (let pages = 1; ; pages++) {
      items.push(...(page.items ?? []));
      const next = page.links?.next;
      if (!next?.uri) break;
      if (pages >= MAX_PAGES) {
        throw ApplicationFailure.create({ type: 'PartnerCenterUnavailable', message: `Partner Center's ${path.split('?')[0]} did not end after ${MAX_PAGES} pages` });
      }
      const headers = Object.fromEntries((next.headers ?? []).map((h) => [h.key, h.value]));
      page = (await (await this.send('GET', this.versionPath(next.uri), undefined, undefined, headers)).json()) as PcCollection<T>;
    }
    return { totalCount: items.length, items };
  }

  /** A link's path under this client's base URL: `/products/…` → `/v1/products/…`; an absolute URL keeps its path. */
  private versionPath(uri: string): string {
    const path = /^https?:\/\//i.test(uri) ? (() => { const u = new URL(uri); return `${u.pathname}${u.search}`; })() : uri;
    return /^\/v1\//i.test(path) ? path : `/v1${path.startsWith('/') ? '' : '/'}${path}`;
  }

  private async send(method: string, path: string, body?: unknown, requestKey?: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
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
          ...extraHeaders,
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
    throw await toFailure(method, path, response, this.options.app);
  }
}

async function toFailure(method: string, path: string, response: Response, app?: { tenantId: string; clientId: string }): Promise<ApplicationFailure> {
  let code = '';
  let description = response.statusText;
  try {
    const body = (await response.json()) as { code?: unknown; description?: unknown };
    code = body.code === undefined ? '' : String(body.code);
    if (typeof body.description === 'string') description = body.description;
  } catch {
    // not JSON: the status line is all there is
  }
  const what = `Partner Center answered ${method} ${path.split('?')[0]} with ${response.status}${code ? ` (code ${code})` : ''}: ${description.replace(/\.+$/, '')}`;
  const whose = app ? `app ${app.clientId} of tenant ${app.tenantId}` : 'the Partner Center app';
  if (response.status === 401) {
    return procurementFailure(ProcurementError.PurchaseDenied,
      `${what}. Partner Center takes tokens of an app registered in the partner's Partner Center account (Account settings > App management), ` +
      `asked from the partner's own tenant: check that ${whose} is that app (DIALTONE_PARTNER_CENTER_CLIENT_ID, DIALTONE_PARTNER_CENTER_TENANT_ID).`,
      { status: 401, problem: what });
  }
  if (response.status === 403) {
    return procurementFailure(ProcurementError.PurchaseDenied,
      `${what}. The customer must be a customer of this partner, and ${whose} needs a role that may buy for it: ` +
      'check DIALTONE_PARTNER_CENTER_CUSTOMER_ID (the customer\'s tenant id, Partner Center > Customers > the customer > Account > Microsoft ID).',
      { status: 403, problem: what });
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
