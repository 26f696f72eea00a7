/**
 * The simulated Partner Center (CSP) side: the partner's account (its registered apps, its one customer:
 * the simulator's tenant), the new-commerce catalog (partner-center-catalog.ts) with availability ids
 * that are reissued on a schedule, the customer's subscriptions, carts, orders and quantity changes.
 * Purchased seats reach the tenant's `subscribedSkus` only after a delay, as seats bought in Partner
 * Center are not assignable at once.
 *
 * Kept beside the tenant state (one per simulator context) and in memory only: the simulator's state
 * file does not hold it, and `POST /_simulator/reset` does not clear it (`POST
 * /_simulator/partner-center/reset` does). Timed behaviour reads the context's clock, like the tenant.
 */
import { randomUUID } from 'node:crypto';
import { RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../lib/microsoft';
import type { SimulatorContext } from './context';
import { availabilityId, defaultCatalog } from './partner-center-catalog';
import type { CatalogAvailability, CatalogProduct, CatalogSku, Segment } from './partner-center-catalog';
import { drawDelay } from './random';

const DAY = 24 * 60 * 60 * 1000;

/** Carts expire 7 days after creation (https://learn.microsoft.com/partner-center/developer/create-a-cart). */
export const CART_LIFETIME_MS = 7 * DAY;

/** Items per page of each paged collection (UNKNOWN: Partner Center documents no page size for these). */
export interface PageSizes {
  products: number;
  skus: number;
  availabilities: number;
  subscriptions: number;
}
export const DEFAULT_PAGE_SIZES: PageSizes = { products: 20, skus: 3, availabilities: 1, subscriptions: 5 };

export interface PartnerCenterConfig {
  /**
   * How often availability ids are reissued, in ms on the simulator's clock (not time-scaled).
   * Microsoft: "Availability IDs are mutable and dynamic, they're reissued on a regular basis" (period
   * undocumented). Default 1 hour.
   */
  availabilityPeriodMs: number;
  /** From a purchase until its seats are assignable in the tenant, in ms; default: the profile's licensePropagation delay, time-scaled. */
  provisioningDelayMs?: number;
  /** `202` (default, the least convenient): a quantity PATCH is accepted and finishes later; `200`: at once. */
  quantityChange: '200' | '202';
  /** How long an accepted quantity change takes, in ms (default 2 s, time-scaled). */
  quantityChangeMs?: number;
  /**
   * How an accepted change ends: `succeeded` (default), or `failed`: the subscription goes back to
   * `active` with its old quantity and nothing says why (whether and how an accepted change can fail is
   * UNKNOWN; this is the least convenient reading).
   */
  quantityChangeResult: 'succeeded' | 'failed';
  pageSizes: PageSizes;
}

export interface PcSubscription {
  id: string;
  offerId: string;
  offerName: string;
  friendlyName: string;
  quantity: number;
  unitType: 'Licenses';
  creationDate: string;
  effectiveStartDate: string;
  commitmentEndDate: string;
  autoRenewEnabled: boolean;
  /** `pending` while an accepted quantity change runs (GUESS: the docs only say to watch status and quantity). */
  status: 'active' | 'pending' | 'suspended' | 'deleted';
  billingCycle: string;
  termDuration: string;
  orderId: string;
}

export interface PcCartLineItem {
  id: number;
  catalogItemId: string;
  friendlyName?: string;
  quantity: number;
  billingCycle: string;
  termDuration: string;
  currencyCode: string;
  provisioningContext: Record<string, string>;
  orderGroup: string;
}

export interface PcCart {
  id: string;
  creationTimeStamp: string;
  lastModifiedTimeStamp: string;
  expirationTimeStamp: string;
  lastModifiedUser: string;
  lineItems: PcCartLineItem[];
  status: 'Active' | 'Ordered';
  /** The first checkout's answer, returned again to every later checkout of this cart (idempotent). */
  checkout?: object;
}

export interface PcOrder {
  id: string;
  referenceCustomerId: string;
  billingCycle: string;
  currencyCode: string;
  lineItems: Array<{ lineItemNumber: number; offerId: string; subscriptionId: string; termDuration: string; quantity: number }>;
  creationDate: string;
  status: 'completed' | 'pending';
}

export interface PcQuantityChange {
  id: string;
  subscriptionId: string;
  from: number;
  to: number;
  acceptedAt: number;
  completesAt: number;
  status: 'inProgress' | 'succeeded' | 'failed';
}

/** One availability of a SKU as listed now, with its current id. */
export interface ListedAvailability extends CatalogAvailability {
  id: string;
  product: CatalogProduct;
  sku: CatalogSku;
  catalogItemId: string;
}

/** Subscriptions the customer holds at start, of other products: its list is longer than one page. */
const SEEDED_SUBSCRIPTIONS: ReadonlyArray<{ title: string; quantity: number; status?: PcSubscription['status'] }> = [
  { title: 'Microsoft 365 Business Basic', quantity: 12 },
  { title: 'Microsoft 365 Business Premium', quantity: 8 },
  { title: 'Microsoft Teams Phone Standard', quantity: 5 },
  { title: 'Microsoft Teams Rooms Pro', quantity: 2 },
  { title: 'Exchange Online (Plan 1)', quantity: 3, status: 'suspended' },
  { title: 'Power BI Pro', quantity: 4 },
];

/** Seats bought but not yet assignable in the tenant. */
interface PendingSeats {
  units: number;
  at: number;
}

export class PartnerCenterState {
  config: PartnerCenterConfig = { availabilityPeriodMs: 60 * 60 * 1000, quantityChange: '202', quantityChangeResult: 'succeeded', pageSizes: { ...DEFAULT_PAGE_SIZES } };
  /**
   * App (client) ids registered in the partner's Partner Center account (Account settings > App
   * management): at start, every app of the partner's tenant.
   */
  readonly registeredApps: Set<string>;
  catalog: CatalogProduct[] = defaultCatalog();
  readonly subscriptions = new Map<string, PcSubscription>();
  readonly carts = new Map<string, PcCart>();
  readonly orders = new Map<string, PcOrder>();
  readonly changes = new Map<string, PcQuantityChange>();
  private pending: PendingSeats[] = [];

  constructor(private readonly context: SimulatorContext) {
    this.registeredApps = new Set(context.options.partner.apps.map((app) => app.clientId.toLowerCase()));
    for (const seed of SEEDED_SUBSCRIPTIONS) {
      const availability = this.productByTitle(seed.title)?.skus.flatMap((sku) => this.availabilities(sku)).find((a) => a.segment === 'commercial');
      if (!availability) continue;
      this.addSubscription(availability, { quantity: seed.quantity, termDuration: 'P1Y', billingCycle: 'annual', orderId: this.newId().replaceAll('-', '').slice(0, 20) }, seed.status);
    }
  }

  private now(): number {
    return this.context.now();
  }

  iso(at = this.now()): string {
    return new Date(at).toISOString();
  }

  product(productId: string): CatalogProduct | undefined {
    return this.catalog.find((p) => p.id.toLowerCase() === productId.toLowerCase());
  }

  private productByTitle(title: string): CatalogProduct | undefined {
    return this.catalog.find((p) => p.title === title);
  }

  /** A SKU's availabilities as listed now: one per segment, each with the id valid now. */
  availabilities(sku: CatalogSku, product = this.catalog.find((p) => p.skus.includes(sku)), at = this.now()): ListedAvailability[] {
    if (!product) return [];
    return sku.availabilities.map((availability) => {
      const id = availabilityId(product.id, sku.id, availability.segment, at, this.config.availabilityPeriodMs);
      return { ...availability, id, product, sku, catalogItemId: `${product.id}:${sku.id}:${id}` };
    });
  }

  /** The availability a catalog item id names, if that id is current. */
  currentAvailability(catalogItemId: string): ListedAvailability | undefined {
    const [productId = '', skuId = '', id = ''] = catalogItemId.split(':');
    const product = this.product(productId);
    const sku = product?.skus.find((s) => s.id === skuId);
    if (!product || !sku) return undefined;
    return this.availabilities(sku, product).find((a) => a.id === id);
  }

  /** The current catalog item id of the resource-account SKU in a segment (for the control API). */
  catalogItemId(productId: string, skuId: string, segment: Segment = 'commercial'): string | undefined {
    const product = this.product(productId);
    const sku = product?.skus.find((s) => s.id === skuId);
    return sku ? this.availabilities(sku, product).find((a) => a.segment === segment)?.catalogItemId : undefined;
  }

  /** A new subscription of an availability (new commerce makes one per order line; its offerId is the catalog item id, DOC example). */
  addSubscription(availability: Pick<ListedAvailability, 'catalogItemId' | 'product' | 'sku'>, line: { quantity: number; termDuration: string; billingCycle: string; orderId: string; friendlyName?: string },
    status: PcSubscription['status'] = 'active'): PcSubscription {
    const subscription: PcSubscription = {
      id: this.newId(),
      offerId: availability.catalogItemId,
      offerName: availability.product.title,
      friendlyName: line.friendlyName ?? availability.sku.title,
      quantity: line.quantity,
      unitType: 'Licenses',
      creationDate: this.iso(),
      effectiveStartDate: this.iso(),
      commitmentEndDate: this.iso(this.now() + (line.termDuration === 'P1M' ? 30 : line.termDuration === 'P3Y' ? 3 * 365 : 365) * DAY),
      autoRenewEnabled: true,
      status,
      billingCycle: line.billingCycle,
      termDuration: line.termDuration,
      orderId: line.orderId,
    };
    this.subscriptions.set(subscription.id, subscription);
    return subscription;
  }

  /** Runs what is due: finished quantity changes, seats that became assignable. */
  advance(): void {
    const now = this.now();
    for (const change of this.changes.values()) {
      if (change.status !== 'inProgress' || change.completesAt > now) continue;
      const failed = this.config.quantityChangeResult === 'failed';
      change.status = failed ? 'failed' : 'succeeded';
      const subscription = this.subscriptions.get(change.subscriptionId);
      if (subscription) {
        subscription.status = 'active';
        if (!failed) subscription.quantity = change.to;
      }
      if (!failed) this.schedule(change.to - change.from);
    }
    const due = this.pending.filter((seats) => seats.at <= now);
    if (due.length === 0) return;
    this.pending = this.pending.filter((seats) => seats.at > now);
    const units = due.reduce((sum, seats) => sum + seats.units, 0);
    const sku = [...this.context.state.skus.values()].find((s) => s.definition.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER);
    if (sku) sku.enabled += units;
    else this.context.state.purchase(RESOURCE_ACCOUNT_SKU_PART_NUMBER, units);
  }

  /** Seats bought now are assignable after the provisioning delay. */
  schedule(units: number): void {
    if (units <= 0) return;
    const delay = this.config.provisioningDelayMs ?? this.context.scaled(this.context.behaviour.delays.licensePropagation);
    this.pending.push({ units, at: this.now() + delay });
  }

  quantityChangeDelay(): number {
    return this.config.quantityChangeMs ?? drawDelay(2_000, this.context.random) * this.context.behaviour.timeScale;
  }

  newId(): string {
    return randomUUID();
  }

  /** Seats bought and not yet in the tenant (for the control API). */
  pendingSeats(): PendingSeats[] {
    return [...this.pending];
  }
}

const states = new WeakMap<SimulatorContext, PartnerCenterState>();

/** The Partner Center state of a simulator context, created on first use. */
export function partnerCenterOf(context: SimulatorContext): PartnerCenterState {
  let state = states.get(context);
  if (!state) {
    state = new PartnerCenterState(context);
    states.set(context, state);
  }
  return state;
}

/** Clears the Partner Center state: the default catalog, registrations and seeded subscriptions again. */
export function resetPartnerCenter(context: SimulatorContext): PartnerCenterState {
  const state = new PartnerCenterState(context);
  states.set(context, state);
  return state;
}
