/**
 * Options of the tenant simulator, the two behaviour profiles, and their validation. Validation
 * messages name the option (or control-API field) so that `main.ts` and `PUT /_simulator/config`
 * can pass them straight to the person who set it.
 */
import { randomInt } from 'node:crypto';
import {
  LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_PARTNER_CLIENT_ID, LOCAL_PARTNER_CLIENT_SECRET, LOCAL_PARTNER_TENANT_DOMAIN, LOCAL_PARTNER_TENANT_ID,
  LOCAL_TENANT_DOMAIN, LOCAL_TENANT_ID,
} from '../lib/local-defaults';
import { isIsoCountryCode, validateUpn } from '../lib/validation';
import type { LicenseSeed, NumberSeed, UserSeed } from './catalog';
import { CAPABILITY_STATUSES, DEFAULT_LICENSES, DEFAULT_NUMBERS, NUMBER_CAPABILITIES, NUMBER_TYPES, catalogSku, defaultUsers } from './catalog';
import { isGuid } from './ids';
import { CMDLETS } from '../activities/teams-admin/powershell/protocol';

/** A duration in milliseconds, fixed or drawn uniformly (from the seeded PRNG) between two bounds. */
export type Delay = number | { readonly minMs: number; readonly maxMs: number };

/** How long the simulated cloud takes to do things in the background. Every value is multiplied by `timeScale`. */
export interface SimulatorDelays {
  /** Eventual-consistency window: how long a new directory user 404s on Graph and is unknown to Teams. */
  replication: Delay;
  /** From assignLicense until the license's plans are provisioned (`provisionedPlans` → Success). */
  licensePropagation: Delay;
  /** From provisioning until Teams sees the license (`featureTypes`, number assignment allowed). */
  teamsSync: Delay;
  /** Run time of a number assign/unassign operation, from acceptance until it succeeds or fails. */
  numberOperation: Delay;
  /**
   * After a PATCH of `usageLocation`, how long other replicas (reads, and the license service behind
   * assignLicense) still see the previous value. Undocumented; modelled because clients meet it (notes 7).
   */
  usageLocationReplication: Delay;
  /**
   * How long a new application instance stays out of the Teams admin service's list and lookups
   * (no read-your-writes on the undocumented service; the least convenient plausible behaviour).
   */
  applicationInstanceListing: Delay;
  /** How long `subscribedSkus.consumedUnits` lags behind license assignments and removals. */
  consumedUnits: Delay;
}

/**
 * The MicrosoftTeams cmdlets the stand-in for pwsh answers (teams-powershell-host.ts), and the session's
 * connection: each request the stand-in makes names its cmdlet, and takes that cmdlet's latency instead
 * of the per-request one — the module's own work (serialising, its HTTP client, its retries of nothing)
 * plus the Teams service behind it, which a real tenant spends seconds on.
 */
export const CMDLET_NAMES = ['Connect-MicrosoftTeams', ...CMDLETS] as const;
export type CmdletName = (typeof CMDLET_NAMES)[number];
export type CmdletLatency = Record<CmdletName, Delay>;

/**
 * Per-app request budget, modelled on Graph's identity throttling: resource units (RU) over a sliding
 * window. Costs follow Microsoft's table (GET 1, subscribedSkus 3, licenseDetails 2, writes 1,
 * `$select` −1, minimum 1).
 */
export interface ThrottleBudget {
  /** RU an app may spend in one window. */
  resourceUnits: number;
  /** Window length in ms (scaled by `timeScale`). */
  windowMs: number;
}

/**
 * Graph's write quota for identity and access, besides the resource units: 3,000 write requests
 * (POST, PATCH, PUT, DELETE) per 2 min 30 s per app and tenant (reference notes 6.2).
 */
export interface WriteQuota {
  /** Write requests an app may make in one window. */
  requests: number;
  /** Window length in ms (scaled by `timeScale`). */
  windowMs: number;
}

export type SimulatorProfile = 'fast' | 'realistic';
export const SIMULATOR_PROFILES: readonly SimulatorProfile[] = ['fast', 'realistic'];

