/**
 * `dialtone doctor`: checks, read-only, that the worker's configuration can provision resource accounts
 * in its tenant, and says for each failure what to change and where. It reads the same configuration as
 * the worker (`loadWorkerConfig`), gets the same tokens through the same credential, and reads Graph
 * through the same client and lookups as the activities; it never writes to the tenant.
 *
 * Decisions (documented in the README, "Against a real tenant"):
 * - A check fails only when provisioning cannot work as configured. Zero free licenses or no free number
 *   in one country are warnings: a run waits for licenses, and a person chooses the number per run.
 * - Directory roles are read from the Teams token's `wids` claim: app-only tokens carry the template ids
 *   of the roles assigned to the app's service principal (example token in
 *   https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/1782; claim described in
 *   https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference), and that token
 *   is what the Teams admin service authorises from. Reading `/servicePrincipals/memberOf` instead would
 *   need Application.Read.All, which the worker does not otherwise need.
 * - Tokens are decoded, never verified (the service that receives them verifies) and never printed.
 */
import type { TokenCredential } from '@azure/identity';
import type { Client } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure } from '@temporalio/common';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createGraphClient } from '../activities/graph/client';
import { findSubscribedSku } from '../activities/graph/licenses';
import { listNumbers } from '../activities/graph/number-inventory';
import { isServiceNumber } from '../activities/number-checks';
import { verifiedDomains } from '../activities/graph/organization';
import { isTeamsAdminError } from '../activities/teams-admin/teams-admin';
import type { TeamsAdmin } from '../activities/teams-admin/teams-admin';
import { offerSelection } from '../activities/licensing/activities';
import { PartnerCenterClient } from '../activities/licensing/partner-center-client';
import type { PcSubscription } from '../activities/licensing/partner-center-client';
import { resolveOffer, subscriptionOf } from '../activities/licensing/partner-center-offer';
import type { ResolvedOffer } from '../activities/licensing/partner-center-offer';
import { procurementFailureDetails } from '../activities/licensing/procurement';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { temporal as temporalProtoNs } from '@temporalio/proto';
import { ConfigError, temporalConnectionOptions } from '../lib/config';
import type { TemporalConfig } from '../lib/config';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/provision-resource-account/definitions';
import { ErrorType } from '../lib/error-types';
import type { Env } from '../lib/config';
import { GRAPH_RESOURCE, PARTNER_CENTER_RESOURCE, RESOURCE_ACCOUNT_SKU_PART_NUMBER, TEAMS_ADMIN_RESOURCE } from '../lib/microsoft';
import { DEFAULT_SIMULATOR_TLS_DIR } from '../lib/paths';
import { loadWorkerConfig } from '../worker/config';
import type { AppIdentity, TenantConfig, WorkerConfig } from '../worker/config';
import { createCredential } from '../worker/credentials';
import { createTeamsAdmin } from '../worker/teams-admin';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  /** Stable id for machines (`--json`): config, temporal, token.graph, token.teams, graph.permissions, roles.teams, roles.user, licenses, numbers, domains, teams-admin, partner-center. */
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found (for a skip: why it was not checked). */
  detail: string;
  /** For a failure or warning: exactly what to do, with the portal path or the command. */
  fix?: string;
}

/** Builds the TeamsAdmin adapter the worker would use (`createTeamsAdmin` of worker/teams-admin.ts). */
export type TeamsAdminFactory = (tenant: TenantConfig, credential: TokenCredential) => TeamsAdmin | Promise<TeamsAdmin>;

/** Proves Partner Center access with the configured Partner Center app; resolves with the check's outcome. */
export type PartnerCenterProbe = (config: WorkerConfig, env: Env) => Promise<Omit<CheckResult, 'id' | 'title'>>;

