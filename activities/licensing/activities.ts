/**
 * License-procurement activities: what buying would take (for a run's or batch's needs-attention) and
 * the purchase itself, after an operator's approval. Built over the port, so the worker's config
 * chooses the adapter; workflows see these as types only.
 */
import type { TokenCredential } from '@azure/identity';
import { Context } from '@temporalio/activity';
import type { ServiceCallMetrics } from '../metrics';
import { TemporalPurchaseLedger } from './ledger';
import { ManualProcurement } from './manual';
import { PartnerCenterProcurement } from './partner-center';
import { PartnerCenterClient } from './partner-center-client';
import type { LicenseProcurement, ProcurementDescription, PurchaseCeilings, PurchaseRequest, PurchaseResult } from './procurement';

/** The worker's choice of adapter and its settings (read by worker/procurement-config.ts). */
export type ProcurementSettings =
  | { kind: 'manual' }
  | {
      kind: 'partner-center';
      baseUrl: string;
      customerId: string;
      country: string;
      productTitle: string;
      termDuration: string;
      billingCycle: string;
      ceilings: PurchaseCeilings;
    };

export interface LicensingDeps {
  procurement: LicenseProcurement;
}

export interface DescribeLicensePurchaseInput {
  /** Licenses short. */
  shortfall: number;
}
export type DescribeLicensePurchaseOutput = ProcurementDescription;

/** The workflow passes its id and the approval's number as the idempotency key, and fixes the day. */
export type PurchaseLicensesInput = PurchaseRequest;
export type PurchaseLicensesOutput = PurchaseResult;

export interface LicensingActivities {
  describeLicensePurchase(input: DescribeLicensePurchaseInput): Promise<DescribeLicensePurchaseOutput>;
  purchaseLicenses(input: PurchaseLicensesInput): Promise<PurchaseLicensesOutput>;
}

export function createLicensingActivities(deps: LicensingDeps): LicensingActivities {
  return {
    describeLicensePurchase: ({ shortfall }) => deps.procurement.describe(shortfall),
    purchaseLicenses: (input) => deps.procurement.purchase(input),
  };
}

/**
 * The adapter the settings name. `credential` is the worker's app credential: Partner Center's app-only
 * token is asked for with it (scope https://api.partnercenter.microsoft.com/.default), so the app must be
 * registered in the partner's Partner Center account. The ledger is reached through the running
 * activity's Temporal client and task queue.
 */
export function createLicenseProcurement(settings: ProcurementSettings, credential: TokenCredential, tenantId: string, metrics?: ServiceCallMetrics): LicenseProcurement {
  if (settings.kind === 'manual') return new ManualProcurement();
  return new PartnerCenterProcurement({
    client: new PartnerCenterClient({ credential, baseUrl: settings.baseUrl, ...(metrics ? { metrics } : {}) }),
    ledger: new TemporalPurchaseLedger({ tenantId, client: () => Context.current().client, taskQueue: () => Context.current().info.taskQueue,
      cancellation: () => Context.current().cancellationSignal }),
    customerId: settings.customerId,
    tenantId,
    ceilings: settings.ceilings,
    country: settings.country,
    productTitle: settings.productTitle,
    termDuration: settings.termDuration,
    billingCycle: settings.billingCycle,
    onProgress: (detail) => Context.current().heartbeat(detail),
  });
}