/** Behaviour that can be changed while the simulator runs (`PUT /_simulator/config`). */
export interface SimulatorBehaviour {
  /** Multiplies every delay, the latency and the throttle window; 0.001 turns an hour into 3.6 s. Must be > 0. */
  timeScale: number;
  delays: SimulatorDelays;
  /** Added to every Graph and Teams request (real waiting, scaled by `timeScale`). */
  latency: Delay;
  /** Instead of `latency`, for the requests of the stand-in for pwsh, by the cmdlet they serve (scaled by `timeScale`). */
  cmdletLatency: CmdletLatency;
  /** Probability (0–1) that a Graph or Teams request fails with a transient 429, 503 or 504. */
  faultRate: number;
  /** Per-app request budget; `null` disables throttling. */
  throttle: ThrottleBudget | null;
  /** Per-app write quota, counted besides the resource units; `null` disables it. */
  writeQuota: WriteQuota | null;
  /**
   * Probability (0–1) that a 429 comes without `Retry-After`: identity 429s may lack it, and clients
   * must then back off on their own (reference notes 6.2, 6.4).
   */
  retryAfterOmissionRate: number;
}

/** Directory roles an app's service principal can hold, by display name, with their role template ids (Entra built-in roles). */
export const DIRECTORY_ROLES = {
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Teams Administrator': '69091246-20e8-4a56-aa4d-066075b2a7a8',
  'Teams Communications Administrator': 'baf37b3a-610e-45da-9e62-d9d1e5e8914b',
  'Teams Telephony Administrator': 'aa38014f-0993-46e9-9b45-30501a20909d',
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'License Administrator': '4d6ac14f-3453-41d0-bef9-a3e0c569773a',
} as const;
export type DirectoryRoleName = keyof typeof DIRECTORY_ROLES;
export const DIRECTORY_ROLE_NAMES = Object.keys(DIRECTORY_ROLES) as DirectoryRoleName[];

/** An app registration of the simulated tenant (client-credentials flow with a client secret). */
export interface SimulatedApp {
  /** Application (client) id. */
  clientId: string;
  /** The client secret value the token endpoint accepts. */
  clientSecret: string;
  /** Shown in tokens (`app_displayname`). */
  displayName?: string;
  /** Microsoft Graph application permissions granted with admin consent; they become the Graph token's `roles`. */
  graphRoles: readonly string[];
  /**
   * Directory roles of the app's service principal; tokens carry their template ids in `wids`. The Teams
   * admin API needs Teams Administrator (or Global Administrator) to read application instances and,
   * since 2024, User Administrator (or Global Administrator) as well to create them.
   */
  directoryRoles: readonly DirectoryRoleName[];
}

export interface SimulatorTlsOptions {
  /** PEM server certificate, or `certPath` to read it from. */
  cert?: string | Buffer;
  key?: string | Buffer;
  certPath?: string;
  keyPath?: string;
}

/**
 * The CSP partner's own tenant: the second directory the simulator's token endpoint serves. Its apps are
 * the ones registered in the partner's Partner Center account, and Partner Center accepts only their
 * tokens (issued by this tenant), as Partner Center apps are created in the partner's tenant
 * (https://learn.microsoft.com/partner-center/developer/set-up-api-access-in-partner-center).
 */
export interface PartnerTenantOptions {
  /** Directory (tenant) id of the partner. Default: `LOCAL_PARTNER_TENANT_ID`. Must differ from the customer's. */
  tenantId?: string;
  /** Default `Fabrikam CSP`. */
  organizationName?: string;
  /** Verified domains, accepted in place of the id in token URLs. Default: `[LOCAL_PARTNER_TENANT_DOMAIN]`. */
  domains?: readonly string[];
  /** App registrations of the partner tenant, each registered in Partner Center at start. Default: the local partner app. */
  apps?: readonly SimulatedApp[];
}

