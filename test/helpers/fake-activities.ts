/**
 * Activities of the real `Activities` type with scripted behaviour, for workflow tests that need
 * failure modes on cue (the simulator-backed tests cover the real activities end to end).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities/types';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';

const NOTIFICATION_ACTIVITIES = ['notificationTargets', 'postNotification'];

export type Calls = Array<{ name: keyof Activities; input: unknown }>;

export function scriptedActivities(overrides: Partial<Activities> = {}): { activities: Activities; calls: Calls } {
  const calls: Calls = [];
  const base: Activities = {
    async planBatch() {
      throw new Error('scripted activities plan no batches: use the simulator-backed stack');
    },
    async describeLicensePurchase({ shortfall }) {
      return { kind: 'manual', canPurchase: false, shortfall, instructions: `Buy ${shortfall} in the Microsoft 365 admin center > Billing > Purchase services.` };
    },
    async purchaseLicenses() {
      throw ApplicationFailure.nonRetryable('scripted activities buy nothing', 'PurchaseNotSupported');
    },
    async readLicenseStock() {
      return { free: 25, enabled: 25 };
    },
    async followRuns() {
      return { runs: [] };
    },
    async notificationTargets({ callers }) {
      return { targets: callers, retryWindowMs: 60_000 };
    },
    async postNotification() {
      throw ApplicationFailure.nonRetryable('scripted activities send no notifications', 'NotificationRejected');
    },
    async preflight() {
      return {
        problems: [],
        license: { needed: 1, skuId: RESOURCE_ACCOUNT_SKU_ID, skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', enabled: 25, consumed: 0, available: 25 },
        account: { state: 'absent' },
        number: { numberType: 'callingPlan', isoCountryCode: 'US', onThisAccount: false },
      };
    },
    async checkLicenseAvailability() {
      return { needed: 1, skuId: RESOURCE_ACCOUNT_SKU_ID, skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', enabled: 25, consumed: 0, available: 25 };
    },
    async createResourceAccount() {
      return { accountId: 'acc-1', adopted: false };
    },
    async assignLicense() {
      return { usageLocationChanged: true, licenseAdded: true };
    },
    async waitForLicense() {
      return { checks: 3 };
    },
    async assignPhoneNumber() {
      return { assigned: true, alreadyAssigned: false, operationId: 'op-1', checks: 2 };
    },
    async associateAccount() {
      return { associated: true, alreadyAssociated: false };
    },
    async removeAssociation() {
      return { removed: true };
    },
    async unassignPhoneNumber() {
      return { unassigned: true };
    },
    async removeLicense() {
      return { removed: true };
    },
    async deleteResourceAccount() {
      return { deleted: true };
    },
  };
  const merged = { ...base, ...overrides };
  const activities = Object.fromEntries(
    Object.entries(merged).map(([name, fn]) => [
      name,
      async (input: unknown) => {
        // The calls are the tenant's; who receives a notification is the worker's own business.
        if (!NOTIFICATION_ACTIVITIES.includes(name)) calls.push({ name: name as keyof Activities, input });
        return (fn as (i: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as Activities;
  return { activities, calls };
}

export function personMustFix(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
