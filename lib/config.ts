/**
 * Configuration primitives shared by the entry points. Each process validates its whole config at
 * boot and fails fast with a message naming the variable and what to set it to. Only entry points
 * pass `process.env` in; everything below takes an explicit env record.
 */
import { readFileSync } from 'node:fs';
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

  /** Throws ConfigError when anything was wrong. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Temporal Cloud API key; a secret. */
  apiKey?: string;
  tls?: {
    clientCertPath?: string;
    clientKeyPath?: string;
    serverCaCertPath?: string;
    serverName?: string;
  };
}

/** The standard TEMPORAL_* variables, shared by the worker and the API. */
export function readTemporalConfig(r: EnvReader, defaultTaskQueue: string): TemporalConfig {
  const address = r.string('TEMPORAL_ADDRESS', 'localhost:7233');
  if (!/^[^\s:]+:\d+$/.test(address)) r.problems.push(`TEMPORAL_ADDRESS="${address}" must be host:port, e.g. localhost:7233`);
  const apiKey = r.secret('TEMPORAL_API_KEY');
  const clientCertPath = r.optional('TEMPORAL_TLS_CLIENT_CERT_PATH');
  const clientKeyPath = r.optional('TEMPORAL_TLS_CLIENT_KEY_PATH');
  if ((clientCertPath === undefined) !== (clientKeyPath === undefined)) {
    r.problems.push('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: set both or neither');
  }
  const tlsWanted = r.bool('TEMPORAL_TLS', apiKey !== undefined || clientCertPath !== undefined);
  return {
    address,
    namespace: r.string('TEMPORAL_NAMESPACE', 'default'),
    taskQueue: r.string('TEMPORAL_TASK_QUEUE', defaultTaskQueue),
    apiKey,
    tls: tlsWanted
      ? {
          clientCertPath,
          clientKeyPath,
          serverCaCertPath: r.optional('TEMPORAL_TLS_SERVER_CA_CERT_PATH'),
          serverName: r.optional('TEMPORAL_TLS_SERVER_NAME'),
        }
      : undefined,
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
