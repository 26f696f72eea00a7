/**
 * License procurement as a port: how Dialtone gets more Teams Phone Resource Account licenses when a run
 * or batch is short. Two adapters: `manual` (a person buys in the Microsoft 365 admin center; runs go on by
 * themselves when the licenses appear) and `partner-center` (CSP partners: Partner Center buys after an
 * operator's explicit approval, within ceilings). Domain errors carry stable types, so workflows and the
 * API read the type, never an HTTP status.
 */
import { ApplicationFailure } from '@temporalio/common';

export const PROCUREMENT_KINDS = ['manual', 'partner-center'] as const;
export type ProcurementKind = (typeof PROCUREMENT_KINDS)[number];

/** The admin-center path direct and EA customers use (https://learn.microsoft.com/microsoftteams/teams-add-on-licensing/virtual-user). */
export const ADMIN_CENTER_PURCHASE_PATH =
  'Microsoft 365 admin center (https://admin.microsoft.com) > Billing > Purchase services > search "Microsoft Teams Phone Resource Account" > buy';

export interface PurchaseCeilings {
  /** Most units one approval (a run, or a batch's whole shortfall) may buy. */
  perBatch: number;
  /** Most units bought per tenant per UTC day, by all workers together. */
  perDay: number;
}

/** What would be bought, when the adapter can buy. */
export interface PurchaseOffer {
  /** Raise an existing active subscription's quantity, or a new cart with the catalog item. */
  via: 'subscription-quantity' | 'cart';
  productTitle: string;
  subscriptionId?: string;
  currentQuantity?: number;
  /** productId:skuId:availabilityId, looked up now (availability ids are reissued). */
  catalogItemId?: string;
  units: number;
  /** Not read from Partner Center (prices live in price sheets); the license is $0 within Microsoft's free allocation. */
  unitPrice?: { amount: number; currency: string };
}

export interface ProcurementDescription {
  kind: ProcurementKind;
  /** True when Dialtone can buy (partner-center); false when a person must (manual). */
  canPurchase: boolean;
  /** Units short. */
  shortfall: number;
  /** One paragraph: what a person must do, or what an approval would buy. */
  instructions: string;
  offer?: PurchaseOffer;
  ceilings?: PurchaseCeilings & { usedToday: number; leftToday: number; day: string };
}

export interface PurchaseRequest {
  units: number;
  /** Who approved (audit trail). */
  approvedBy: string;
  reason?: string;
  /** Same key, same purchase: a retried or repeated call never buys twice. */
  idempotencyKey: string;
  /** Set for a batch's purchase; the per-batch ceiling counts every purchase of the batch. */
  batchId?: string;
  /** UTC day (YYYY-MM-DD) the approval counts against; fixed by the workflow so retries after midnight count once. Default: today. */
  day?: string;
}

export interface PurchaseResult {
  via: 'subscription-quantity' | 'cart';
  units: number;
  /** True when this key's purchase had been made before (a retry): nothing new was bought. */
  alreadyDone: boolean;
  subscriptionId?: string;
  targetQuantity?: number;
  cartId?: string;
  orderId?: string;
  /** One line for the status. */
  summary: string;
}

export interface LicenseProcurement {
  readonly kind: ProcurementKind;
  describe(shortfall: number): Promise<ProcurementDescription>;
  purchase(request: PurchaseRequest): Promise<PurchaseResult>;
}

/** Stable error types of the procurement port (ApplicationFailure `type`). */
export const ProcurementError = {
  /** The adapter cannot buy (manual): a person buys in the admin center. */
  PurchaseNotSupported: 'PurchaseNotSupported',
  /** A ceiling would be passed: nothing was bought. */
  PurchaseCeilingExceeded: 'PurchaseCeilingExceeded',
  /** Partner Center refused the app or the customer (401/403). */
  PurchaseDenied: 'PurchaseDenied',
  /** The catalog has no Teams Phone Resource Account offer for the customer. */
  PurchaseOfferNotFound: 'PurchaseOfferNotFound',
  /** Partner Center refused the order (4xx other than auth), or the cart expired. */
  PurchaseRejected: 'PurchaseRejected',
} as const;
export type ProcurementErrorType = (typeof ProcurementError)[keyof typeof ProcurementError];
export const PROCUREMENT_ERROR_TYPES: readonly string[] = Object.values(ProcurementError);

/**
 * A refusal of the port. `details` carries what a caller may act on without parsing the message: the
 * HTTP status of a Partner Center refusal, or the fix of an offer that cannot be chosen.
 */
export function procurementFailure(type: ProcurementErrorType, message: string, details?: ProcurementFailureDetails): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, ...(details ? { details: [details] } : {}) });
}

export interface ProcurementFailureDetails {
  /** HTTP status of Partner Center's refusal. */
  status?: number;
  /** What went wrong, without the advice (the message is this and then the advice). */
  problem?: string;
  /** What to change, naming the setting. */
  fix?: string;
}

/** The details {@link procurementFailure} attached, if any. */
export function procurementFailureDetails(err: unknown): ProcurementFailureDetails {
  return err instanceof ApplicationFailure ? ((err.details?.[0] ?? {}) as ProcurementFailureDetails) : {};
}

/** Checks a request before anything is bought; the message names the field and the fix. */
export function purchaseRequestProblems(request: PurchaseRequest): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(request.units) || request.units < 1) problems.push(`units must be a whole number ≥ 1 (got ${String(request.units)})`);
  if (typeof request.approvedBy !== 'string' || request.approvedBy.trim() === '') problems.push('approvedBy must name who approved the purchase');
  if (typeof request.idempotencyKey !== 'string' || request.idempotencyKey.trim() === '') problems.push('idempotencyKey must be set (the same key never buys twice)');
  return problems;
}