/** Options of {@link buildSimulator}. Everything but `tls` has a default that reproduces the local tenant. */
export interface SimulatorOptions {
  /** Server certificate and key; pass the result of `ensureSimulatorTls(dir)` or PEM strings. */
  tls: SimulatorTlsOptions;
  /** Directory (tenant) id. Default: `LOCAL_TENANT_ID`. */
  tenantId?: string;
  /** Organisation name shown as `accountName` of subscriptions. Default `Contoso`. */
  organizationName?: string;
  /** Verified domains; UPNs must use one of them. Default: `[LOCAL_TENANT_DOMAIN]`. */
  domains?: readonly string[];
  /** App registrations. Default: the local app with every permission Dialtone needs and Teams Administrator. */
  apps?: readonly SimulatedApp[];
  /** The CSP partner's tenant (Partner Center's side). Default: the local partner with its one app. */
  partner?: PartnerTenantOptions;
  /** License units owned at start. Default: 25 PHONESYSTEM_VIRTUALUSER and 25 ENTERPRISEPACK. */
  licenses?: readonly LicenseSeed[];
  /** Telephone numbers acquired at start. Default: 55 service numbers (US toll, US toll-free, GB) and 10 user numbers. */
  numbers?: readonly NumberSeed[];
  /** Directory users present at start (already replicated and licensed). Default: two licensed people. */
  users?: readonly UserSeed[];
  /** Starting point for delays, latency, faults and throttling; the fields below override it. Default `fast`. */
  profile?: SimulatorProfile;
  /** Overrides of the profile's delays. */
  delays?: Partial<SimulatorDelays>;
  /** Overrides the profile's per-request latency. */
  latency?: Delay;
  /** Overrides of the profile's per-cmdlet latency of the stand-in for pwsh. */
  cmdletLatency?: Partial<CmdletLatency>;
  /** Overrides the profile's transient-fault probability (0–1). */
  faultRate?: number;
  /** Overrides the profile's per-app budget; `null` disables throttling. */
  throttle?: ThrottleBudget | null;
  /** Overrides the profile's per-app write quota; `null` disables it. */
  writeQuota?: WriteQuota | null;
  /** Overrides the profile's probability that a 429 comes without `Retry-After`. */
  retryAfterOmissionRate?: number;
  /** Multiplies every delay. Default 1. */
  timeScale?: number;
  /** Seed of the PRNG behind faults and jitter, so a run can be reproduced. Default: random (shown in `/_simulator/state`). */
  seed?: number;
  /** Clock in epoch ms; every timed behaviour (replication, propagation, operations, token expiry, throttling) reads it. Default `Date.now`. */
  now?: () => number;
  /** Fastify logger setting. Default: off. */
  logger?: boolean | { level: string };
  /**
   * JSON file that keeps the tenant state (subscriptions, users and their licenses, numbers, number
   * operations) across restarts. Default: unset, the state lives in memory only.
   *
   * When set, start-up loads the file if it exists (a file that cannot be read, parsed or validated, or
   * that belongs to another tenant, fails start-up with a {@link SimulatorConfigError} naming it) and
   * otherwise seeds the tenant from the options and writes the file. The seed options (`licenses`,
   * `numbers`, `users`) are then ignored until `POST /_simulator/reset`, which re-seeds and saves.
   * After each answered request the state is saved atomically (temporary file, then rename), at most
   * every 500 ms and only when it changed, plus once when the simulator closes. Behaviour (delays,
   * latency, faults, throttle, timeScale), the PRNG seed and the token signing key are not kept.
   * Timestamps are kept as epoch ms on the `now` clock, so time spent stopped counts toward pending
   * replication, propagation and number operations.
   */
  stateFile?: string;
}

/** Graph permissions of the built-in local app: what Dialtone's activities need, least privileged. */
export const LOCAL_APP_GRAPH_ROLES: readonly string[] = [
  'Organization.Read.All',
  'User.ReadWrite.All',
  'LicenseAssignment.ReadWrite.All',
  'TeamsTelephoneNumber.ReadWrite.All',
  // Only for resubmitting a UPN whose earlier account is in deleted items (restore or purge).
  'User.DeleteRestore.All',
];

