/**
 * The API's whole configuration, validated at boot. Only api/server.ts passes `process.env` in.
 */
import { EnvReader, readTemporalConfig, readTenantId } from '../lib/config';
import { readNotifyUrlRules } from '../lib/notify-url';
import type { NotifyUrlRules } from '../lib/notify-url';
import type { Env, TemporalConfig, TenantMode } from '../lib/config';
import { LOCAL_API_PORT } from '../lib/local-defaults';
import { readTracingConfig } from '../lib/telemetry';
import type { TracingConfig } from '../lib/telemetry';
import { TASK_QUEUE } from '../workflows/provision-resource-account/definitions';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Shorter tokens are guessable; 16 characters is the least we accept. */
export const MIN_TOKEN_LENGTH = 16;

export interface ApiAuthConfig {
  /** Bearer tokens accepted on every /v1 route. Secrets: never logged. */
  tokens: string[];
  /** True only when API_AUTH_DISABLED=true was set on purpose (the local stack does). */
  disabled: boolean;
}

export interface ApiConfig {
  host: string;
  port: number;
  logLevel: LogLevel;
  auth: ApiAuthConfig;
  temporal: TemporalConfig;
  tenantMode: TenantMode;
  /** Directory (tenant) id that every account of this API belongs to; part of each workflow id. */
  tenantId: string;
  /** Base URL of the Temporal Web UI; when set, responses link to each run there. */
  temporalUiUrl?: string;
  /** How long a request waits for a worker to answer a status query or a decision before giving up, in ms. */
  workerTimeoutMs: number;
  /** How long a dry-run submit waits for the plan before answering 202 with where to read it, in ms (0: answer at once). */
  dryRunWaitMs: number;
  /** Serve the interactive OpenAPI page (Swagger UI) at /docs. Default: on, except with NODE_ENV=production. */
  docsUi: boolean;
  /** OpenTelemetry tracing (OTEL_* variables); off unless one asks for traces. */
  tracing: TracingConfig;
  /** What a caller's notify URL may be: http for any host (DIALTONE_NOTIFY_ALLOW_HTTP), which hosts (DIALTONE_NOTIFY_ALLOWED_HOSTS). */
  notifyRules: NotifyUrlRules;
}

export function loadApiConfig(env: Env): ApiConfig {
  const r = new EnvReader(env);
  const host = r.string('API_HOST', '127.0.0.1');
  const port = r.int('API_PORT', LOCAL_API_PORT, 0, 65535);
  const logLevel = r.oneOf<LogLevel>('LOG_LEVEL', LOG_LEVELS, 'info');
  const auth = readAuth(r);
  const temporal = readTemporalConfig(r, TASK_QUEUE);
  const { mode: tenantMode, tenantId } = readTenantId(r);
  const uiUrl = r.optional('TEMPORAL_UI_URL');
  const temporalUiUrl = uiUrl === undefined ? undefined : r.url('TEMPORAL_UI_URL', uiUrl, ['http:', 'https:']);
  const workerTimeoutMs = r.int('API_WORKER_TIMEOUT_MS', 10_000, 100, 300_000);
  const dryRunWaitMs = r.int('API_DRY_RUN_WAIT_MS', 120_000, 0, 600_000);
  // A page for people to try the API: off in production unless asked for.
  const docsUi = r.bool('API_DOCS_UI', r.optional('NODE_ENV') !== 'production');
  const tracing = readTracingConfig(r);
  // Notifications: events go in the clear over http, so only a receiver on this machine may use it unless allowed.
  const notifyRules = readNotifyUrlRules(r);
  r.done();
  return { host, port, logLevel, auth, temporal, tenantMode, tenantId, temporalUiUrl, workerTimeoutMs, dryRunWaitMs, docsUi, tracing, notifyRules };
}

function readAuth(r: EnvReader): ApiAuthConfig {
  const raw = r.secret('API_AUTH_TOKENS');
  const disabled = r.bool('API_AUTH_DISABLED', false);
  const tokens = (raw ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (disabled && tokens.length > 0) {
    r.problems.push('API_AUTH_TOKENS is set but API_AUTH_DISABLED=true: unset one of them, so it is clear whether the API is open');
  } else if (!disabled && tokens.length === 0) {
    r.problems.push(
      'API_AUTH_TOKENS is not set: give one or more comma-separated bearer tokens (e.g. from `openssl rand -hex 32`), ' +
        'or point API_AUTH_TOKENS_FILE at a file holding them, or set API_AUTH_DISABLED=true for a local open API',
    );
  }
  const short = tokens.filter((t) => t.length < MIN_TOKEN_LENGTH).length;
  if (short > 0) {
    // Count only: a token, even a bad one, is never echoed.
    r.problems.push(
      `API_AUTH_TOKENS: ${short} token${short === 1 ? ' is' : 's are'} shorter than ${MIN_TOKEN_LENGTH} characters; use long random tokens, e.g. from \`openssl rand -hex 32\``,
    );
  }
  return { tokens, disabled };
}
