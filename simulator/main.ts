/**
 * Entry point of the tenant simulator (`npm run simulator`). The only module of the simulator that
 * reads the environment; every variable is validated before anything starts.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_SIMULATOR_PORT } from '../lib/local-defaults';
import { buildSimulator } from './app';
import type { CapabilityStatus, LicenseSeed } from './catalog';
import { CAPABILITY_STATUSES, DEFAULT_LICENSES, catalogSku } from './catalog';
import type { CmdletLatency, Delay, DirectoryRoleName, SimulatedApp, SimulatorDelays, SimulatorProfile, ThrottleBudget, WriteQuota } from './options';
import {
  CMDLET_NAMES,
  DEFAULT_APP,
  DELAY_NAMES,
  SIMULATOR_PROFILES,
  SimulatorConfigError,
  directoryRoleProblems,
  graphRoleProblems,
} from './options';
import { ensureSimulatorTls } from './tls';

interface MainConfig {
  host: string;
  port: number;
  tlsDir: string;
  profile: SimulatorProfile;
  timeScale?: number;
  faultRate?: number;
  seed?: number;
  licenses: LicenseSeed[];
  stateFile?: string;
  app: SimulatedApp;
  delays: Partial<SimulatorDelays>;
  cmdletLatency: Partial<CmdletLatency>;
  throttle?: ThrottleBudget | null;
  writeQuota?: WriteQuota | null;
  retryAfterOmissionRate?: number;
}

function readConfig(env: NodeJS.ProcessEnv): MainConfig {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const number = (name: string, accept: (value: number) => boolean, expectation: string): number | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || !accept(value)) {
      problems.push(`${name} must be ${expectation} (got "${raw}")`);
      return undefined;
    }
    return value;
  };

  const port = number('SIMULATOR_PORT', (v) => Number.isInteger(v) && v >= 0 && v <= 65535, 'a port number from 0 to 65535') ?? LOCAL_SIMULATOR_PORT;
  const profile = read('SIMULATOR_PROFILE') ?? 'fast';
  if (!(SIMULATOR_PROFILES as readonly string[]).includes(profile)) {
    problems.push(`SIMULATOR_PROFILE must be one of ${SIMULATOR_PROFILES.join(', ')} (got "${profile}")`);
  }
  const timeScale = number('SIMULATOR_TIME_SCALE', (v) => v > 0, 'a number greater than 0, e.g. 0.001 to run an hour in 3.6 s');
  const faultRate = number('SIMULATOR_FAULT_RATE', (v) => v >= 0 && v <= 1, 'a probability from 0 to 1, e.g. 0.05');
  const seed = number('SIMULATOR_SEED', Number.isSafeInteger, 'an integer');
  const retryAfterOmissionRate = number('SIMULATOR_RETRY_AFTER_OMISSION_RATE', (v) => v >= 0 && v <= 1, 'a probability from 0 to 1, e.g. 0.25');
  const licenses = parseLicenses(read('SIMULATOR_LICENSES'), problems);
  parseSubscriptionStatuses(read('SIMULATOR_SUBSCRIPTION_STATUS'), licenses, problems);
  const app = parseApp(read('SIMULATOR_APP_PERMISSIONS'), read('SIMULATOR_APP_ROLES'), problems);
  const delays = parseDelays(read('SIMULATOR_DELAYS'), problems);
  const cmdletLatency = parseCmdletLatency(read('SIMULATOR_CMDLET_LATENCY'), problems);
  const throttle = parseBudget('SIMULATOR_THROTTLE', read('SIMULATOR_THROTTLE'), 10_000, problems,
    (units, windowMs) => ({ resourceUnits: units, windowMs }));
  const writeQuota = parseBudget('SIMULATOR_WRITE_QUOTA', read('SIMULATOR_WRITE_QUOTA'), 150_000, problems, (requests, windowMs) => ({ requests, windowMs }));
  const stateFile = read('SIMULATOR_STATE_FILE');
  if (stateFile !== undefined && (stateFile.endsWith('/') || stateFile.endsWith(path.sep) || isDirectory(stateFile))) {
    problems.push(`SIMULATOR_STATE_FILE must name a file, not a folder, e.g. .data/simulator-state.json (got "${stateFile}")`);
  }

  if (problems.length > 0) throw new SimulatorConfigError(`Invalid tenant simulator configuration:\n  - ${problems.join('\n  - ')}`);
  return {
    host: read('SIMULATOR_HOST') ?? '127.0.0.1',
    port,
    tlsDir: read('SIMULATOR_TLS_DIR') ?? '.data/simulator-tls',
    profile: profile as SimulatorProfile,
    timeScale,
    faultRate,
    seed,
    licenses,
    stateFile,
    app,
    delays,
    cmdletLatency,
    throttle,
    writeQuota,
    retryAfterOmissionRate,
  };
}

const list = (raw: string): string[] => raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');

/**
 * The built-in app's grants: `SIMULATOR_APP_PERMISSIONS` (Graph application permissions) and
 * `SIMULATOR_APP_ROLES` (directory role names), each a comma-separated list or `none`.
 */