/** Directory roles of the built-in local app: what creating resource accounts needs since 2024. */
export const LOCAL_APP_DIRECTORY_ROLES: readonly DirectoryRoleName[] = ['Teams Administrator', 'User Administrator'];

export const DEFAULT_APP: SimulatedApp = {
  clientId: LOCAL_CLIENT_ID,
  clientSecret: LOCAL_CLIENT_SECRET,
  displayName: 'Dialtone (local)',
  graphRoles: LOCAL_APP_GRAPH_ROLES,
  directoryRoles: LOCAL_APP_DIRECTORY_ROLES,
};

/**
 * What a cmdlet costs on a real tenant, before the time scale. Microsoft publishes no figures: these are
 * GUESSES from public reports — `Get-CsOnlineUser -Identity` "between 400ms and 7+s … on average about
 * 900ms" and `Get-CsOnlineApplicationInstance` taking 16–17 s, later over a minute, as a whole listing
 * (office-docs-powershell issue 8142); Microsoft's bulk tools and TeamsFunctions wait seconds after each
 * creation and association. Creation and association are writes through several services, so slower.
 */
const REALISTIC_CMDLET_LATENCY: CmdletLatency = {
  'Connect-MicrosoftTeams': { minMs: 3_000, maxMs: 10_000 },
  'Get-CsOnlineApplicationInstance': { minMs: 1_000, maxMs: 4_000 },
  'New-CsOnlineApplicationInstance': { minMs: 3_000, maxMs: 10_000 },
  'Get-CsAutoAttendant': { minMs: 1_000, maxMs: 3_000 },
  'Get-CsCallQueue': { minMs: 1_000, maxMs: 3_000 },
  'Get-CsOnlineApplicationInstanceAssociation': { minMs: 1_000, maxMs: 3_000 },
  'New-CsOnlineApplicationInstanceAssociation': { minMs: 2_000, maxMs: 6_000 },
  'Remove-CsOnlineApplicationInstanceAssociation': { minMs: 2_000, maxMs: 5_000 },
};

/** The local partner's app: registered in its Partner Center account; it holds no Graph permission or directory role. */
export const DEFAULT_PARTNER_APP: SimulatedApp = {
  clientId: LOCAL_PARTNER_CLIENT_ID,
  clientSecret: LOCAL_PARTNER_CLIENT_SECRET,
  displayName: 'Dialtone Partner Center (local partner)',
  graphRoles: [],
  directoryRoles: [],
};

const IDENTITY_THROTTLE: ThrottleBudget = { resourceUnits: 3500, windowMs: 10_000 };
const IDENTITY_WRITE_QUOTA: WriteQuota = { requests: 3000, windowMs: 150_000 };
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * `fast` keeps every background step short so a whole provisioning run takes about a second at
 * timeScale 1, yet still exercises every wait. `realistic` uses real-world magnitudes (see the
 * reference notes, sections 3.5 and 7): compress it with `timeScale`.
 */
