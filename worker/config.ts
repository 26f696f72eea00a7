/** The worker's whole configuration, validated at boot from environment variables. */
import { DEFAULT_SIMULATOR_URL, EnvReader, describeTemporalConfig, readTemporalConfig, readTenantId } from '../lib/config';
import type { Env, TemporalConfig, TenantMode } from '../lib/config';
import { LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_TENANT_ID } from '../lib/local-defaults';
import type { PollingOptions } from '../activities/polling';
import { DELETED_ACCOUNT_POLICIES } from '../lib/validation';
import type { DeletedAccountPolicy } from '../lib/validation';
import { TASK_QUEUE } from '../workflows/provision-resource-account/definitions';
import { DEFAULT_BUDGET } from '../activities/pacing';
import type { PacingBudget } from '../activities/pacing';
import type { ProcurementSettings } from '../activities/licensing/activities';
import { TEAMS_ADMIN_ADAPTERS } from '../activities/teams-admin/teams-admin';
import { TEAMS_SESSIONS_RANGE } from '../activities/teams-admin/powershell/pool';
import { describeProcurementConfig, readProcurementConfig } from './procurement-config';
import { readTracingConfig } from '../lib/telemetry';
import type { TracingConfig } from '../lib/telemetry';
import { describeNotifyConfig, readNotifyConfig } from './notify-config';
import type { NotificationSettings } from '../activities/notifications';
import type { TeamsAdminAdapterName } from '../activities/teams-admin/teams-admin';

export type CredentialConfig =
  | { kind: 'secret'; secret: string }
  | { kind: 'certificate'; certificatePath: string; certificatePassword?: string }
  | { kind: 'managedIdentity' };

/** How the worker speaks to Teams for resource accounts and associations (the TeamsAdmin port). */
export interface TeamsAdminConfig {
  /** `powershell` (supported, default) or `rest-experimental` (the undocumented REST shape). */
  adapter: TeamsAdminAdapterName;
  /** The PowerShell 7 executable; default `pwsh` on the PATH. */
  pwshPath: string;
  /** How long one PowerShell command may take before the session is restarted, ms. */
  commandTimeoutMs: number;
  /** PowerShell sessions (pwsh processes) per worker that commands are spread over. */
  sessions: number;
}

export const DEFAULT_PWSH_COMMAND_TIMEOUT_MS = 120_000;
/**
 * Sessions per worker by default: each runs one cmdlet at a time and a real cmdlet takes seconds, while
 * each pwsh with the module holds a few hundred MB. Chosen from bench:batch on the realistic profile
 * (README, Development).
 */
export const DEFAULT_TEAMS_SESSIONS = 4;

/** An app registration and its credential, as `@azure/identity` asks a token for it (worker/credentials.ts). */
export interface AppIdentity {
  /** The tenant that issues the app's tokens: the authority is {authorityHost}/{tenantId}. */
  tenantId: string;
  clientId: string;
  credential: CredentialConfig;
  authorityHost: string;
}

export interface TenantConfig extends AppIdentity {
  mode: TenantMode;
  graphBaseUrl: string;
  teamsAdminBaseUrl: string;
  teamsAdmin: TeamsAdminConfig;
}

export type WorkerLogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface WorkerConfig {
  temporal: TemporalConfig;
  tenant: TenantConfig;
  maxConcurrentActivities: number;
  polling: PollingOptions;
  logLevel: WorkerLogLevel;
  /** host:port where the worker serves Prometheus metrics at /metrics (its own, business and Temporal SDK metrics); off when unset. */
  metricsBindAddress?: string;
  /** When a deleted account holds a UPN being provisioned: stop (ask a person), restore or purge it. */
  onDeletedAccount: DeletedAccountPolicy;
  /** This process's budget of calls to the tenant (resource units per 10 s, writes per 150 s); null when pacing is off. */
  pacing: PacingBudget | null;
  /** Activities per second the Temporal server dispatches from the task queue to all its workers together. */
  taskQueueActivitiesPerSecond?: number;
  /** How licenses are bought when runs are short: `manual` (a person) or `partner-center` (CSP, after approval). */
  procurement: ProcurementSettings;
  /** OpenTelemetry tracing (OTEL_* variables); off unless one asks for traces. */
  tracing: TracingConfig;
  /** Notifications: the operator's receivers of every event, the signing secret, timeouts (worker/notify-config.ts). */
  notifications: NotificationSettings;
}

/**
 * Activity slots per worker. A license wait holds its slot while it watches (up to half an hour an
 * attempt), and every call to the tenant waits for the pacing budget rather than for a slot, so slots
 * are cheap and many: they must not be what limits how many accounts provision at once.
 */
