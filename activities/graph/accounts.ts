/**
 * Steps 3 and 4 on the directory user behind the resource account (Graph users): usage location,
 * license, and the wait until the license is provisioned; plus their undo steps.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import type { User } from '@microsoft/microsoft-graph-types';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { DEFAULT_POLLING, previousDetails } from '../polling';
import { LicenseWatch } from './license-watch';
import type { PollingOptions } from '../polling';
import type {
  AssignLicenseInput,
  AssignLicenseOutput,
  DeleteResourceAccountInput,
  DeleteResourceAccountOutput,
  RemoveLicenseInput,
  RemoveLicenseOutput,
  WaitForLicenseInput,
  WaitForLicenseOutput,
} from '../types';
import { call, callUnlessMissing } from './errors';
import type { ServiceError } from './errors';
import { PURCHASE_HINT, findSubscribedSku } from './licenses';
import { numbersAssignedTo } from './number-inventory';

const USER_WRITE = 'User.ReadWrite.All';
const LICENSE_WRITE = 'LicenseAssignment.ReadWrite.All (or User.ReadWrite.All)';

export interface AccountActivityDeps {
  graph: Client;
  /** Cadence of the propagation wait: the shared watch looks every `maxIntervalMs`. */
  polling?: PollingOptions;
  /** The process's shared license watch; one is made when not given. */
  licenseWatch?: LicenseWatch;
}

/** Graph answers 404 for an object a replica has not seen yet; for an id we just created that means "wait". */
function notYetVisible(accountId: string) {
  return (e: ServiceError) =>
    e.status === 404
      ? ApplicationFailure.create({
          type: ErrorType.NotYetVisible,
          message: `Account ${accountId} is not visible in the directory yet (replication lag): ${e.message}`,
        })
      : undefined;
}

/** What an attempt leaves of its start-to-close time for its last heartbeat and answer. */
const ATTEMPT_MARGIN_MS = 60_000;

