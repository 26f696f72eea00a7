/**
 * Steps 3 and 4 on the directory user behind the resource account (Graph users): usage location,
 * license, and the wait until the license is provisioned; plus their undo steps.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import type { User } from '@microsoft/microsoft-graph-types';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_SERVICE_PLAN_ID, TEAMS_TELEPHONY_SERVICE } from '../../lib/microsoft';
import { pollUntil, previousDetails } from '../polling';
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

const USER_WRITE = 'User.ReadWrite.All';
const LICENSE_WRITE = 'LicenseAssignment.ReadWrite.All (or User.ReadWrite.All)';

export interface AccountActivityDeps {
  graph: Client;
  /** Cadence of the propagation wait. */
  polling?: PollingOptions;
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

interface TeamsUserConfiguration {
  featureTypes?: string[];
}

export function createAccountActivities({ graph, polling }: AccountActivityDeps) {
  async function readUser(accountId: string, select: string[]): Promise<User> {
    return call({ action: `read account ${accountId}`, permission: 'User.Read.All', classify: notYetVisible(accountId) }, () =>
      graph.api(`/users/${accountId}`).select(select).get(),
    );
  }

  /** Teams' own view; optional, since it may not list resource accounts in every tenant or be permitted. */
  async function teamsSeesLicense(accountId: string): Promise<boolean | undefined> {
    try {
      const config = (await graph.api(`/admin/teams/userConfigurations/${accountId}`).get()) as TeamsUserConfiguration;
      return (config.featureTypes ?? []).length > 0;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404 || status === 403) return undefined;
      throw err;
    }
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
                message: `${e.message} Another process used the last free license; buy more "Microsoft Teams Phone Resource Account" licenses, then retry.`,
              });
            }
            return undefined;
          },
        },
        () => graph.api(`/users/${accountId}/assignLicense`).post({ addLicenses: [{ skuId, disabledPlans: [] }], removeLicenses: [] }),
      );
      return { usageLocationChanged, licenseAdded: true };
    },

    async waitForLicense({ accountId }: WaitForLicenseInput): Promise<WaitForLicenseOutput> {
      const before = previousDetails<{ checks: number }>().checks ?? 0;
      let state = 'not checked yet';
      const result = await pollUntil(
        polling,
        async () => {
          const user = await readUser(accountId, ['id', 'assignedPlans', 'provisionedPlans']);
          const plan = (user.assignedPlans ?? []).find((p) => p.servicePlanId === RESOURCE_ACCOUNT_SERVICE_PLAN_ID);
          if (!plan) {
            state = 'the resource-account service plan is not among the assigned plans';
            return { done: false };
          }
          if (plan.capabilityStatus !== 'Enabled') {
            state = `the service plan is ${plan.capabilityStatus}`;
            return { done: false };
          }
          const provisioning = (user.provisionedPlans ?? []).filter((p) => p.service === TEAMS_TELEPHONY_SERVICE);
          if (provisioning.length === 0 || provisioning.some((p) => p.provisioningStatus !== 'Success')) {
            state = `Teams telephony provisioning is ${provisioning.map((p) => p.provisioningStatus).join(', ') || 'not started'}`;
            return { done: false };
          }
          const teams = await call({ action: `read the Teams configuration of ${accountId}`, permission: 'TeamsUserConfiguration.Read.All' }, () =>
            teamsSeesLicense(accountId),
          );
          if (teams === false) {
            state = 'the directory shows the license provisioned but Teams does not list its features yet';
            return { done: false };
          }
          return { done: true };
        },
        (checks) => Context.current().heartbeat({ checks: before + checks }),
      );
      if (!result.done) {
        throw ApplicationFailure.create({
          type: ErrorType.LicenseNotYetProvisioned,
          message: `License not ready on ${accountId} after ${before + result.checks} checks: ${state}`,
        });
      }
      return { checks: before + result.checks };
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

    async deleteResourceAccount({ accountId }: DeleteResourceAccountInput): Promise<DeleteResourceAccountOutput> {
      const deleted = await callUnlessMissing({ action: `delete account ${accountId}`, permission: USER_WRITE }, async () => {
        await graph.api(`/users/${accountId}`).delete();
        return true;
      });
      return { deleted: deleted === true };
    },
  };
}