export const DEFAULT_MAX_CONCURRENT_ACTIVITIES = 1000;

/** The simulator compresses time, so the worker looks more often there. */
const SIMULATOR_POLLING: PollingOptions = {
  initialIntervalMs: 200,
  maxIntervalMs: 2_000,
  budgetMs: 30_000,
  transientPauseMs: { minMs: 200, maxMs: 600 },
};

/**
 * Tenant config for a simulator at `url`: one origin serves the authority, Graph and Teams admin. The
 * Teams adapter is the REST one unless asked: in-process tests would otherwise start a PowerShell
 * stand-in process for every set of activities; worker processes (npm start, the end-to-end tests)
 * take `powershell` from their config.
 */
export function simulatorTenant(
  url: string,
  app: { tenantId?: string; clientId?: string; secret?: string } = {},
  teamsAdmin: Partial<TeamsAdminConfig> = {},
): TenantConfig {
  return {
    mode: 'simulator',
    tenantId: app.tenantId ?? LOCAL_TENANT_ID,
    clientId: app.clientId ?? LOCAL_CLIENT_ID,
    credential: { kind: 'secret', secret: app.secret ?? LOCAL_CLIENT_SECRET },
    authorityHost: url,
    graphBaseUrl: url,
    teamsAdminBaseUrl: url,
    teamsAdmin: { adapter: 'rest-experimental', pwshPath: 'pwsh', commandTimeoutMs: DEFAULT_PWSH_COMMAND_TIMEOUT_MS, sessions: DEFAULT_TEAMS_SESSIONS, ...teamsAdmin },
  };
}

function readTeamsAdminConfig(r: EnvReader): TeamsAdminConfig {
  return {
    adapter: r.oneOf<TeamsAdminAdapterName>('DIALTONE_TEAMS_ADMIN', TEAMS_ADMIN_ADAPTERS, 'powershell'),
    pwshPath: r.string('DIALTONE_PWSH_PATH', 'pwsh'),
    commandTimeoutMs: r.int('DIALTONE_PWSH_COMMAND_TIMEOUT_MS', DEFAULT_PWSH_COMMAND_TIMEOUT_MS, 1_000, 3_600_000),
    sessions: r.int('DIALTONE_TEAMS_SESSIONS', DEFAULT_TEAMS_SESSIONS, TEAMS_SESSIONS_RANGE.min, TEAMS_SESSIONS_RANGE.max),
  };
}

