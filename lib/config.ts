/**
 * Configuration primitives shared by the entry points. Each process validates its whole config at
 * boot and fails fast with a message naming the variable and what to set it to. Only entry points
 * pass `process.env` in; everything below takes an explicit env record.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { ClientConfigProfile } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { LOCAL_SIMULATOR_PORT, LOCAL_TENANT_ID } from './local-defaults';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Collects problems so one boot reports every bad variable at once. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === '' ? fallback : value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  required(name: string, hint: string): string {
    const value = this.optional(name);
    if (value === undefined) this.problems.push(`${name} is not set: ${hint}`);
    return value ?? '';
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}="${raw}" is not a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(raw)) return true;
    if (/^(false|0|no)$/i.test(raw)) return false;
    this.problems.push(`${name}="${raw}" must be true or false`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}="${raw}" must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, fallback: string, protocols: string[] = ['https:']): string {
    const raw = this.string(name, fallback);
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name}="${raw}" must be a ${protocols.join(' or ')} URL`);
      }
    } catch {
      this.problems.push(`${name}="${raw}" is not a URL; set it like ${fallback}`);
    }
    return raw.replace(/\/+$/, '');
  }

  /** A secret from NAME or from the file named by NAME_FILE (Docker/Kubernetes secrets). */
  secret(name: string): string | undefined {
    const direct = this.optional(name);
    const file = this.optional(`${name}_FILE`);
    if (direct !== undefined && file !== undefined) {
      this.problems.push(`${name} and ${name}_FILE are both set: set only one`);
    }
    if (file !== undefined) {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch {
        this.problems.push(`${name}_FILE="${file}" cannot be read: point it at a readable file holding the secret`);
      }
    }
    return direct;
  }

  /** The set (non-empty) variables, for libraries that read an env record themselves. */
  entries(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  }

  /** Throws ConfigError when anything was wrong. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/**
 * How the worker and the API reach Temporal: what `@temporalio/envconfig` resolves from a TOML profile
 * and the standard TEMPORAL_* variables (the same ones the Temporal CLI and every SDK read), plus the
 * task queue, which is Dialtone's own.
 */
export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Temporal Cloud API key; a secret. */
  apiKey?: string;
  /** `true` for TLS with the system's roots; an object for mTLS, a private CA or a server name. */
  tls?: TLSConfig | boolean;
  /** gRPC headers from the profile's `grpc_meta` or TEMPORAL_GRPC_META_*. */
  metadata?: Record<string, string>;
  /** The profile and file the settings came from, when a file was read (for the boot log). */
  profile?: { name: string; file?: string };
}

/** The options `Connection` (API) and `NativeConnection` (worker) take: only what was set. */
export function temporalConnectionOptions(config: TemporalConfig): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  return {
    address: config.address,
    ...(config.tls !== undefined ? { tls: config.tls } : {}),
    ...(config.apiKey !== undefined ? { apiKey: config.apiKey } : {}),
    ...(config.metadata !== undefined ? { metadata: config.metadata } : {}),
  };
}

/** Where envconfig looks for the file when TEMPORAL_CONFIG_FILE is unset (Linux; see its README). */
function defaultConfigFile(env: Env): string | undefined {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : undefined);
  return base ? path.join(base, 'temporalio', 'temporal.toml') : undefined;
}

/**
 * Temporal's client settings, resolved by `@temporalio/envconfig` exactly as the Temporal CLI resolves
 * them: the profile TEMPORAL_PROFILE (default `default`) of TEMPORAL_CONFIG_FILE (default
 * ~/.config/temporalio/temporal.toml), each field overridden by its TEMPORAL_* variable
 * (https://docs.temporal.io/develop/environment-configuration). Empty variables count as unset, as
 * everywhere else in Dialtone (compose passes `${X:-}`), so an empty TEMPORAL_TLS cannot switch off a
 * profile's TLS. TEMPORAL_API_KEY_FILE (Docker and Kubernetes secrets) is Dialtone's addition.
 */
