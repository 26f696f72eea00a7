/** Builds every activity from injected clients; the worker is the only caller in production. */
import type { Client } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { EXPECTED_ERROR_TYPES } from '../lib/error-types';
import type { ErrorTypeName } from '../lib/error-types';
import { createBatchActivities } from './batch';
import { createAccountActivities } from './graph/accounts';
import { createLicenseActivities } from './graph/licenses';
import { NumberWatch } from './graph/number-watch';
import { createNumberActivities } from './graph/numbers';
import { TenantReads } from './graph/shared-reads';
import { createLicensingActivities } from './licensing/activities';
import { ManualProcurement } from './licensing/manual';
import type { LicenseProcurement } from './licensing/procurement';
import { NO_NOTIFICATIONS, createNotificationActivities } from './notifications';
import type { NotificationSettings } from './notifications';
import type { PollingOptions } from './polling';
import { createPreflightActivities } from './preflight';
import { createResourceAccountActivities } from './teams-admin/accounts';
import { createAssociationActivities } from './teams-admin/associations';
import type { TeamsAdmin } from './teams-admin/teams-admin';
import type { Activities } from './types';
import type { DeletedAccountPolicy } from '../lib/validation';

export interface ActivityDeps {
  graph: Client;
  teamsAdmin: TeamsAdmin;
  /** Cadence of in-activity condition polling (license propagation, number operations). */
  polling?: PollingOptions;
  /** The shared number watch; one is made when not given (one per set of activities, so one per worker process). */
  numberWatch?: NumberWatch;
  /** The shared tenant-wide reads of the pre-flight; made when not given, like the number watch. */
  tenantReads?: TenantReads;
  /** What to do when a deleted account holds a UPN being provisioned, unless a run says otherwise. Default `stop`. */
  onDeletedAccount?: DeletedAccountPolicy;
  /** How licenses are bought when runs are short (worker/procurement-config.ts). Default `manual`: a person buys. */
  procurement?: LicenseProcurement;
  /** Who else receives every event, and how events are signed and delivered (worker/notify-config.ts). Default: no receivers of the operator's, no secret. */
  notifications?: NotificationSettings;
}

export function createActivities(deps: ActivityDeps): Activities {
  // One watch for the pre-flight's lookups and the number step's: concurrent runs share its reads.
  const numberWatch = deps.numberWatch ?? new NumberWatch(deps.graph, deps.polling);
  const activities: Activities = {
    ...createPreflightActivities({ ...deps, numberWatch, tenantReads: deps.tenantReads ?? new TenantReads(deps.graph) }),
    ...createBatchActivities(deps),
    ...createLicenseActivities(deps),
    ...createResourceAccountActivities(deps),
    ...createAccountActivities(deps),
    ...createNumberActivities({ ...deps, numberWatch }),
    ...createAssociationActivities(deps),
    ...createLicensingActivities({ procurement: deps.procurement ?? new ManualProcurement() }),
    ...createNotificationActivities(deps.notifications ?? NO_NOTIFICATIONS),
  };
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, benign(fn)])) as unknown as Activities;
}

/**
 * Failures that are part of normal operation (a wait's "not yet", anything a person must fix) are
 * marked benign and carry no stack: the worker logs them at debug level and does not count them as
 * activity errors. Unexpected failures keep their stack.
 */
function benign<I, O>(fn: (input: I) => Promise<O>): (input: I) => Promise<O> {
  return async (input) => {
    try {
      return await fn(input);
    } catch (err) {
      if (!(err instanceof ApplicationFailure) || err.category !== undefined || !EXPECTED_ERROR_TYPES.includes(err.type as ErrorTypeName)) throw err;
      const expected = ApplicationFailure.create({
        type: err.type ?? undefined,
        message: err.message,
        nonRetryable: err.nonRetryable ?? undefined,
        details: err.details ?? undefined,
        ...(err.nextRetryDelay !== undefined ? { nextRetryDelay: err.nextRetryDelay } : {}),
        category: ApplicationFailureCategory.BENIGN,
      });
      // No frames: the Web UI shows a pending activity's last failure, and for an expected one a stack
      // trace (with the worker's file paths) only looks like a crash.
      expected.stack = `${expected.name}: ${expected.message}`;
      throw expected;
    }
  };
}

export type { Activities } from './types';
