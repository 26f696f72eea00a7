/**
 * The simulated Partner Center (CSP) side of the tenant: the catalog item of the Teams Phone Resource
 * Account license with availability ids that are reissued on a schedule, the customer's subscriptions,
 * carts, orders and quantity changes. Purchased seats reach the tenant's `subscribedSkus` only after a
 * delay, as seats bought in Partner Center are not assignable at once.
 *
 * Kept beside the tenant state (one per simulator context) and in memory only: the simulator's state
 * file does not hold it, and `POST /_simulator/reset` does not clear it (`POST
 * /_simulator/partner-center/reset` does). Timed behaviour reads the context's clock, like the tenant.
 */
import { createHash, randomUUID } from 'node:crypto';
import { RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../lib/microsoft';
import { LOCAL_CLIENT_ID } from '../lib/local-defaults';
import type { SimulatorContext } from './context';
import { drawDelay } from './random';

const DAY = 24 * 60 * 60 * 1000;

/** Carts expire 7 days after creation (https://learn.microsoft.com/partner-center/developer/create-a-cart). */
export const CART_LIFETIME_MS = 7 * DAY;

/**
 * The simulator's catalog ids. Microsoft's product id for "Microsoft Teams Phone Resource Account" is not
 * public (reference notes: UNKNOWN), so these are made up in the shape of real ones; clients must look
 * the product up by title, as the product does.
 */
export const SIMULATED_PRODUCT = {
  productId: 'CFQ7TTC0SIM1',
  skuId: '0001',
  title: 'Microsoft Teams Phone Resource Account',
  skuTitle: 'Microsoft Teams Phone Resource Account',
  description: 'A license for resource accounts of auto attendants and call queues.',
} as const;

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
  status: 'active' | 'suspended' | 'deleted';
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
  status: 'inProgress' | 'succeeded';
}

/** Seats bought but not yet assignable in the tenant. */
interface PendingSeats {
  units: number;
  at: number;
}

export class PartnerCenterState {
  config: PartnerCenterConfig = { availabilityPeriodMs: 60 * 60 * 1000, quantityChange: '202' };
  /** App (client) ids registered in the partner's Partner Center account (Account settings > App management). */
  readonly registeredApps = new Set<string>([LOCAL_CLIENT_ID.toLowerCase()]);
  readonly subscriptions = new Map<string, PcSubscription>();
  readonly carts = new Map<string, PcCart>();
  readonly orders = new Map<string, PcOrder>();
  readonly changes = new Map<string, PcQuantityChange>();
  private pending: PendingSeats[] = [];

  constructor(private readonly context: SimulatorContext) {}

  private now(): number {
    return this.context.now();
  }

  iso(at = this.now()): string {
    return new Date(at).toISOString();
  }

  /** The availability id valid now: reissued every `availabilityPeriodMs`. */
  currentAvailabilityId(at = this.now()): string {
    const period = Math.floor(at / this.config.availabilityPeriodMs);
    return `CFQ7TTC0${createHash('sha256').update(`availability:${period}`).digest('hex').slice(0, 4).toUpperCase()}`;
  }

  catalogItemId(at = this.now()): string {
    return `${SIMULATED_PRODUCT.productId}:${SIMULATED_PRODUCT.skuId}:${this.currentAvailabilityId(at)}`;
  }

  /** Runs what is due: finished quantity changes, seats that became assignable. */
  advance(): void {
    const now = this.now();
    for (const change of this.changes.values()) {
      if (change.status !== 'inProgress' || change.completesAt > now) continue;
      change.status = 'succeeded';
      const subscription = this.subscriptions.get(change.subscriptionId);
      if (subscription) subscription.quantity = change.to;
      this.schedule(change.to - change.from);
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

/** Clears the Partner Center state (keeps nothing but the default registration). */
export function resetPartnerCenter(context: SimulatorContext): PartnerCenterState {
  const state = new PartnerCenterState(context);
  states.set(context, state);
  return state;
}