export const PROFILE_BEHAVIOUR: Record<SimulatorProfile, SimulatorBehaviour> = {
  fast: {
    timeScale: 1,
    delays: {
      replication: { minMs: 50, maxMs: 150 },
      licensePropagation: { minMs: 150, maxMs: 300 },
      teamsSync: { minMs: 50, maxMs: 150 },
      numberOperation: { minMs: 100, maxMs: 250 },
      usageLocationReplication: { minMs: 20, maxMs: 80 },
      applicationInstanceListing: { minMs: 50, maxMs: 150 },
      consumedUnits: { minMs: 50, maxMs: 150 },
    },
    latency: { minMs: 0, maxMs: 3 },
    cmdletLatency: Object.fromEntries(CMDLET_NAMES.map((name) => [name, { minMs: 0, maxMs: 3 }])) as CmdletLatency,
    faultRate: 0,
    throttle: IDENTITY_THROTTLE,
    writeQuota: IDENTITY_WRITE_QUOTA,
    retryAfterOmissionRate: 0.25,
  },
  realistic: {
    timeScale: 1,
    delays: {
      replication: { minMs: 2_000, maxMs: 15_000 },
      licensePropagation: { minMs: 30 * MINUTE, maxMs: 3 * HOUR },
      teamsSync: { minMs: 10 * MINUTE, maxMs: 60 * MINUTE },
      numberOperation: { minMs: 15_000, maxMs: 45_000 },
      usageLocationReplication: { minMs: 1_000, maxMs: 30_000 },
      applicationInstanceListing: { minMs: 30_000, maxMs: 5 * MINUTE },
      consumedUnits: { minMs: 30_000, maxMs: 5 * MINUTE },
    },
    latency: { minMs: 80, maxMs: 400 },
    cmdletLatency: REALISTIC_CMDLET_LATENCY,
    faultRate: 0.02,
    throttle: IDENTITY_THROTTLE,
    writeQuota: IDENTITY_WRITE_QUOTA,
    retryAfterOmissionRate: 0.25,
  },
};

/** A directory the token endpoint serves: the customer's tenant or the partner's. */
export interface ResolvedDirectory {
  tenantId: string;
  organizationName: string;
  domains: readonly string[];
  apps: readonly SimulatedApp[];
}

/** Options with every default applied and validated. */
export interface ResolvedOptions {
  tenantId: string;
  organizationName: string;
  domains: readonly string[];
  apps: readonly SimulatedApp[];
  partner: ResolvedDirectory;
  licenses: readonly LicenseSeed[];
  numbers: readonly NumberSeed[];
  users: readonly UserSeed[];
  behaviour: SimulatorBehaviour;
  seed: number;
  now: () => number;
  /** Absent: in memory only. */
  stateFile?: string;
}

/** Thrown for an invalid option; the message names it. */
export class SimulatorConfigError extends Error {
  override name = 'SimulatorConfigError';
}

const E164 = /^\+[1-9]\d{6,14}$/;

