/** Step 1: are there enough free Teams Phone Resource Account licenses? (Graph subscribedSkus) */
import type { Client } from '@microsoft/microsoft-graph-client';
import type { SubscribedSku, User } from '@microsoft/microsoft-graph-types';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../../lib/microsoft';
import type { CheckLicenseAvailabilityInput, CheckLicenseAvailabilityOutput } from '../types';
import { call, callUnlessMissing } from './errors';

const PURCHASE_HINT =
  'Buy "Microsoft Teams Phone Resource Account" licenses (free within the tenant\'s allocation, but they must still be bought) in the ' +
  'Microsoft 365 admin center > Billing > Purchase services > Add-ons, untick automatic assignment, then retry.';

export interface LicenseActivityDeps {
  graph: Client;
}

export function createLicenseActivities({ graph }: LicenseActivityDeps) {
  /** Finds the resource-account SKU by part number (skuIds differ between clouds; never hard-code them). */
  async function findResourceAccountSku(): Promise<SubscribedSku | undefined> {
    const skus = await call({ action: 'read the tenant\'s subscribed SKUs', permission: 'Organization.Read.All' }, () =>
      graph.api('/subscribedSkus').select(['skuId', 'skuPartNumber', 'prepaidUnits', 'consumedUnits', 'capabilityStatus']).get(),
    );
    // subscribedSkus supports no $filter; filter here.
    return (skus.value as SubscribedSku[]).find(
      (sku) => sku.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER && sku.capabilityStatus !== 'Deleted' && sku.capabilityStatus !== 'LockedOut',
    );
  }

  async function holdsLicense(upn: string, skuId: string): Promise<boolean> {
    const user: User | undefined = await callUnlessMissing({ action: `read ${upn}'s licenses`, permission: 'User.Read.All' }, () =>
      graph.api(`/users/${encodeURIComponent(upn)}`).select(['id', 'assignedLicenses']).get(),
    );
    return (user?.assignedLicenses ?? []).some((l) => l.skuId === skuId);
  }

  return {
    async checkLicenseAvailability({ upn, needed }: CheckLicenseAvailabilityInput): Promise<CheckLicenseAvailabilityOutput> {
      const sku = await findResourceAccountSku();
      if (!sku?.skuId) {
        throw ApplicationFailure.create({
          type: ErrorType.LicenseSkuMissing,
          nonRetryable: true,
          message: `The tenant has no ${RESOURCE_ACCOUNT_SKU_PART_NUMBER} subscription. ${PURCHASE_HINT}`,
        });
      }
      const enabled = sku.prepaidUnits?.enabled ?? 0;
      const consumed = sku.consumedUnits ?? 0;
      const available = Math.max(0, enabled - consumed);
      const stillNeeded = needed > 0 && (await holdsLicense(upn, sku.skuId)) ? needed - 1 : needed;
      if (available < stillNeeded) {
        throw ApplicationFailure.create({
          type: ErrorType.LicensesInsufficient,
          nonRetryable: true,
          message: `Need ${stillNeeded} free Teams Phone Resource Account license${stillNeeded === 1 ? '' : 's'} but ${available} of ${enabled} are free. ${PURCHASE_HINT}`,
          details: [{ needed: stillNeeded, available, enabled, consumed }],
        });
      }
      return { needed: stillNeeded, skuId: sku.skuId, skuPartNumber: RESOURCE_ACCOUNT_SKU_PART_NUMBER, enabled, consumed, available };
    },
  };
}
