/** Builds every activity from injected clients; the worker is the only caller in production. */
import type { Client } from '@microsoft/microsoft-graph-client';
import { createAccountActivities } from './graph/accounts';
import { createLicenseActivities } from './graph/licenses';
import { createNumberActivities } from './graph/numbers';
import type { PollingOptions } from './polling';
import { createResourceAccountActivities } from './teams-admin/accounts';
import type { TeamsAdminClient } from './teams-admin/client';
import type { Activities } from './types';
import type { DeletedAccountPolicy } from '../lib/validation';

export interface ActivityDeps {
  graph: Client;
  teamsAdmin: TeamsAdminClient;
  /** Cadence of in-activity condition polling (license propagation, number operations). */
  polling?: PollingOptions;
  /** What to do when a deleted account holds a UPN being provisioned, unless a run says otherwise. Default `stop`. */
  onDeletedAccount?: DeletedAccountPolicy;
}

export function createActivities(deps: ActivityDeps): Activities {
  return {
    ...createLicenseActivities(deps),
    ...createResourceAccountActivities(deps),
    ...createAccountActivities(deps),
    ...createNumberActivities(deps),
  };
}

export type { Activities } from './types';