export interface DoctorOptions {
  env: Env;
  /** Longest any one check may take. Default 30 s. */
  timeoutMs?: number;
  /** Default: the worker's own factory (`createTeamsAdmin`). */
  teamsAdmin?: TeamsAdminFactory;
  /** Default: {@link partnerCenterProbe}. */
  partnerCenter?: PartnerCenterProbe;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 30_000;

const ENTRA = 'Microsoft Entra admin center';
// Portal wording of Microsoft's quickstart, https://learn.microsoft.com/entra/identity-platform/quickstart-register-app
const APP_REGISTRATIONS = `${ENTRA} > Identity > Applications > App registrations`;
// https://learn.microsoft.com/entra/identity/role-based-access-control/manage-roles-portal
const ROLES_AND_ADMINS = `${ENTRA} > Identity > Roles & admins > Roles & admins`;

/** Directory role template ids (Microsoft Entra built-in roles, https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference). */
const ROLE_IDS = {
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Teams Administrator': '69091246-20e8-4a56-aa4d-066075b2a7a8',
  'Teams Communications Administrator': 'baf37b3a-610e-45da-9e62-d9d1e5e8914b',
  'Teams Telephony Administrator': 'aa38014f-0993-46e9-9b45-30501a20909d',
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
} as const;
type RoleName = keyof typeof ROLE_IDS;

/**
 * Graph application permissions the activities need, each with the least privileged one to grant and
 * the others Graph also accepts (the permission tables of the Graph calls named in `what`).
 */
interface GraphNeed {
  grant: string;
  alsoAccepted: readonly string[];
  what: string;
}

const GRAPH_NEEDS: readonly GraphNeed[] = [
  {
    // Each of these four reads both (https://learn.microsoft.com/graph/api/subscribedsku-list,
    // https://learn.microsoft.com/graph/api/organization-list); LicenseAssignment.Read.All reads subscribedSkus only.
    grant: 'Organization.Read.All',
    alsoAccepted: ['Organization.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
    what: 'read the license stock (GET /subscribedSkus) and the verified domains (GET /organization)',
  },
  {
    grant: 'User.ReadWrite.All',
    alsoAccepted: ['Directory.ReadWrite.All'],
    what: 'read resource accounts and set their usage location (GET/PATCH /users)',
  },
  {
    grant: 'LicenseAssignment.ReadWrite.All',
    alsoAccepted: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
    what: 'assign and remove the license (POST /users/{id}/assignLicense)',
  },
  {
    grant: 'TeamsTelephoneNumber.ReadWrite.All',
    alsoAccepted: [],
    what: 'read the number inventory and assign service numbers (telephoneNumberManagement)',
  },
];

/** Restore or purge of a deleted account that holds the UPN (directory/deletedItems). */
const DELETE_RESTORE: GraphNeed = {
  grant: 'User.DeleteRestore.All',
  alsoAccepted: [],
  what: 'restore or permanently delete a deleted account that holds the UPN (directory/deletedItems)',
};

const TEAMS_ROLES: readonly RoleName[] = ['Teams Administrator', 'Teams Communications Administrator', 'Teams Telephony Administrator', 'Global Administrator'];
const USER_ROLES: readonly RoleName[] = ['User Administrator', 'Global Administrator'];

export function grantPermissionFix(permission: string): string {
  return `${APP_REGISTRATIONS} > <this app> > API permissions > Add a permission > Microsoft Graph > Application permissions > ${permission}, then Grant admin consent`;
}

export function assignRoleFix(role: RoleName, servicePrincipalId: string | undefined): string {
  const principal = servicePrincipalId ?? '<object id of the app\'s service principal: Enterprise applications > <this app> > Object ID>';
  return `${ROLES_AND_ADMINS} > ${role} > Add assignments > select this app; or with Microsoft Graph PowerShell: ` +
    `New-MgRoleManagementDirectoryRoleAssignment -PrincipalId ${principal} -RoleDefinitionId ${ROLE_IDS[role]} -DirectoryScopeId "/". ` +
    'A new role reaches tokens issued after it is assigned (tokens live up to an hour).';
}

/** The variables and portal pages that hold one app's identity and credential, for the fixes. */
interface AppVariables {
  tenantId: string;
  clientId: string;
  secret: string;
  certificate: string;
  certificatePassword: string;
  /** Every credential variable, for "set one of". */
  anyCredential: string;
  /** Where the app's secrets and certificates are managed. */
  credentialsPage: string;
  /** Where its client and tenant ids are shown. */
  overviewPage: string;
  /** Where the tenant id is shown. */
  tenantPage: string;
}

const WORKER_APP: AppVariables = {
  tenantId: 'AZURE_TENANT_ID',
  clientId: 'AZURE_CLIENT_ID',
  secret: 'AZURE_CLIENT_SECRET',
  certificate: 'AZURE_CLIENT_CERTIFICATE_PATH',
  certificatePassword: 'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  anyCredential: 'AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or DIALTONE_USE_MANAGED_IDENTITY=true',
  credentialsPage: `${APP_REGISTRATIONS} > <this app> > Certificates & secrets`,
  overviewPage: `${APP_REGISTRATIONS} > <this app> > Overview`,
  tenantPage: `${ENTRA} > Identity > Overview`,
};

/** The Partner Center app: registered in Partner Center, an app registration of the partner's own tenant. */
const PARTNER_CENTER_APP: AppVariables = {
  tenantId: 'DIALTONE_PARTNER_CENTER_TENANT_ID',
  clientId: 'DIALTONE_PARTNER_CENTER_CLIENT_ID',
  secret: 'DIALTONE_PARTNER_CENTER_CLIENT_SECRET',
  certificate: 'DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH',
  certificatePassword: 'DIALTONE_PARTNER_CENTER_CERTIFICATE_PASSWORD',
  anyCredential: 'DIALTONE_PARTNER_CENTER_CLIENT_SECRET or DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH',
  credentialsPage: `${ENTRA} of the partner's tenant > Identity > Applications > App registrations > <the Partner Center app> > Certificates & secrets`,
  overviewPage: 'Partner Center > Account settings > App management (the App ID) and the Entra admin center of the partner\'s tenant > Overview (the Tenant ID)',
  tenantPage: `${ENTRA} of the partner's tenant > Identity > Overview`,
};

/** AADSTS codes a client-credentials token request meets, with what they mean and the fix. */
function aadstsAdvice(code: string, app: AppIdentity, vars: AppVariables = WORKER_APP): { meaning: string; fix: string } {
  const page = vars.credentialsPage;
  switch (code) {
    case '7000215':
      return { meaning: 'invalid client secret', fix: `${page} > Client secrets > New client secret, then set ${vars.secret} to its Value (not its Secret ID)` };
    case '7000222':
      return { meaning: 'the client secret has expired', fix: `${page} > Client secrets > New client secret, then set ${vars.secret} to its Value; better, use a certificate (${vars.certificate})` };
    case '700027':
      return { meaning: 'the certificate is not registered on the app, or the assertion was not signed with it', fix: `${page} > Certificates > Upload certificate (the public certificate in ${vars.certificate})` };
    case '7000218':
      return { meaning: 'the request carried no client credential', fix: `set ${vars.anyCredential}` };
    case '700016':
      return {
        meaning: `no app with client id ${app.clientId} in tenant ${app.tenantId}`,
        fix: `set ${vars.clientId} to the Application (client) ID and ${vars.tenantId} to the Directory (tenant) ID shown on ${vars.overviewPage}`,
      };
    case '90002':
      return { meaning: `tenant ${app.tenantId} does not exist`, fix: `set ${vars.tenantId} to the Tenant ID on ${vars.tenantPage}` };
    case '500011':
      return { meaning: 'the resource is not present in the tenant', fix: 'the tenant needs Microsoft Teams (a Teams or Microsoft 365 subscription) before its admin API can be called' };
    case '7000112':
      return { meaning: 'the app is disabled', fix: `${ENTRA} > Identity > Applications > Enterprise applications > <this app> > Properties > Enabled for users to sign-in? > Yes` };
    default:
      return { meaning: 'token request refused', fix: `look the code up at https://login.microsoftonline.com/error?code=${code}` };
  }
}

/** Message of an error, first line only, with every secret of the configuration cut out. */
function safeMessage(err: unknown, secrets: readonly string[], limit = 400): string {
  let text = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim() ?? '';
  for (const secret of secrets) if (secret.length > 0) text = text.split(secret).join('[redacted]');
  // Entra appends trace/correlation ids and a timestamp: noise in a checklist.
  return text.replace(/\s*Trace ID:.*$/, '').slice(0, limit);
}

function secretsOf(tenant: AppIdentity): string[] {
  const { credential } = tenant;
  if (credential.kind === 'secret') return [credential.secret];
  if (credential.kind === 'certificate' && credential.certificatePassword) return [credential.certificatePassword];
  return [];
}

/** The payload of a JWT, decoded without verification. */
function claimsOf(token: string): { roles?: string[]; wids?: string[]; oid?: string; app_displayname?: string; tid?: string } {
  const payload = token.split('.')[1];
  if (payload === undefined) return {};
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ReturnType<typeof claimsOf>;
  } catch {
    return {};
  }
}

class CheckTimeout extends Error {}

async function withTimeout<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Partner Center access as the worker would use it: its settings (worker/procurement-config.ts), a token
 * for Partner Center from the partner's tenant with the Partner Center app's credential (the same
 * credential builder as the worker's), a read of the customer's subscriptions
 * (https://learn.microsoft.com/partner-center/developer/get-all-of-a-customer-s-subscriptions), and the
 * catalog offer a purchase would buy, chosen as the adapter chooses it (partner-center-offer.ts), so a
 * missing or ambiguous offer fails here and not at the first approval.
 */
export const partnerCenterProbe: PartnerCenterProbe = async (config) => {
  const settings = config.procurement;
  if (settings.kind !== 'partner-center') return { status: 'skip', detail: 'not configured' };
  const { app } = settings;
  const secrets = [...secretsOf(app), ...secretsOf(config.tenant)];
  const credential = createCredential(app);
  const where = `app ${app.clientId} of partner tenant ${app.tenantId}`;
  let token: string;
  try {
    const issued = await credential.getToken(`${PARTNER_CENTER_RESOURCE}/.default`);
    if (!issued) return { status: 'fail', detail: 'the credential returned no token', fix: `check ${PARTNER_CENTER_APP.clientId} and the credential variables` };
    token = issued.token;
  } catch (err) {
    const failed = tokenFailure(err, app, secrets, PARTNER_CENTER_APP);
    return { ...failed, detail: `token for ${where}: ${failed.detail}` };
  }
  const client = new PartnerCenterClient({ credential, baseUrl: settings.baseUrl, app: { tenantId: app.tenantId, clientId: app.clientId } });
  let subscriptions: PcSubscription[];
  let offer: ResolvedOffer;
  try {
    subscriptions = (await client.listSubscriptions(settings.customerId)).items;
    offer = await resolveOffer(client, offerSelection(settings));
  } catch (err) {
    if (!(err instanceof ApplicationFailure)) throw err;
    const { status, fix, problem } = procurementFailureDetails(err);
    // The refusal's own words, without the advice the fix gives; catalog candidates may make it long.
    const detail = safeMessage(problem ? new Error(problem) : err, secrets, 1_000);
    if (err.type === 'PurchaseOfferNotFound') return { status: 'fail', detail, ...(fix ? { fix } : {}) };
    if (err.type !== 'PurchaseDenied') throw err;
    if (status === 403) {
      return { status: 'fail', detail, fix: `set DIALTONE_PARTNER_CENTER_CUSTOMER_ID to the id of a customer of this partner (Partner Center > Customers > the customer > Account > Microsoft ID), and give ${where} a role that may buy for it` };
    }
    const tokenTenant = claimsOf(token).tid;
    const fromCustomer = tokenTenant !== undefined && tokenTenant.toLowerCase() === config.tenant.tenantId.toLowerCase();
    return {
      status: 'fail',
      detail: fromCustomer ? `${detail}; the token came from the customer's tenant ${tokenTenant}, not the partner's` : detail,
      fix: 'Partner Center > Account settings > App management: register the app (its App ID is DIALTONE_PARTNER_CENTER_CLIENT_ID); ' +
        "DIALTONE_PARTNER_CENTER_TENANT_ID must be the partner's own tenant id, and the credential that app's (DIALTONE_PARTNER_CENTER_CLIENT_SECRET or DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH)",
    };
  }
  const subscription = subscriptionOf(subscriptions, offer);
  const bought = subscription
    ? `subscription ${subscription.id} quantity ${subscription.quantity} (${subscription.status})`
    : 'no subscription of it yet (a purchase would order through a cart)';
  return {
    status: 'pass',
    detail: `${where}: customer ${settings.customerId}: ${subscriptions.length} subscription${subscriptions.length === 1 ? '' : 's'} readable; ` +
      `offer ${offer.product.id}:${offer.sku.id} "${offer.sku.title}" (${settings.segment}, ${settings.termDuration}, billed ${settings.billingCycle}), ` +
      `availability ${offer.availability.catalogItemId}; ${bought}`,
  };
};

/** Runs every check in order; later checks are skipped when what they need failed. */
export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const results: CheckResult[] = [];
  const add = (result: CheckResult): CheckResult => {
    results.push(result);
    return result;
  };
  const skipAll = (ids: readonly [string, string][], reason: string): void => {
    for (const [id, title] of ids) add({ id, title, status: 'skip', detail: reason });
  };

  let config: WorkerConfig;
  try {
    config = loadWorkerConfig(options.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    add({ id: 'config', title: 'Configuration', status: 'fail', detail: err.problems.join('; '), fix: 'set the variables named above (README: Configuration)' });
    skipAll(LATER_CHECKS, 'skipped: the configuration is invalid');
    return results;
  }
  const { tenant } = config;
  const secrets = secretsOf(tenant);
  add({
    id: 'config',
    title: 'Configuration',
    status: 'pass',
    detail: `${tenant.mode} tenant ${tenant.tenantId}, app ${tenant.clientId}, credential: ${tenant.credential.kind}`,
  });

  add({ id: 'temporal', title: `Temporal ${config.temporal.address}`, ...(await checkTemporal(config.temporal, Math.min(timeoutMs, TEMPORAL_TIMEOUT_MS))) });

  const credential = createCredential(tenant);
  const hosts = [...new Set([tenant.authorityHost, tenant.graphBaseUrl].map((url) => new URL(url).host))].join(' and ');

  // (a) Every service the worker calls answers over TLS this process trusts: MSAL reports an untrusted
  // certificate only as "endpoints_resolution_error", so it is named here, with its fix, first.
  const origins = [...new Set([tenant.authorityHost, tenant.graphBaseUrl, tenant.teamsAdminBaseUrl,
    ...(config.procurement.kind === 'partner-center' ? [config.procurement.baseUrl] : [])].map((url) => new URL(url).origin))];
  const reach = add({ id: 'reach', title: `Reach ${origins.map((origin) => new URL(origin).host).join(', ')}`, ...(await checkReach(origins, tenant, Math.min(timeoutMs, REACH_TIMEOUT_MS))) });
  if (reach.status === 'fail') {
    skipAll(LATER_CHECKS.filter(([id]) => id !== 'reach'), 'skipped: the services are not reachable over trusted TLS (see above)');
    return results;
  }
  /** Runs one check under the timeout; a throw becomes a failure with a safe message. */
  const check = async (
    id: string,
    title: string,
    body: () => Promise<Omit<CheckResult, 'id' | 'title'>>,
    permission?: string,
  ): Promise<CheckResult> => {
    try {
      return add({ id, title, ...(await withTimeout(timeoutMs, body)) });
    } catch (err) {
      const denied = permission !== undefined && err instanceof ApplicationFailure && err.type === ErrorType.PermissionDenied;
      const fix = err instanceof CheckTimeout ? `check that this machine reaches ${hosts}, or raise --timeout`
        : denied ? grantPermissionFix(permission) : undefined;
      return add({ id, title, status: 'fail', detail: safeMessage(err, secrets), ...(fix ? { fix } : {}) });
    }
  };

  const tokens: Partial<Record<'graph' | 'teams', string>> = {};
  for (const [key, id, title, resource] of [
    ['graph', 'token.graph', 'Token for Microsoft Graph', GRAPH_RESOURCE],
    ['teams', 'token.teams', `Token for the Teams admin API (${TEAMS_ADMIN_RESOURCE})`, TEAMS_ADMIN_RESOURCE],
  ] as const) {
    await check(id, title, async () => {
      try {
        const token = await credential.getToken(`${resource}/.default`);
        if (!token) return { status: 'fail', detail: 'the credential returned no token', fix: 'check AZURE_CLIENT_ID and the credential variables' };
        tokens[key] = token.token;
        return { status: 'pass', detail: `issued, valid until ${new Date(token.expiresOnTimestamp).toISOString()}` };
      } catch (err) {
        if (err instanceof CheckTimeout) throw err;
        return tokenFailure(err, tenant, secrets);
      }
    });
  }

  // (b) Graph application permissions, from the Graph token's `roles` claim.
  if (tokens.graph === undefined) {
    skipAll([['graph.permissions', 'Graph application permissions']], 'skipped: no Graph token');
  } else {
    const roles = new Set(claimsOf(tokens.graph).roles ?? []);
    const missing = GRAPH_NEEDS.filter((need) => ![need.grant, ...need.alsoAccepted].some((p) => roles.has(p)));
    // Every run of a worker whose policy is restore or purge may need it; with `stop`, only a run that asks.
    const restoreMissing = !roles.has(DELETE_RESTORE.grant);
    if (restoreMissing && config.onDeletedAccount !== 'stop') missing.push(DELETE_RESTORE);
    const granted = [...roles].sort().join(', ') || 'none';
    if (missing.length > 0) {
      add({
        id: 'graph.permissions',
        title: 'Graph application permissions',
        status: 'fail',
        detail: `missing ${missing.map((need) => `${need.grant}, needed to ${need.what}`).join('; ')}. Granted: ${granted}`,
        fix: missing.map((need) => grantPermissionFix(need.grant)).join('\n'),
      });
    } else if (restoreMissing) {
      add({
        id: 'graph.permissions',
        title: 'Graph application permissions',
        status: 'warn',
        detail: `granted: ${granted}. Without ${DELETE_RESTORE.grant} a run cannot ${DELETE_RESTORE.what}; ` +
          'DIALTONE_ON_DELETED_ACCOUNT=stop does not need it, but a run that asks for onDeletedAccount restore or purge does',
        fix: grantPermissionFix(DELETE_RESTORE.grant),
      });
    } else {
      add({ id: 'graph.permissions', title: 'Graph application permissions', status: 'pass', detail: `granted: ${granted}` });
    }
  }

  // (c) Directory roles of the service principal, from the Teams token's `wids` claim.
  if (tokens.teams === undefined) {
    skipAll([['roles.teams', 'Teams admin role'], ['roles.user', 'User Administrator role']], 'skipped: no Teams admin token');
  } else {
    const claims = claimsOf(tokens.teams);
    const wids = new Set((claims.wids ?? []).map((id) => id.toLowerCase()));
    const held = (Object.keys(ROLE_IDS) as RoleName[]).filter((role) => wids.has(ROLE_IDS[role]));
    const heldText = held.length > 0 ? held.join(', ') : 'no directory role';
    const roleCheck = (id: string, title: string, anyOf: readonly RoleName[], advise: RoleName, why: string): void => {
      const has = anyOf.find((role) => held.includes(role));
      add(has
        ? { id, title, status: 'pass', detail: `the app's service principal holds ${has}` }
        : {
            id,
            title,
            status: 'fail',
            detail: `the app's service principal holds ${heldText}; ${why} needs ${anyOf.filter((r) => r !== 'Global Administrator').join(' or ')}`,
            fix: assignRoleFix(advise, claims.oid),
          });
    };
    roleCheck('roles.teams', 'Teams admin role', TEAMS_ROLES, 'Teams Telephony Administrator', 'managing resource accounts in Teams');
    roleCheck('roles.user', 'User Administrator role', USER_ROLES, 'User Administrator', 'creating resource accounts (New-CsOnlineApplicationInstance, since 2024)');
  }

  const graph: Client | undefined = tokens.graph === undefined ? undefined : createGraphClient({ credential, baseUrl: tenant.graphBaseUrl });
  const graphChecks: [string, string][] = [['licenses', `License ${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`], ['numbers', 'Service numbers'], ['domains', 'Verified domains']];
  if (!graph) {
    skipAll(graphChecks, 'skipped: no Graph token');
  } else {
    await check('licenses', `License ${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`, () => checkLicenses(graph), 'Organization.Read.All');
    await check('numbers', 'Service numbers', () => checkNumbers(graph), 'TeamsTelephoneNumber.ReadWrite.All');
    await check('domains', 'Verified domains', () => checkDomains(graph));
  }

  // (g) The TeamsAdmin adapter (PowerShell by default) reaching Teams with the app's identity.
  const factory = options.teamsAdmin ?? createTeamsAdmin;
  if (tokens.teams === undefined) {
    skipAll([['teams-admin', 'Teams admin adapter']], 'skipped: no Teams admin token');
  } else {
    await check('teams-admin', 'Teams admin adapter', () => checkTeamsAdmin(factory, tenant, credential, secrets));
  }

  // (h) Partner Center, only when licenses are bought through it.
  const procurement = config.procurement.kind;
  if (procurement !== 'partner-center') {
    skipAll([['partner-center', 'Partner Center access']], `skipped: not configured (DIALTONE_LICENSE_PROCUREMENT is ${procurement})`);
  } else {
    const probe = options.partnerCenter ?? partnerCenterProbe;
    // The probe turns Partner Center's refusals into failures with their fix; anything else fails as thrown.
    await check('partner-center', 'Partner Center access', () => probe(config, options.env));
  }
  return results;
}

/** Temporal answers quickly or not at all: a dead address should not hold the doctor for half a minute. */
const TEMPORAL_TIMEOUT_MS = 10_000;

/** A service that does not answer a plain HTTPS request in this time will not answer the checks either. */
const REACH_TIMEOUT_MS = 10_000;

/** Node's codes for a certificate it does not trust (https://nodejs.org/api/tls.html, X509 verification errors). */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'INVALID_CA', 'CERT_CHAIN_TOO_LONG', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The simulator's CA, as `npm start` and the simulator make it. */
export const SIMULATOR_CA_PATH = path.join(DEFAULT_SIMULATOR_TLS_DIR, 'ca.pem');

/** One plain HTTPS request per origin: any HTTP answer proves the name resolves, the port answers and TLS is trusted. */
async function checkReach(origins: readonly string[], tenant: TenantConfig, timeoutMs: number): Promise<Omit<CheckResult, 'id' | 'title'>> {
  const failures: { detail: string; fix: string }[] = [];
  for (const origin of origins) {
    const host = new URL(origin).host;
    try {
      const response = await fetch(origin, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await response.arrayBuffer();
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const code = cause?.code ?? (err instanceof Error ? err.name : '');
      if (UNTRUSTED_CERTIFICATE.has(code)) {
        failures.push({
          detail: `this machine does not trust the TLS certificate of ${host} (${code})`,
          fix: tenant.mode === 'simulator'
            ? `trust the simulator's CA: NODE_EXTRA_CA_CERTS=${SIMULATOR_CA_PATH} ` +
              `(npm start makes it; it must be the CA of the simulator that answers at ${host}, and is read only when the process starts)`
            : `if a proxy inspects TLS here, set NODE_EXTRA_CA_CERTS to its CA certificate (PEM); otherwise check the clock and that ${host} is Microsoft's`,
        });
      } else if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        failures.push({
          detail: `${host} does not answer (${code})`,
          fix: tenant.mode === 'simulator' ? `start the stack (npm start) or the simulator (npm run simulator), or set SIMULATOR_URL to where it runs` : `check that this machine reaches ${host} (DNS, firewall, proxy)`,
        });
      } else {
        failures.push({ detail: `${host}: ${cause?.message ?? (err instanceof Error ? err.message : String(err))}`, fix: `check that this machine reaches ${host}` });
      }
    }
  }
  if (failures.length === 0) return { status: 'pass', detail: `each answered over trusted TLS` };
  return { status: 'fail', detail: failures.map((f) => f.detail).join('; '), fix: [...new Set(failures.map((f) => f.fix))].join('\n') };
}

/**
 * What the worker and the API need of Temporal, through the same settings (a TOML profile and the
 * TEMPORAL_* variables, lib/config.ts): the server answers, the namespace exists, Dialtone's search
 * attributes are registered in it (a run's first upsert fails without them), and whether a worker
 * polls the task queue yet.
 */
async function checkTemporal(temporal: TemporalConfig, timeoutMs: number): Promise<Omit<CheckResult, 'id' | 'title'>> {
  const where = temporal.profile ? ` (profile ${temporal.profile.name} of ${temporal.profile.file})` : '';
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(temporal), connectTimeout: timeoutMs });
  } catch (err) {
    return {
      status: 'fail',
      detail: `no connection${where}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      fix: 'check TEMPORAL_ADDRESS (or the profile\'s address), TLS and the API key or client certificate (README: Temporal connection); `temporal operator cluster health` with the same profile shows the same',
    };
  }
  try {
    const { namespace, taskQueue } = temporal;
    const deadline = () => Date.now() + timeoutMs;
    try {
      await connection.withDeadline(deadline(), () => connection.workflowService.describeNamespace({ namespace }));
    } catch (err) {
      // gRPC status 5, NOT_FOUND (https://grpc.io/docs/guides/status-codes/).
      if (isGrpcServiceError(err) && err.code === 5) {
        return { status: 'fail', detail: `namespace ${namespace} does not exist${where}`, fix: `create it: temporal operator namespace create --namespace ${namespace} (Temporal Cloud: in the Cloud UI), or set TEMPORAL_NAMESPACE` };
      }
      throw err;
    }
    const { customAttributes } = await connection.withDeadline(deadline(), () => connection.operatorService.listSearchAttributes({ namespace }));
    const missing = ALL_SEARCH_ATTRIBUTES.filter((key) => !(customAttributes ?? {})[key.name]);
    if (missing.length > 0) {
      return {
        status: 'fail',
        detail: `namespace ${namespace} lacks the search attribute${missing.length === 1 ? '' : 's'} ${missing.map((k) => k.name).join(', ')}; every run would fail at its first step`,
        fix: `temporal operator search-attribute create --namespace ${namespace} ${missing.map((k) => `--name ${k.name} --type Keyword`).join(' ')} (Temporal Cloud: tcld namespace search-attributes add, or the Cloud UI)`,
      };
    }
    const { pollers } = await connection.withDeadline(deadline(), () =>
      connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType: temporalProtoNs.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW }));
    const detail = `namespace ${namespace}${where} with Dialtone's ${ALL_SEARCH_ATTRIBUTES.length} search attributes; task queue ${taskQueue}`;
    // Not a warning: the doctor usually runs before the first worker starts, and runs wait for one.
    const polling = pollers?.length ?? 0;
    return { status: 'pass', detail: `${detail}: ${polling > 0 ? `${polling} worker poller${polling === 1 ? '' : 's'}` : 'no worker polls it yet'}` };
  } catch (err) {
    return { status: 'fail', detail: `Temporal refused a read${where}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, fix: 'check that the API key or certificate may read this namespace' };
  } finally {
    await connection.close();
  }
}

const LATER_CHECKS: readonly [string, string][] = [
  ['reach', 'Reach the services'],
  ['token.graph', 'Token for Microsoft Graph'],
  ['token.teams', `Token for the Teams admin API (${TEAMS_ADMIN_RESOURCE})`],
  ['graph.permissions', 'Graph application permissions'],
  ['roles.teams', 'Teams admin role'],
  ['roles.user', 'User Administrator role'],
  ['licenses', `License ${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`],
  ['numbers', 'Service numbers'],
  ['domains', 'Verified domains'],
  ['teams-admin', 'Teams admin adapter'],
  ['partner-center', 'Partner Center access'],
];

function tokenFailure(err: unknown, tenant: AppIdentity, secrets: readonly string[], vars: AppVariables = WORKER_APP): Omit<CheckResult, 'id' | 'title'> {
  const message = safeMessage(err, secrets);
  // MSAL wraps Entra's description in its own prefix ("invalid_client: Error(s): … Description: AADSTS…").
  const aadsts = /AADSTS(\d+):?\s*(.*)$/.exec(message);
  if (aadsts) {
    const [, code = '', description = ''] = aadsts;
    const { meaning, fix } = aadstsAdvice(code, tenant, vars);
    return { status: 'fail', detail: `AADSTS${code} (${meaning}): ${description}`, fix };
  }
  const { credential } = tenant;
  if (credential.kind === 'certificate') {
    return {
      status: 'fail',
      detail: message,
      fix: `${vars.certificate} (${credential.certificatePath}) must be a readable PEM file holding the private key and the certificate; ` +
        `${vars.certificatePassword} only when the key is encrypted`,
    };
  }
  if (credential.kind === 'managedIdentity') {
    return { status: 'fail', detail: message, fix: 'run where a managed identity is assigned, with AZURE_CLIENT_ID set to its client id' };
  }
  return { status: 'fail', detail: message, fix: `check that this machine reaches ${new URL(tenant.authorityHost).host}` };
}

// (d) The resource-account license: present, active, and how many are free.
async function checkLicenses(graph: Client): Promise<Omit<CheckResult, 'id' | 'title'>> {
  const sku = await findSubscribedSku(graph);
  const buy = 'Microsoft 365 admin center > Billing > Purchase services > Add-ons > "Microsoft Teams Phone Resource Account" (free, but it must be bought)';
  if (!sku?.skuId) {
    return { status: 'fail', detail: `the tenant has no ${RESOURCE_ACCOUNT_SKU_PART_NUMBER} subscription`, fix: buy };
  }
  const status = sku.capabilityStatus ?? 'Enabled';
  const enabled = (sku.prepaidUnits?.enabled ?? 0) + (sku.prepaidUnits?.warning ?? 0);
  const consumed = sku.consumedUnits ?? 0;
  const free = Math.max(0, enabled - consumed);
  const detail = `capabilityStatus ${status}, ${free} of ${enabled} free (${consumed} assigned)`;
  if (status !== 'Enabled' && status !== 'Warning') {
    return { status: 'fail', detail, fix: `Microsoft 365 admin center > Billing > Your products: reactivate the subscription, or ${buy}` };
  }
  if (free === 0) return { status: 'warn', detail: `${detail}; runs will wait for licenses`, fix: buy };
  if (status === 'Warning') return { status: 'warn', detail: `${detail}; the subscription is in its grace period`, fix: 'Microsoft 365 admin center > Billing > Your products: renew it' };
  return { status: 'pass', detail };
}

// (e) Free Calling Plan service numbers, per country.
async function checkNumbers(graph: Client): Promise<Omit<CheckResult, 'id' | 'title'>> {
  const numbers = await listNumbers(graph, "numberType eq 'callingPlan'", "list the tenant's Calling Plan numbers");
  // Free as the batch planner counts it: a service number on no account, not between states.
  const free = numbers.filter((n) => isServiceNumber(n) && !n.assignmentTargetId && (n.activationState === undefined || n.activationState === 'activated'));
  const byCountry = new Map<string, number>();
  for (const n of free) byCountry.set(n.isoCountryCode ?? '??', (byCountry.get(n.isoCountryCode ?? '??') ?? 0) + 1);
  const counts = [...byCountry.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([country, count]) => `${country} ${count}`).join(', ');
  const get = 'Teams admin center > Voice > Phone numbers > Add (service numbers, for auto attendants and call queues)';
  if (free.length === 0) {
    return { status: 'fail', detail: `no free Calling Plan service number (${numbers.length} Calling Plan numbers in all)`, fix: get };
  }
  return { status: 'pass', detail: `${free.length} free service numbers: ${counts}` };
}

// (f) Domains a resource account's UPN may use.
async function checkDomains(graph: Client): Promise<Omit<CheckResult, 'id' | 'title'>> {
  try {
    const page = (await graph.api('/domains').select(['id', 'isVerified', 'isDefault', 'supportedServices']).get()) as {
      value?: Array<{ id?: string; isVerified?: boolean; isDefault?: boolean; supportedServices?: string[] }>;
    };
    const domains = page.value ?? [];
    const usable = domains.filter((d) => d.isVerified && d.id);
    const unverified = domains.filter((d) => !d.isVerified && d.id).map((d) => d.id);
    if (usable.length === 0) {
      return { status: 'fail', detail: 'no verified domain', fix: 'Microsoft 365 admin center > Settings > Domains > Add domain, then verify it' };
    }
    const list = usable.map((d) => `${d.id}${d.isDefault ? ' (default)' : ''}`).join(', ');
    return { status: 'pass', detail: `UPNs may use ${list}${unverified.length > 0 ? `; not verified, so not usable: ${unverified.join(', ')}` : ''}` };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 403) throw err;
    // The worker reads verified domains from /organization (Organization.Read.All); /domains is only for this report.
    const names = await verifiedDomains(graph);
    return {
      status: 'warn',
      detail: `the app may not read /domains (needs Domain.Read.All, which the worker does not otherwise need); /organization lists verified: ${names.join(', ') || 'none'}`,
      fix: grantPermissionFix('Domain.Read.All'),
    };
  }
}

// (g) The TeamsAdmin adapter's probe: for PowerShell, pwsh and the module are present and connect.
async function checkTeamsAdmin(
  factory: TeamsAdminFactory,
  tenant: TenantConfig,
  credential: TokenCredential,
  secrets: readonly string[],
): Promise<Omit<CheckResult, 'id' | 'title'>> {
  let admin: TeamsAdmin | undefined;
  try {
    admin = await factory(tenant, credential);
    const { detail } = await admin.probe();
    return { status: 'pass', detail: `${admin.adapter}: ${detail}` };
  } catch (err) {
    if (!isTeamsAdminError(err)) throw err;
    const detail = `${admin?.adapter ?? 'adapter'}: ${safeMessage(err, secrets)}`;
    switch (err.kind) {
      case 'notInstalled':
        return {
          status: 'fail',
          detail,
          fix: 'install PowerShell 7 and the pinned MicrosoftTeams module (the worker image has both; see README "Against a real tenant"), or set DIALTONE_PWSH_PATH to pwsh',
        };
      case 'forbidden':
        // "Access Denied." is the answer to a missing role and to a Graph token without Organization.Read.All alike.
        return { status: 'fail', detail, fix: `${assignRoleFix('Teams Telephony Administrator', undefined)}\n${grantPermissionFix('Organization.Read.All')} (the Teams cmdlets need it)` };
      case 'unauthenticated':
        return { status: 'fail', detail, fix: 'see the token checks above; Connect-MicrosoftTeams needs both tokens' };
      default:
        return { status: 'fail', detail };
    }
  } finally {
    await admin?.close().catch(() => undefined);
  }
}

const SYMBOLS: Record<CheckStatus, string> = { pass: '✓', fail: '✗', warn: '!', skip: '–' };

/** The checklist as a person reads it: one line a check, its fix indented below. */
export function formatChecklist(results: readonly CheckResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${SYMBOLS[r.status]} ${r.title}: ${r.detail}`);
    if (r.fix && (r.status === 'fail' || r.status === 'warn')) for (const fix of r.fix.split('\n')) lines.push(`    fix: ${fix}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('', failed > 0 ? `${failed} check${failed === 1 ? '' : 's'} failed, ${warned} warning${warned === 1 ? '' : 's'}.` : `All checks passed (${warned} warning${warned === 1 ? '' : 's'}).`);
  return lines.join('\n');
}

export function addDoctorCommand(program: Command, env: Env, setExitCode: (code: number) => void): void {
  program
    .command('doctor')
    .description("check, read-only, that the worker's tenant configuration can provision resource accounts; prints each fix")
    .option('--json', 'print the checks as JSON')
    .option('--timeout <seconds>', 'longest any one check may take', String(DEFAULT_CHECK_TIMEOUT_MS / 1000))
    .action(async (opts: { json?: boolean; timeout: string }) => {
      const seconds = Number(opts.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 600) {
        program.error(`--timeout "${opts.timeout}" must be a number of seconds above 0 and at most 600, e.g. --timeout 60`, { exitCode: 2 });
      }
      const relaunched = await withSimulatorCa(env);
      if (relaunched !== undefined) {
        setExitCode(relaunched);
        return;
      }
      const results = await runDoctor({ env, timeoutMs: seconds * 1000 });
      const ok = !results.some((r) => r.status === 'fail');
      console.log(opts.json ? JSON.stringify({ ok, checks: results }, null, 2) : formatChecklist(results));
      setExitCode(ok ? 0 : 1);
    });
}

/** Marks the doctor process started by {@link withSimulatorCa}, so it is started only once. */
const RELAUNCHED = 'DIALTONE_DOCTOR_SIMULATOR_CA';

/**
 * In simulator mode the doctor must trust the simulator's CA, which Node reads only when it starts: run
 * from another terminal beside `npm start`, with no variable set, it starts itself again with
 * NODE_EXTRA_CA_CERTS naming the CA `npm start` made, and resolves with that run's exit code. Resolves
 * undefined when nothing is needed (the CA is trusted already, another mode) or there is no CA to trust
 * (the checks then say what is missing).
 */
async function withSimulatorCa(env: Env): Promise<number | undefined> {
  const mode = env.DIALTONE_TENANT_MODE?.trim() || 'simulator';
  if (mode !== 'simulator' || env.NODE_EXTRA_CA_CERTS?.trim() || env[RELAUNCHED] || !existsSync(SIMULATOR_CA_PATH)) return undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...env, NODE_EXTRA_CA_CERTS: SIMULATOR_CA_PATH, [RELAUNCHED]: '1' },
  });
  return new Promise((resolve) => {
    child.once('error', () => resolve(undefined));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
