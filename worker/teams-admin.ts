/** Chooses the TeamsAdmin adapter the worker's config names. */
import type { TokenCredential } from '@azure/identity';
import type { ServiceCallMetrics } from '../activities/metrics';
import type { Pacer } from '../activities/pacing';
import { createPowerShellTeamsAdmin, simulatorPowerShellHost } from '../activities/teams-admin/powershell';
import { RestTeamsAdmin } from '../activities/teams-admin/rest-client';
import type { TeamsAdmin } from '../activities/teams-admin/teams-admin';
import type { TenantConfig } from './config';

/**
 * The adapter for `tenant`. With `powershell` against the simulator, the session runs the simulator's
 * stand-in for `pwsh` (same JSON command contract, the Teams admin routes behind it); against a real
 * tenant it runs the shipped script under PowerShell 7.
 */
export function createTeamsAdmin(tenant: TenantConfig, credential: TokenCredential, pacer?: Pacer, metrics?: ServiceCallMetrics): TeamsAdmin {
  const { teamsAdmin } = tenant;
  if (teamsAdmin.adapter === 'rest-experimental') {
    return new RestTeamsAdmin({ credential, baseUrl: tenant.teamsAdminBaseUrl, ...(pacer ? { pacer } : {}), ...(metrics ? { metrics } : {}) });
  }
  const host = tenant.mode === 'simulator' ? simulatorPowerShellHost(tenant.teamsAdminBaseUrl) : { command: teamsAdmin.pwshPath };
  return createPowerShellTeamsAdmin({
    ...host,
    credential,
    tenantId: tenant.tenantId,
    commandTimeoutMs: teamsAdmin.commandTimeoutMs,
    sessions: teamsAdmin.sessions,
    ...(pacer ? { pacer } : {}),
    ...(metrics ? { metrics } : {}),
  });
}