export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const problems: string[] = [];
  const check = (ok: boolean, message: string): void => {
    if (!ok) problems.push(message);
  };

  const tenantId = options.tenantId ?? LOCAL_TENANT_ID;
  check(isGuid(tenantId), `tenantId must be a GUID (got ${JSON.stringify(tenantId)})`);
  const domains = (options.domains ?? [LOCAL_TENANT_DOMAIN]).map((domain) => domain.toLowerCase());
  check(domains.length > 0, 'domains must list at least one verified domain');
  for (const domain of domains) {
    check(validateUpn(`x@${domain}`) === undefined, `domains: "${domain}" is not a domain name`);
  }

  const apps = options.apps ?? [DEFAULT_APP];
  apps.forEach((app, index) => problems.push(...appProblems(app, `apps[${index}]`)));
  check(new Set(apps.map((app) => app.clientId.toLowerCase())).size === apps.length, 'apps: clientIds must be unique');

  const partnerTenantId = options.partner?.tenantId ?? LOCAL_PARTNER_TENANT_ID;
  check(isGuid(partnerTenantId), `partner.tenantId must be a GUID (got ${JSON.stringify(partnerTenantId)})`);
  check(partnerTenantId.toLowerCase() !== tenantId.toLowerCase(), 'partner.tenantId must differ from tenantId: the partner and its customer are two tenants');
  const partnerDomains = (options.partner?.domains ?? [LOCAL_PARTNER_TENANT_DOMAIN]).map((domain) => domain.toLowerCase());
  for (const domain of partnerDomains) {
    check(validateUpn(`x@${domain}`) === undefined, `partner.domains: "${domain}" is not a domain name`);
    check(!domains.includes(domain), `partner.domains: "${domain}" is a domain of the customer's tenant too`);
  }
  const partnerApps = options.partner?.apps ?? [DEFAULT_PARTNER_APP];
  partnerApps.forEach((app, index) => problems.push(...appProblems(app, `partner.apps[${index}]`)));
  check(new Set(partnerApps.map((app) => app.clientId.toLowerCase())).size === partnerApps.length, 'partner.apps: clientIds must be unique');

  const licenses = options.licenses ?? DEFAULT_LICENSES;
  licenses.forEach((license, index) => {
    check(catalogSku(license.skuPartNumber) !== undefined, `licenses[${index}].skuPartNumber "${license.skuPartNumber}" is not in the simulator's catalog`);
    check(Number.isInteger(license.units) && license.units >= 0, `licenses[${index}].units must be a whole number ≥ 0`);
    check(license.capabilityStatus === undefined || CAPABILITY_STATUSES.includes(license.capabilityStatus),
      `licenses[${index}].capabilityStatus must be one of ${CAPABILITY_STATUSES.join(', ')}`);
  });

  const numbers = options.numbers ?? DEFAULT_NUMBERS;
  numbers.forEach((number, index) => problems.push(...numberSeedProblems(number, `numbers[${index}]`)));
  check(new Set(numbers.map((n) => n.telephoneNumber)).size === numbers.length, 'numbers: telephone numbers must be unique');

  const users = options.users ?? defaultUsers(domains[0] ?? LOCAL_TENANT_DOMAIN);

  const profile = options.profile ?? 'fast';
  if (!SIMULATOR_PROFILES.includes(profile)) {
    throw new SimulatorConfigError(`Invalid simulator options: profile must be one of ${SIMULATOR_PROFILES.join(', ')}`);
  }
  const base = PROFILE_BEHAVIOUR[profile];
  const behaviour: SimulatorBehaviour = {
    timeScale: options.timeScale ?? base.timeScale,
    delays: { ...base.delays, ...options.delays },
    latency: options.latency ?? base.latency,
    cmdletLatency: { ...base.cmdletLatency, ...options.cmdletLatency },
    faultRate: options.faultRate ?? base.faultRate,
    throttle: options.throttle === undefined ? base.throttle : options.throttle,
    writeQuota: options.writeQuota === undefined ? base.writeQuota : options.writeQuota,
    retryAfterOmissionRate: options.retryAfterOmissionRate ?? base.retryAfterOmissionRate,
  };
  problems.push(...behaviourProblems(behaviour, ''));

  const seed = options.seed ?? randomInt(0, 2 ** 31);
  check(Number.isSafeInteger(seed), 'seed must be an integer');

  check(options.stateFile === undefined || (typeof options.stateFile === 'string' && options.stateFile.trim() !== ''),
    'stateFile must be a non-empty file path when set');

  if (problems.length > 0) throw new SimulatorConfigError(`Invalid simulator options: ${problems.join('; ')}`);
  return {
    tenantId: tenantId.toLowerCase(),
    organizationName: options.organizationName ?? 'Contoso',
    domains,
    apps,
    partner: {
      tenantId: partnerTenantId.toLowerCase(),
      organizationName: options.partner?.organizationName ?? 'Fabrikam CSP',
      domains: partnerDomains,
      apps: partnerApps,
    },
    licenses,
    numbers,
    users,
    behaviour,
    seed,
    now: options.now ?? Date.now,
    stateFile: options.stateFile,
  };
}

/** Problems of one app registration (options, `SIMULATOR_APP_*`, `PUT /_simulator/apps/{clientId}`). */
export function appProblems(app: Partial<SimulatedApp>, path: string): string[] {
  const problems: string[] = [];
  if (typeof app.clientId !== 'string' || !isGuid(app.clientId)) problems.push(`${path}.clientId must be a GUID`);
  if (typeof app.clientSecret !== 'string' || app.clientSecret.length === 0) problems.push(`${path}.clientSecret must not be empty`);
  problems.push(...graphRoleProblems(app.graphRoles, `${path}.graphRoles`), ...directoryRoleProblems(app.directoryRoles, `${path}.directoryRoles`));
  return problems;
}

