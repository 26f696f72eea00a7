/**
 * Contract of the license-purchase ledger: one workflow per tenant and UTC day that records every
 * approved Partner Center purchase, enforces the per-day and per-batch ceilings for all workers at once,
 * and keeps each purchase's durable plan (the subscription's target quantity, or the cart to check out),
 * so a retried purchase repeats the same order and never buys twice. Activities reach it by
 * update-with-start; nothing else writes it.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const LEDGER_WORKFLOW_TYPE = 'licensePurchaseLedger';

/** One ledger per tenant and UTC day (YYYY-MM-DD). */
export function purchaseLedgerWorkflowId(tenantId: string, day: string): string {
  return `license-purchase-ledger:${tenantId.toLowerCase()}:${day}`;
}

/** The UTC day of an instant, as the ledger names it. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export interface LedgerInput {
  tenantId: string;
  day: string;
}

/** How a purchase is made; recorded once, at reservation, and never recomputed by a retry. */
export type LedgerPlan =
  | { via: 'subscription-quantity'; subscriptionId: string; fromQuantity: number; targetQuantity: number }
  | { via: 'cart'; catalogItemId: string; cartId?: string };

export interface LedgerEntry {
  key: string;
  units: number;
  batchId?: string;
  approvedBy: string;
  reason?: string;
  at: string;
  plan: LedgerPlan;
  /** reserved: counted, maybe bought; done: bought; released: refused by Partner Center, not counted. */
  state: 'reserved' | 'done' | 'released';
  orderId?: string;
}

export interface LedgerState {
  tenantId: string;
  day: string;
  entries: LedgerEntry[];
}

export interface ReservePurchaseInput {
  key: string;
  units: number;
  batchId?: string;
  approvedBy: string;
  reason?: string;
  plan: LedgerPlan;
  ceilings: { perBatch: number; perDay: number };
  /** Names of the settings, for the refusal message (e.g. DIALTONE_PURCHASE_MAX_UNITS_PER_DAY). */
  ceilingNames: { perBatch: string; perDay: string };
}
export interface ReservePurchaseOutput {
  entry: LedgerEntry;
  /** True when the key was reserved before: the stored plan wins over the caller's. */
  existing: boolean;
  usedToday: number;
}

export interface RecordPurchaseInput {
  key: string;
  /** The cart created for a cart plan; the first one recorded wins. */
  cartId?: string;
  state?: 'done' | 'released';
  orderId?: string;
}

export const reservePurchaseUpdate = defineUpdate<ReservePurchaseOutput, [ReservePurchaseInput]>('reservePurchase');
export const recordPurchaseUpdate = defineUpdate<LedgerEntry, [RecordPurchaseInput]>('recordPurchase');
export const getLedgerQuery = defineQuery<LedgerState>('getLedger');

/** Units that count against the day: every entry not released. */
export function unitsCounted(entries: readonly LedgerEntry[], batchId?: string): number {
  return entries.filter((e) => e.state !== 'released' && (batchId === undefined || e.batchId === batchId)).reduce((sum, e) => sum + e.units, 0);
}