export function loadWorkerConfig(env: Env): WorkerConfig {
  const r = new EnvReader(env);
  const temporal = readTemporalConfig(r, TASK_QUEUE);
  const { mode, tenantId } = readTenantId(r);
  let tenant: TenantConfig;
  if (mode === 'simulator') {
    const simulatorUrl = r.url('SIMULATOR_URL', DEFAULT_SIMULATOR_URL);
    // Node reads extra CAs only at start, so a worker without them would fail every call with a TLS error.
    if (r.optional('NODE_EXTRA_CA_CERTS') === undefined) {
      r.problems.push(
        "NODE_EXTRA_CA_CERTS is not set: in simulator mode the worker must trust the simulator's CA; start it with NODE_EXTRA_CA_CERTS=.data/simulator-tls/ca.pem (npm start does this for you)",
      );
    }
    tenant = simulatorTenant(simulatorUrl, {
      tenantId,
      clientId: r.string('AZURE_CLIENT_ID', LOCAL_CLIENT_ID),
      secret: r.secret('AZURE_CLIENT_SECRET') ?? LOCAL_CLIENT_SECRET,
    }, readTeamsAdminConfig(r));
  } else {
    const clientId = r.required('AZURE_CLIENT_ID', 'set it to the application (client) id of the app registration');
    const secret = r.secret('AZURE_CLIENT_SECRET');
    const certificatePath = r.optional('AZURE_CLIENT_CERTIFICATE_PATH');
    const managed = r.bool('DIALTONE_USE_MANAGED_IDENTITY', false);
    const chosen = [secret !== undefined, certificatePath !== undefined, managed].filter(Boolean).length;
    if (chosen !== 1) {
      r.problems.push(
        'choose exactly one credential for the app registration: AZURE_CLIENT_SECRET (or AZURE_CLIENT_SECRET_FILE), AZURE_CLIENT_CERTIFICATE_PATH, or DIALTONE_USE_MANAGED_IDENTITY=true',
      );
    }
    const credential: CredentialConfig = managed
      ? { kind: 'managedIdentity' }
      : certificatePath !== undefined
        ? { kind: 'certificate', certificatePath, certificatePassword: r.secret('AZURE_CLIENT_CERTIFICATE_PASSWORD') }
        : { kind: 'secret', secret: secret ?? '' };
    tenant = {
      mode,
      tenantId,
      clientId,
      credential,
      authorityHost: r.url('AZURE_AUTHORITY_HOST', 'https://login.microsoftonline.com'),
      graphBaseUrl: r.url('GRAPH_BASE_URL', 'https://graph.microsoft.com'),
      teamsAdminBaseUrl: r.url('TEAMS_ADMIN_BASE_URL', 'https://api.interfaces.records.teams.microsoft.com'),
      teamsAdmin: readTeamsAdminConfig(r),
    };
  }
  const procurement = readProcurementConfig(r, tenant);
  const notifications = readNotifyConfig(r, mode);
  const maxConcurrentActivities = r.int('WORKER_MAX_CONCURRENT_ACTIVITIES', DEFAULT_MAX_CONCURRENT_ACTIVITIES, 1, 10_000);
  // The API's levels (pino) are accepted too, so one LOG_LEVEL can serve every process.
  const level = r.oneOf('LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], 'info');
  const logLevel = (level === 'fatal' || level === 'silent' ? 'ERROR' : level.toUpperCase()) as WorkerLogLevel;
  const metricsBindAddress = r.optional('WORKER_METRICS_BIND_ADDRESS');
  if (metricsBindAddress !== undefined && !/^[^\s]+:\d+$/.test(metricsBindAddress)) {
    r.problems.push(`WORKER_METRICS_BIND_ADDRESS="${metricsBindAddress}" must be host:port, e.g. 0.0.0.0:9464`);
  }
  const onDeletedAccount = r.oneOf<DeletedAccountPolicy>('DIALTONE_ON_DELETED_ACCOUNT', DELETED_ACCOUNT_POLICIES, 'stop');
  // This process's share of the tenant's budget (with several workers, divide Microsoft's budget among them).
  const paced = r.bool('DIALTONE_PACING', true);
  const pacing: PacingBudget | null = paced
    ? {
        resourceUnits: r.int('DIALTONE_PACING_RESOURCE_UNITS', DEFAULT_BUDGET.resourceUnits, 1, 1_000_000),
        windowMs: 10_000,
        writes: r.int('DIALTONE_PACING_WRITES', DEFAULT_BUDGET.writes ?? 2500, 1, 1_000_000),
        writeWindowMs: 150_000,
      }
    : null;
  // Temporal enforces this on the server for every worker of the task queue together: the shared cap.
  const taskQueueActivitiesPerSecond = r.optional('DIALTONE_TASK_QUEUE_ACTIVITIES_PER_SECOND');
  const queueRate = taskQueueActivitiesPerSecond === undefined ? undefined : Number(taskQueueActivitiesPerSecond);
  if (queueRate !== undefined && !(Number.isFinite(queueRate) && queueRate > 0 && queueRate <= 10_000)) {
    r.problems.push(`DIALTONE_TASK_QUEUE_ACTIVITIES_PER_SECOND="${taskQueueActivitiesPerSecond?.slice(0, 40)}" must be a number above 0 and at most 10000, e.g. 20`);
  }
  const tracing = readTracingConfig(r);
  r.done();
  return {
    temporal,
    tenant,
    maxConcurrentActivities,
    polling: mode === 'simulator' ? SIMULATOR_POLLING : {},
    logLevel,
    metricsBindAddress,
    onDeletedAccount,
    pacing,
    ...(queueRate !== undefined ? { taskQueueActivitiesPerSecond: queueRate } : {}),
    procurement,
    tracing,
    notifications,
  };
}

/** A copy safe to log: secrets replaced by their presence. */
export function describeWorkerConfig(config: WorkerConfig): Record<string, unknown> {
  return {
    temporal: describeTemporalConfig(config.temporal),
    tenant: { ...config.tenant, credential: config.tenant.credential.kind },
    maxConcurrentActivities: config.maxConcurrentActivities,
    logLevel: config.logLevel,
    metricsBindAddress: config.metricsBindAddress,
    onDeletedAccount: config.onDeletedAccount,
    pacing: config.pacing,
    taskQueueActivitiesPerSecond: config.taskQueueActivitiesPerSecond,
    procurement: describeProcurementConfig(config.procurement),
    tracing: config.tracing.exporters.length > 0 ? config.tracing.exporters : 'off',
    notifications: describeNotifyConfig(config.notifications),
  };
}