export function graphRoleProblems(roles: unknown, path: string): string[] {
  return Array.isArray(roles) && roles.every((role) => typeof role === 'string' && /^[A-Za-z]+(\.[A-Za-z]+)+$/.test(role))
    ? []
    : [`${path} must be a list of Graph application permissions such as User.ReadWrite.All`];
}

export function directoryRoleProblems(roles: unknown, path: string): string[] {
  return Array.isArray(roles) && roles.every((role) => (DIRECTORY_ROLE_NAMES as readonly unknown[]).includes(role))
    ? []
    : [`${path} must be a list of directory role names from: ${DIRECTORY_ROLE_NAMES.join(', ')}`];
}

export function numberSeedProblems(number: NumberSeed, path: string): string[] {
  const problems: string[] = [];
  if (typeof number.telephoneNumber !== 'string' || !E164.test(number.telephoneNumber)) {
    problems.push(`${path}.telephoneNumber must be E.164 with "+" (got ${JSON.stringify(number.telephoneNumber)})`);
  }
  if (typeof number.isoCountryCode !== 'string' || !isIsoCountryCode(number.isoCountryCode)) {
    problems.push(`${path}.isoCountryCode must be an ISO 3166 alpha-2 code in capitals (got ${JSON.stringify(number.isoCountryCode)})`);
  }
  if (number.numberType !== undefined && !NUMBER_TYPES.includes(number.numberType)) {
    problems.push(`${path}.numberType must be one of ${NUMBER_TYPES.join(', ')}`);
  }
  if (number.capabilities !== undefined &&
      (!Array.isArray(number.capabilities) || !number.capabilities.every((c) => NUMBER_CAPABILITIES.includes(c)))) {
    problems.push(`${path}.capabilities must be a list of ${NUMBER_CAPABILITIES.join(', ')}`);
  }
  if (number.city !== undefined && number.city !== null && typeof number.city !== 'string') {
    problems.push(`${path}.city must be a string or null`);
  }
  return problems;
}

function delayProblems(delay: unknown, path: string): string[] {
  if (typeof delay === 'number') {
    return Number.isFinite(delay) && delay >= 0 ? [] : [`${path} must be a number of ms ≥ 0`];
  }
  if (typeof delay === 'object' && delay !== null) {
    const { minMs, maxMs } = delay as { minMs?: unknown; maxMs?: unknown };
    if (typeof minMs === 'number' && typeof maxMs === 'number' && Number.isFinite(minMs) && Number.isFinite(maxMs) &&
        minMs >= 0 && maxMs >= minMs) {
      return [];
    }
  }
  return [`${path} must be a number of ms ≥ 0 or { minMs, maxMs } with 0 ≤ minMs ≤ maxMs`];
}

export const DELAY_NAMES: readonly (keyof SimulatorDelays)[] = [
  'replication', 'licensePropagation', 'teamsSync', 'numberOperation', 'usageLocationReplication', 'applicationInstanceListing', 'consumedUnits',
];

function behaviourProblems(behaviour: SimulatorBehaviour, prefix: string): string[] {
  const problems: string[] = [];
  if (typeof behaviour.timeScale !== 'number' || !Number.isFinite(behaviour.timeScale) || behaviour.timeScale <= 0) {
    problems.push(`${prefix}timeScale must be a number > 0`);
  }
  if (typeof behaviour.faultRate !== 'number' || !(behaviour.faultRate >= 0 && behaviour.faultRate <= 1)) {
    problems.push(`${prefix}faultRate must be a probability between 0 and 1`);
  }
  if (typeof behaviour.retryAfterOmissionRate !== 'number' || !(behaviour.retryAfterOmissionRate >= 0 && behaviour.retryAfterOmissionRate <= 1)) {
    problems.push(`${prefix}retryAfterOmissionRate must be a probability between 0 and 1`);
  }
  const quota = behaviour.writeQuota;
  if (quota !== null && (typeof quota !== 'object' || !Number.isInteger(quota.requests) || quota.requests < 1 ||
      typeof quota.windowMs !== 'number' || !(quota.windowMs > 0))) {
    problems.push(`${prefix}writeQuota must be null or { requests: whole number ≥ 1, windowMs: number > 0 }`);
  }
  problems.push(...delayProblems(behaviour.latency, `${prefix}latency`));
  for (const name of CMDLET_NAMES) problems.push(...delayProblems(behaviour.cmdletLatency[name], `${prefix}cmdletLatency.${name}`));
  for (const name of DELAY_NAMES) problems.push(...delayProblems(behaviour.delays[name], `${prefix}delays.${name}`));
  const throttle = behaviour.throttle;
  if (throttle !== null) {
    if (typeof throttle !== 'object' || !Number.isInteger(throttle.resourceUnits) || throttle.resourceUnits < 1 ||
        typeof throttle.windowMs !== 'number' || !(throttle.windowMs > 0)) {
      problems.push(`${prefix}throttle must be null or { resourceUnits: whole number ≥ 1, windowMs: number > 0 }`);
    }
  }
  return problems;
}