export function createAccountActivities({ graph, polling, licenseWatch = new LicenseWatch(graph, polling?.maxIntervalMs ?? DEFAULT_POLLING.maxIntervalMs) }: AccountActivityDeps) {
  async function readUser(accountId: string, select: string[]): Promise<User> {
    return call({ action: `read account ${accountId}`, permission: 'User.Read.All', classify: notYetVisible(accountId) }, () =>
      graph.api(`/users/${accountId}`).select(select).get(),
    );
  }

  /** The service plans of a SKU as the tenant names them (for runs whose license check did not pass them on). */
  async function servicePlansOf(skuId: string | undefined): Promise<string[]> {
    const sku = await findSubscribedSku(graph, skuId);
    return (sku?.servicePlans ?? []).map((plan) => plan.servicePlanId).filter((id): id is string => typeof id === 'string');
  }

  return {
    async assignLicense({ accountId, usageLocation, skuId }: AssignLicenseInput): Promise<AssignLicenseOutput> {
      const user = await readUser(accountId, ['id', 'usageLocation', 'assignedLicenses']);
      let usageLocationChanged = false;
      if (user.usageLocation !== usageLocation) {
        await call(
          {
            action: `set the usage location of ${accountId} to ${usageLocation}`,
            permission: USER_WRITE,
            classify: (e) =>
              notYetVisible(accountId)(e) ??
              (e.status === 400 && /usageLocation/i.test(e.message)
                ? ApplicationFailure.create({
                    type: ErrorType.UsageLocationInvalid,
                    nonRetryable: true,
                    message: `The directory refused usage location "${usageLocation}": ${e.message} Use the ISO 3166 code of the country the number belongs to.`,
                  })
                : undefined),
          },
          () => graph.api(`/users/${accountId}`).patch({ usageLocation }),
        );
        usageLocationChanged = true;
      }
      if ((user.assignedLicenses ?? []).some((l) => l.skuId === skuId)) {
        return { usageLocationChanged, licenseAdded: false };
      }
      await call(
        {
          action: `assign the Teams Phone Resource Account license to ${accountId}`,
          permission: LICENSE_WRITE,
          classify: (e) => {
            const visible = notYetVisible(accountId)(e);
            if (visible) return visible;
            if (e.status !== 400) return undefined;
            if (/invalid usage location/i.test(e.message)) {
              // Right after the PATCH a replica may still lack the usage location: retry, don't fail.
              return ApplicationFailure.create({ type: ErrorType.NotYetVisible, message: `Usage location not replicated yet: ${e.message}` });
            }
            if (/does not have any available licenses/i.test(e.message)) {
              return ApplicationFailure.create({
                type: ErrorType.LicensesInsufficient,
                nonRetryable: true,
                message: `${e.message} No free unit was left when the license was assigned (another run may have taken the last one, ` +
                  `and the tenant's count of used units can lag behind). ${PURCHASE_HINT}`,
              });
            }
            return undefined;
          },
        },
        () => graph.api(`/users/${accountId}/assignLicense`).post({ addLicenses: [{ skuId, disabledPlans: [] }], removeLicenses: [] }),
      );
      return { usageLocationChanged, licenseAdded: true };
    },

    /**
     * Waits until the directory shows the license's service plans provisioned: each plan of the SKU
     * (ids from the tenant's subscribedSkus, not hard-coded) is Enabled in assignedPlans, and every
     * provisionedPlans entry of those plans' services is Success. Teams' own view is not asked: Graph's
     * userConfigurations may not list resource accounts at all. Teams may still lag behind; the number
     * step retries until Teams accepts the number.
     */
    async waitForLicense({ accountId, skuId, servicePlanIds }: WaitForLicenseInput): Promise<WaitForLicenseOutput> {
      const ctx = Context.current();
      const before = previousDetails<{ checks: number }>().checks ?? 0;
      const planIds = new Set((servicePlanIds && servicePlanIds.length > 0 ? servicePlanIds : await servicePlansOf(skuId)).map((id) => id.toLowerCase()));
      // The watch is shared, so an attempt may wait most of its start-to-close time at no extra cost.
      const budgetMs = Math.max(polling?.budgetMs ?? DEFAULT_POLLING.budgetMs, ctx.info.startToCloseTimeoutMs - ATTEMPT_MARGIN_MS);
      const result = await licenseWatch.wait({ accountId, skuId, planIds }, budgetMs, (looks) => ctx.heartbeat({ checks: before + looks }), ctx.cancelled);
      if (!result.done) {
        throw ApplicationFailure.create({
          type: ErrorType.LicenseNotYetProvisioned,
          message: `License not ready on ${accountId} after ${before + result.looks} checks: ${result.state}`,
        });
      }
      return { checks: before + result.looks };
    },

    async removeLicense({ accountId, skuId }: RemoveLicenseInput): Promise<RemoveLicenseOutput> {
      const user: User | undefined = await callUnlessMissing({ action: `read account ${accountId}`, permission: 'User.Read.All' }, () =>
        graph.api(`/users/${accountId}`).select(['id', 'assignedLicenses']).get(),
      );
      if (!(user?.assignedLicenses ?? []).some((l) => l.skuId === skuId)) return { removed: false };
      await call({ action: `remove the license from ${accountId}`, permission: LICENSE_WRITE }, () =>
        graph.api(`/users/${accountId}/assignLicense`).post({ addLicenses: [], removeLicenses: [skuId] }),
      );
      return { removed: true };
    },

    /**
     * Deletes the account, never while a number is on it: Teams would leave that number "stuck in
     * pending mode" (manage-resource-accounts). Deleted accounts stay 30 days in Entra's deleted users.
     */
    async deleteResourceAccount({ accountId }: DeleteResourceAccountInput): Promise<DeleteResourceAccountOutput> {
      const held = await numbersAssignedTo(graph, accountId);
      if (held.length > 0) {
        throw ApplicationFailure.create({
          type: ErrorType.AccountHoldsNumber,
          nonRetryable: true,
          message: `Not deleting ${accountId}: it still holds ${held.map((n) => `${n.telephoneNumber}${n.activationState && n.activationState !== 'activated' ? ` (${n.activationState})` : ''}`).join(', ')}. ` +
            'Deleting it now would leave the number stuck pending. Unassign the number (Teams admin center > Voice > Phone numbers), then retry.',
        });
      }
      const deleted = await callUnlessMissing({ action: `delete account ${accountId}`, permission: USER_WRITE }, async () => {
        await graph.api(`/users/${accountId}`).delete();
        return true;
      });
      return { deleted: deleted === true };
    },
  };
}