function parseApp(permissions: string | undefined, roles: string | undefined, problems: string[]): SimulatedApp {
  const app = { ...DEFAULT_APP };
  if (permissions !== undefined) {
    const graphRoles = permissions.toLowerCase() === 'none' ? [] : list(permissions);
    const found = graphRoleProblems(graphRoles, 'SIMULATOR_APP_PERMISSIONS');
    if (found.length > 0) problems.push(`${found.join('; ')} (got "${permissions}")`);
    else app.graphRoles = graphRoles;
  }
  if (roles !== undefined) {
    const directoryRoles = roles.toLowerCase() === 'none' ? [] : list(roles);
    const found = directoryRoleProblems(directoryRoles, 'SIMULATOR_APP_ROLES');
    if (found.length > 0) problems.push(`${found.join('; ')}, or none (got "${roles}")`);
    else app.directoryRoles = directoryRoles as DirectoryRoleName[];
  }
  return app;
}

/** `SIMULATOR_SUBSCRIPTION_STATUS`: `PHONESYSTEM_VIRTUALUSER=Suspended,ENTERPRISEPACK=Warning`. */
function parseSubscriptionStatuses(raw: string | undefined, licenses: LicenseSeed[], problems: string[]): void {
  if (raw === undefined) return;
  for (const entry of list(raw)) {
    const match = /^([A-Za-z0-9_]+)=([A-Za-z]+)$/.exec(entry);
    const license = match && licenses.find((candidate) => candidate.skuPartNumber.toLowerCase() === match[1]?.toLowerCase());
    const status = match && CAPABILITY_STATUSES.find((candidate) => candidate.toLowerCase() === match[2]?.toLowerCase());
    if (!license || !status) {
      problems.push(`SIMULATOR_SUBSCRIPTION_STATUS must look like PHONESYSTEM_VIRTUALUSER=Suspended with a SKU the tenant owns ` +
        `(${licenses.map((candidate) => candidate.skuPartNumber).join(', ')}) and a status from ${CAPABILITY_STATUSES.join(', ')} (got "${entry}")`);
      continue;
    }
    license.capabilityStatus = status as CapabilityStatus;
  }
}