const BEHAVIOUR_FIELDS = ['timeScale', 'faultRate', 'latency', 'cmdletLatency', 'delays', 'throttle', 'writeQuota', 'retryAfterOmissionRate'] as const;

/**
 * Applies a partial behaviour change (the body of `PUT /_simulator/config`) to the current behaviour.
 * Returns the new behaviour or the list of problems; unknown fields are problems too, so a typo is not
 * silently ignored.
 */
export function mergeBehaviour(current: SimulatorBehaviour, patch: unknown): { behaviour: SimulatorBehaviour } | { problems: string[] } {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return { problems: [`body must be a JSON object with any of ${BEHAVIOUR_FIELDS.join(', ')}`] };
  }
  const fields = patch as Record<string, unknown>;
  const known = new Set<string>(BEHAVIOUR_FIELDS);
  const problems = Object.keys(fields).filter((key) => !known.has(key)).map((key) => `${key} is not a setting (use ${[...known].join(', ')})`);
  const delays = fields.delays ?? {};
  if (typeof delays !== 'object' || delays === null || Array.isArray(delays)) {
    problems.push(`delays must be an object with any of ${DELAY_NAMES.join(', ')}`);
  } else {
    for (const key of Object.keys(delays)) {
      if (!(DELAY_NAMES as readonly string[]).includes(key)) problems.push(`delays.${key} is not a delay (use ${DELAY_NAMES.join(', ')})`);
    }
  }
  const cmdletLatency = fields.cmdletLatency ?? {};
  if (typeof cmdletLatency !== 'object' || cmdletLatency === null || Array.isArray(cmdletLatency)) {
    problems.push(`cmdletLatency must be an object with any of ${CMDLET_NAMES.join(', ')}`);
  } else {
    for (const key of Object.keys(cmdletLatency)) {
      if (!(CMDLET_NAMES as readonly string[]).includes(key)) problems.push(`cmdletLatency.${key} is not a cmdlet the stand-in answers (use ${CMDLET_NAMES.join(', ')})`);
    }
  }
  if (problems.length > 0) return { problems };
  const behaviour: SimulatorBehaviour = {
    timeScale: (fields.timeScale ?? current.timeScale) as number,
    faultRate: (fields.faultRate ?? current.faultRate) as number,
    latency: (fields.latency ?? current.latency) as Delay,
    cmdletLatency: { ...current.cmdletLatency, ...(cmdletLatency as Partial<CmdletLatency>) },
    delays: { ...current.delays, ...(delays as Partial<SimulatorDelays>) },
    throttle: (fields.throttle === undefined ? current.throttle : fields.throttle) as ThrottleBudget | null,
    writeQuota: (fields.writeQuota === undefined ? current.writeQuota : fields.writeQuota) as WriteQuota | null,
    retryAfterOmissionRate: (fields.retryAfterOmissionRate ?? current.retryAfterOmissionRate) as number,
  };
  const invalid = behaviourProblems(behaviour, '');
  return invalid.length > 0 ? { problems: invalid } : { behaviour };
}
