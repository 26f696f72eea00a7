/** Step 1: are there enough free Teams Phone Resource Account licenses? (Graph subscribedSkus) */
import type { Client } from '@microsoft/microsoft-graph-client';
import type { SubscribedSku } from '@microsoft/microsoft-graph-types';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../../lib/microsoft';
import type { CheckLicenseAvailabilityInput, CheckLicenseAvailabilityOutput } from '../types';
import { call } from './errors';
import { findUserByUpn } from './users';

export const PURCHASE_HINT =
  'Buy "Microsoft Teams Phone Resource Account" licenses (free within the tenant\'s allocation, but they must still be bought) in the ' +
  'Microsoft 365 admin center > Billing > Purchase services > Add-ons and untick automatic assignment. A run waiting for licenses ' +
  'checks the stock every few minutes and continues by itself once enough are free.';

/**
 * What a subscription's status allows (Graph: subscribedSku, assignedPlan): Enabled and Warning (a grace
 * period) may be assigned; Suspended, LockedOut and Deleted may not.
 */
const ASSIGNABLE_STATUSES = new Set(['Enabled', 'Warning']);

export interface LicenseActivityDeps {
  graph: Client;
}

/**
 * The tenant's subscription of a SKU: by skuId when given, else the resource-account SKU by part number
 * (skuIds differ between clouds; never hard-code them).
 */
export async function findSubscribedSku(graph: Client, skuId?: string): Promise<SubscribedSku | undefined> {
  return pickSubscribedSku(await readSubscribedSkus(graph), skuId);
}

/** Every subscribed SKU of the tenant. */
export async function readSubscribedSkus(graph: Client): Promise<SubscribedSku[]> {
  const skus = await call({ action: 'read the tenant\'s subscribed SKUs', permission: 'Organization.Read.All' }, () =>
    graph.api('/subscribedSkus').select(['skuId', 'skuPartNumber', 'prepaidUnits', 'consumedUnits', 'capabilityStatus', 'servicePlans']).get(),
  );
  return (skus.value as SubscribedSku[] | undefined) ?? [];
}

/** A SKU's subscription by skuId when given, else the resource-account SKU by part number (subscribedSkus supports no $filter). */
export function pickSubscribedSku(skus: readonly SubscribedSku[], skuId?: string): SubscribedSku | undefined {
  return skus.find((sku) => (skuId ? sku.skuId === skuId : sku.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER));
}

/** A reason no license can be assigned, with the type the workflow and the API show. */
export interface LicenseProblem {
  type: typeof ErrorType.LicenseSkuMissing | typeof ErrorType.LicenseSubscriptionInactive | typeof ErrorType.LicensesInsufficient;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * What the tenant's subscription allows for `needed` more licenses: the stock, or the problem that stops
 * it (no subscription, a suspended one, too few free units), each message with the way to fix it.
 */
export function assessLicenseStock(
  sku: SubscribedSku | undefined,
  needed: number,
): { stock: CheckLicenseAvailabilityOutput; problem?: undefined } | { stock?: CheckLicenseAvailabilityOutput; problem: LicenseProblem } {
  if (!sku?.skuId) {
    return {
      problem: {
        type: ErrorType.LicenseSkuMissing,
        message: `The tenant has no ${RESOURCE_ACCOUNT_SKU_PART_NUMBER} subscription. ${PURCHASE_HINT}`,
      },
    };
  }
  const warning = sku.prepaidUnits?.warning ?? 0;
  const enabled = (sku.prepaidUnits?.enabled ?? 0) + warning;
  const consumed = sku.consumedUnits ?? 0;
  const available = Math.max(0, enabled - consumed);
  const stock: CheckLicenseAvailabilityOutput = {
    needed,
    skuId: sku.skuId,
    skuPartNumber: RESOURCE_ACCOUNT_SKU_PART_NUMBER,
    enabled,
    ...(warning > 0 ? { warning } : {}),
    consumed,
    available,
    servicePlanIds: (sku.servicePlans ?? []).map((plan) => plan.servicePlanId).filter((id): id is string => typeof id === 'string'),
  };
  const status = sku.capabilityStatus ?? 'Enabled';
  if (!ASSIGNABLE_STATUSES.has(status) && needed > 0) {
    const units = sku.prepaidUnits;
    const held = (units?.suspended ?? 0) + (units?.lockedOut ?? 0);
    return {
      stock,
      problem: {
        type: ErrorType.LicenseSubscriptionInactive,
        message: `The tenant's ${RESOURCE_ACCOUNT_SKU_PART_NUMBER} subscription is ${status}: its ${held} unit${held === 1 ? '' : 's'} cannot be assigned. ` +
          'Reactivate or renew it in the Microsoft 365 admin center > Billing > Your products, or buy new "Microsoft Teams Phone Resource Account" ' +
          'licenses there (Billing > Purchase services > Add-ons), then retry.',
        details: { capabilityStatus: status, ...units },
      },
    };
  }
  if (available < needed) {
    return {
      stock,
      problem: {
        type: ErrorType.LicensesInsufficient,
        message: `Need ${needed} free Teams Phone Resource Account license${needed === 1 ? '' : 's'} but ${available} of ${enabled} are free. ${PURCHASE_HINT}`,
        details: { needed, available, enabled, consumed },
      },
    };
  }
  return { stock };
}

export function createLicenseActivities({ graph }: LicenseActivityDeps) {
  return {
    async checkLicenseAvailability({ upn, needed }: CheckLicenseAvailabilityInput): Promise<CheckLicenseAvailabilityOutput> {
      const sku = await findSubscribedSku(graph);
      const holder = needed > 0 && sku?.skuId ? await findUserByUpn(graph, upn) : undefined;
      const stillNeeded = (holder?.assignedLicenses ?? []).some((l) => l.skuId === sku?.skuId) ? needed - 1 : needed;
      const { stock, problem } = assessLicenseStock(sku, stillNeeded);
      if (problem) {
        throw ApplicationFailure.create({
          type: problem.type,
          nonRetryable: true,
          message: problem.message,
          ...(problem.details ? { details: [problem.details] } : {}),
        });
      }
      return stock;
    },
  };
}