/** `SIMULATOR_DELAYS`: `usageLocationReplication=5000,applicationInstanceListing=60000-300000` (ms, before the time scale). */
function parseDelays(raw: string | undefined, problems: string[]): Partial<SimulatorDelays> {
  const delays: Partial<SimulatorDelays> = {};
  if (raw === undefined) return delays;
  for (const entry of list(raw)) {
    const match = /^([A-Za-z]+)=(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(entry);
    const name = DELAY_NAMES.find((candidate) => candidate === match?.[1]);
    const minMs = Number(match?.[2]);
    const maxMs = match?.[3] === undefined ? minMs : Number(match[3]);
    if (!match || !name || maxMs < minMs) {
      problems.push(`SIMULATOR_DELAYS must look like replication=5000,licensePropagation=60000-600000 (ms) with names from ${DELAY_NAMES.join(', ')} (got "${entry}")`);
      continue;
    }
    const delay: Delay = minMs === maxMs ? minMs : { minMs, maxMs };
    delays[name] = delay;
  }
  return delays;
}

/** `SIMULATOR_CMDLET_LATENCY`: `New-CsOnlineApplicationInstance=3000-10000,Get-CsCallQueue=1000` (ms, before the time scale). */
function parseCmdletLatency(raw: string | undefined, problems: string[]): Partial<CmdletLatency> {
  const latency: Partial<CmdletLatency> = {};
  if (raw === undefined) return latency;
  for (const entry of list(raw)) {
    const match = /^([A-Za-z-]+)=(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(entry);
    const name = CMDLET_NAMES.find((candidate) => candidate.toLowerCase() === match?.[1]?.toLowerCase());
    const minMs = Number(match?.[2]);
    const maxMs = match?.[3] === undefined ? minMs : Number(match[3]);
    if (!match || !name || maxMs < minMs) {
      problems.push(`SIMULATOR_CMDLET_LATENCY must look like New-CsOnlineApplicationInstance=3000-10000,Get-CsCallQueue=1000 (ms) with cmdlets from ${CMDLET_NAMES.join(', ')} (got "${entry}")`);
      continue;
    }
    latency[name] = minMs === maxMs ? minMs : { minMs, maxMs };
  }
  return latency;
}

/** `<count>` or `<count>/<windowMs>` (the window defaulting to `windowMs`), or `off`; undefined keeps the profile's. */
function parseBudget<T>(
  name: string,
  raw: string | undefined,
  windowMs: number,
  problems: string[],
  make: (count: number, windowMs: number) => T,
): T | null | undefined {
  if (raw === undefined) return undefined;
  if (raw.toLowerCase() === 'off') return null;
  const match = /^(\d+)(?:\/(\d+))?$/.exec(raw);
  const count = Number(match?.[1]);
  if (!match || count < 1) {
    problems.push(`${name} must be off, a whole number per window, or count/windowMs such as 3000/150000 (got "${raw}")`);
    return undefined;
  }
  return make(count, match[2] === undefined ? windowMs : Number(match[2]));
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `SIMULATOR_LICENSES` sets the units of SKUs the tenant owns at start: `PHONESYSTEM_VIRTUALUSER=5,MCOEV=10`,
 * or a bare number for the resource-account SKU. SKUs not named keep their default.
 */
function parseLicenses(raw: string | undefined, problems: string[]): LicenseSeed[] {
  const licenses = DEFAULT_LICENSES.map((license) => ({ ...license }));
  if (raw === undefined) return licenses;
  const entries = /^\d+$/.test(raw) ? [`PHONESYSTEM_VIRTUALUSER=${raw}`] : raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    const match = /^([A-Za-z0-9_]+)=(\d+)$/.exec(entry);
    const sku = match?.[1] === undefined ? undefined : catalogSku(match[1]);
    if (!match || !sku) {
      problems.push(`SIMULATOR_LICENSES must look like PHONESYSTEM_VIRTUALUSER=25,ENTERPRISEPACK=10 with SKUs from ` +
        `PHONESYSTEM_VIRTUALUSER, ENTERPRISEPACK, MCOEV (got "${entry}")`);
      continue;
    }
    const units = Number(match[2]);
    const existing = licenses.find((license) => license.skuPartNumber === sku.skuPartNumber);
    if (existing) existing.units = units;
    else licenses.push({ skuPartNumber: sku.skuPartNumber, units });
  }
  return licenses;
}

async function main(): Promise<void> {
  const config = readConfig(process.env);
  const tls = await ensureSimulatorTls(config.tlsDir);
  const app = await buildSimulator({
    tls,
    profile: config.profile,
    timeScale: config.timeScale,
    faultRate: config.faultRate,
    seed: config.seed,
    licenses: config.licenses,
    stateFile: config.stateFile,
    apps: [config.app],
    delays: config.delays,
    cmdletLatency: config.cmdletLatency,
    throttle: config.throttle,
    writeQuota: config.writeQuota,
    retryAfterOmissionRate: config.retryAfterOmissionRate,
    logger: { level: 'info' },
  });

  let closing = false;
  const close = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal} received, closing the tenant simulator`);
    app.close().then(() => process.exit(0), (error: unknown) => {
      app.log.error({ err: error }, 'tenant simulator did not close cleanly');
      process.exit(1);
    });
  };
  process.once('SIGINT', close);
  process.once('SIGTERM', close);

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  app.log.info(
    `Tenant simulator listening on https://localhost:${port} (bound to ${config.host}; profile ${config.profile}). ` +
    `Clients must trust its CA: NODE_EXTRA_CA_CERTS=${tls.caPath}. ` +
    `Control API (no authentication): https://localhost:${port}/_simulator/state`);
}

main().catch((error: unknown) => {
  if (error instanceof SimulatorConfigError) {
    console.error(error.message);
  } else {
    console.error('Tenant simulator failed to start:', error);
  }
  process.exit(1);
});