export function readTemporalConfig(r: EnvReader, defaultTaskQueue: string): TemporalConfig {
  const taskQueue = r.string('TEMPORAL_TASK_QUEUE', defaultTaskQueue);
  const apiKey = r.secret('TEMPORAL_API_KEY');
  const tlsRaw = r.optional('TEMPORAL_TLS');
  if (tlsRaw !== undefined && !/^(true|false|1|0)$/.test(tlsRaw)) {
    // envconfig reads anything but `true` and `1` as false, which would turn TLS off by a typo.
    r.problems.push(`TEMPORAL_TLS="${tlsRaw}" must be true or false`);
  }
  // What envconfig reads: the set variables, with the key from TEMPORAL_API_KEY_FILE as TEMPORAL_API_KEY.
  const overrides = r.entries();
  if (apiKey !== undefined) overrides.TEMPORAL_API_KEY = apiKey;
  delete overrides.TEMPORAL_API_KEY_FILE;
  const file = overrides.TEMPORAL_CONFIG_FILE ?? defaultConfigFile(overrides);
  const profileName = overrides.TEMPORAL_PROFILE ?? 'default';
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: overrides, configFileStrict: true });
  } catch (err) {
    const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    r.problems.push(
      /not found in config data/.test(why)
        ? `TEMPORAL_PROFILE="${profileName}" is not a profile in ${file ?? 'the Temporal config file'}: add [profile.${profileName}] to it, or set TEMPORAL_PROFILE to one it has`
        : `the Temporal config file ${file ?? ''} cannot be used (${why}): fix it, or point TEMPORAL_CONFIG_FILE at a valid TOML file (see https://docs.temporal.io/develop/environment-configuration)`,
    );
    profile = {};
  }
  const address = profile.address ?? 'localhost:7233';
  if (!/^[^\s:]+:\d+$/.test(address)) {
    const from = overrides.TEMPORAL_ADDRESS !== undefined ? 'TEMPORAL_ADDRESS' : `address of profile ${profileName}`;
    r.problems.push(`${from}="${address}" must be host:port, e.g. localhost:7233`);
  }
  if ((profile.tls?.clientCert === undefined) !== (profile.tls?.clientKey === undefined)) {
    r.problems.push(
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or client_cert_path and client_key_path in the profile) go together: set both or neither',
    );
  }
  let tls: TLSConfig | boolean | undefined;
  try {
    // envconfig reads the certificate files here; TLS is on for a tls table or an API key.
    tls = toClientOptions(profile).connectionOptions.tls ?? undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    r.problems.push(
      `a Temporal TLS file cannot be read${code ? ` (${code})` : ''}: check TEMPORAL_TLS_*_PATH or the *_path entries of profile ${profileName}`,
    );
  }
  const fileRead = file !== undefined && existsSync(file);
  return {
    address,
    namespace: profile.namespace ?? 'default',
    taskQueue,
    ...(profile.apiKey !== undefined ? { apiKey: profile.apiKey } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(profile.grpcMeta !== undefined && Object.keys(profile.grpcMeta).length > 0 ? { metadata: profile.grpcMeta } : {}),
    ...(fileRead ? { profile: { name: profileName, file } } : {}),
  };
}

/** A copy safe to log: the API key replaced by its presence, certificates and keys by their presence. */
export function describeTemporalConfig(config: TemporalConfig): Record<string, unknown> {
  const tls = config.tls;
  return {
    address: config.address,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    apiKey: config.apiKey ? '(set)' : undefined,
    tls: typeof tls === 'object'
      ? {
          serverName: tls.serverNameOverride,
          serverCa: tls.serverRootCACertificate ? '(set)' : undefined,
          clientCert: tls.clientCertPair ? '(set)' : undefined,
        }
      : tls,
    metadata: config.metadata ? Object.keys(config.metadata) : undefined,
    profile: config.profile,
  };
}

export type TenantMode = 'simulator' | 'microsoft';

/** Tenant id as the API and worker see it (not a secret). */
export function readTenantId(r: EnvReader): { mode: TenantMode; tenantId: string } {
  const mode = r.oneOf<TenantMode>('DIALTONE_TENANT_MODE', ['simulator', 'microsoft'], 'simulator');
  const tenantId =
    mode === 'simulator'
      ? r.string('AZURE_TENANT_ID', LOCAL_TENANT_ID)
      : r.required('AZURE_TENANT_ID', 'set it to the directory (tenant) id of the Microsoft 365 tenant');
  if (tenantId && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(tenantId)) {
    r.problems.push(`AZURE_TENANT_ID="${tenantId}" must be the tenant's GUID (Entra admin center > Overview > Tenant ID)`);
  }
  return { mode, tenantId };
}

export const DEFAULT_SIMULATOR_URL = `https://localhost:${LOCAL_SIMULATOR_PORT}`;
