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
import type { OfferSelection } from './partner-center-offer';
import type { LicenseProcurement, ProcurementDescription, PurchaseCeilings, PurchaseRequest, PurchaseResult } from './procurement';

/**
 * The app Partner Center tokens are asked for: an app of the partner's own tenant, registered in its
 * Partner Center account (Account settings > App management), with a secret or a certificate. Not the
 * customer tenant's app: Partner Center refuses that one's tokens.
 */
export interface PartnerCenterApp {
  /** The partner's tenant id: the token authority is {authorityHost}/{tenantId}. */
  tenantId: string;
  clientId: string;
  authorityHost: string;
  credential: { kind: 'secret'; secret: string } | { kind: 'certificate'; certificatePath: string; certificatePassword?: string };
}

export interface PartnerCenterSettings extends OfferSelection {
  kind: 'partner-center';
  baseUrl: string;
  app: PartnerCenterApp;
  customerId: string;
  ceilings: PurchaseCeilings;
}

/** The worker's choice of adapter and its settings (read by worker/procurement-config.ts). */
export type ProcurementSettings = { kind: 'manual' } | PartnerCenterSettings;

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
 * The adapter the settings name. `credential` is the Partner Center app's (`settings.app`, built by the
 * worker): Partner Center's app-only token is asked for with it from the partner's tenant (scope
 * https://api.partnercenter.microsoft.com/.default). The ledger is reached through the running
 * activity's Temporal client and task queue.
 */
export function createLicenseProcurement(settings: ProcurementSettings, credential: TokenCredential, tenantId: string, metrics?: ServiceCallMetrics): LicenseProcurement {
  if (settings.kind === 'manual') return new ManualProcurement();
  return new PartnerCenterProcurement({
    client: new PartnerCenterClient({
      credential, baseUrl: settings.baseUrl, app: { tenantId: settings.app.tenantId, clientId: settings.app.clientId }, ...(metrics ? { metrics } : {}),
    }),
    ledger: new TemporalPurchaseLedger({ tenantId, client: () => Context.current().client, taskQueue: () => Context.current().info.taskQueue,
      cancellation: () => Context.current().cancellationSignal }),
    customerId: settings.customerId,
    tenantId,
    ceilings: settings.ceilings,
    offer: offerSelection(settings),
    onProgress: (detail) => Context.current().heartbeat(detail),
    cancellation: () => Context.current().cancellationSignal,
  });
}

/** The offer part of the settings. */
export function offerSelection(settings: PartnerCenterSettings): OfferSelection {
  return {
    country: settings.country,
    productTitle: settings.productTitle,
    ...(settings.productId ? { productId: settings.productId } : {}),
    ...(settings.skuId ? { skuId: settings.skuId } : {}),
    segment: settings.segment,
    termDuration: settings.termDuration,
    billingCycle: settings.billingCycle,
  };
}
