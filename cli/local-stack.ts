/**
 * `dialtone start`: the whole stack on the embedded defaults — Temporal dev server (SQLite under
 * .data/, Web UI, search attributes registered), tenant simulator (its tenant kept in
 * .data/simulator-state.json), worker and API — as child
 * processes that stop together on Ctrl-C.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { EnvReader } from '../lib/config';
import type { Env } from '../lib/config';
import { LOCAL_API_PORT, LOCAL_SIMULATOR_PORT, LOCAL_TEMPORAL_PORT, LOCAL_TEMPORAL_UI_PORT } from '../lib/local-defaults';
import { DATA_DIR, DEFAULT_SIMULATOR_TLS_DIR, REPO_ROOT, TEMPORAL_CLI } from '../lib/paths';
import { ensureSimulatorTls } from '../simulator/tls';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/provision-resource-account/definitions';

interface Service {
  name: string;
  child: ChildProcess;
}

export interface LocalStackPorts {
  temporal: number;
  temporalUi: number;
  simulator: number;
  api: number;
  workerMetrics: number;
}

export interface LocalStackOptions {
  ports: LocalStackPorts;
  /** Temporal's SQLite file and the simulator's state live here. */
  dataDir: string;
}

export function readLocalStackOptions(env: Env): LocalStackOptions {
  const r = new EnvReader(env);
  const ports = {
    temporal: r.int('TEMPORAL_PORT', LOCAL_TEMPORAL_PORT, 1, 65535),
    temporalUi: r.int('TEMPORAL_UI_PORT', LOCAL_TEMPORAL_UI_PORT, 1, 65535),
    simulator: r.int('SIMULATOR_PORT', LOCAL_SIMULATOR_PORT, 1, 65535),
    api: r.int('API_PORT', LOCAL_API_PORT, 1, 65535),
    workerMetrics: r.int('WORKER_METRICS_PORT', 9464, 1, 65535),
  };
  const dataDir = path.resolve(REPO_ROOT, r.string('DIALTONE_DATA_DIR', DATA_DIR));
  r.done();
  return { ports, dataDir };
}

function prefixLines(name: string, stream: NodeJS.ReadableStream | null, out: NodeJS.WritableStream): void {
  let buffer = '';
  stream?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) out.write(`[${name}] ${line}\n`);
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`${what} exited during start-up (see its log lines above)`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs / 1000} s`);
}

function httpsOk(url: string, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const request = https.get(url, { ca, timeout: 2000 }, (response) => {
      response.resume();
      resolve((response.statusCode ?? 500) < 300);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

export async function startLocalStack(env: Env): Promise<number> {
  const { ports, dataDir } = readLocalStackOptions(env);
  if (!existsSync(TEMPORAL_CLI)) throw new Error(`${TEMPORAL_CLI} is missing: run "npm run setup:temporal" (npm start does it for you)`);
  mkdirSync(dataDir, { recursive: true });
  const tls = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
  const simulatorUrl = `https://localhost:${ports.simulator}`;
  const services: Service[] = [];
  let stopping = false;

  const startService = (name: string, command: string, args: string[], extraEnv: Record<string, string>): Service => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    prefixLines(name, child.stdout, process.stdout);
    prefixLines(name, child.stderr, process.stderr);
    const service = { name, child };
    services.push(service);
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`[dialtone] ${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the stack`);
        void stopAll(1);
      }
    });
    return service;
  };
  const alive = (s: Service) => () => s.child.exitCode === null && s.child.signalCode === null;

  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  async function stopAll(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    console.log('[dialtone] stopping…');
    // Reverse start order: API and worker drain before the simulator and Temporal go away.
    for (const { name, child } of [...services].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        console.error(`[dialtone] ${name} did not stop in 15 s; killing it`);
        child.kill('SIGKILL');
      }, 15_000);
      await done;
      clearTimeout(timer);
    }
    console.log('[dialtone] stopped');
    resolveExit(code);
  }
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));

  try {
    const temporal = startService(
      'temporal',
      TEMPORAL_CLI,
      [
        'server', 'start-dev',
        '--ip', '127.0.0.1',
        '--port', String(ports.temporal),
        '--ui-port', String(ports.temporalUi),
        '--db-filename', path.join(dataDir, 'temporal.sqlite'),
        '--log-level', 'warn',
        ...ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
      ],
      {},
    );
    const temporalAddress = `127.0.0.1:${ports.temporal}`;
    await waitFor(
      'Temporal dev server',
      async () => {
        const connection = await Connection.connect({ address: temporalAddress, connectTimeout: 1000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return true;
        } finally {
          await connection.close();
        }
      },
      60_000,
      alive(temporal),
    );

    const tsx = ['--import', 'tsx'];
    const simulator = startService('simulator', process.execPath, [...tsx, 'simulator/main.ts'], {
      SIMULATOR_HOST: '127.0.0.1',
      SIMULATOR_PORT: String(ports.simulator),
      SIMULATOR_TLS_DIR: DEFAULT_SIMULATOR_TLS_DIR,
      // Beside Temporal's SQLite file, so a restart finds the tenant that Temporal's history remembers.
      SIMULATOR_STATE_FILE: path.join(dataDir, 'simulator-state.json'),
      NODE_EXTRA_CA_CERTS: tls.caPath,
    });
    // This process was not started with NODE_EXTRA_CA_CERTS, so it names the simulator's CA itself.
    const ca = readFileSync(tls.caPath);
    await waitFor('tenant simulator', () => httpsOk(`${simulatorUrl}/_simulator/healthz`, ca), 30_000, alive(simulator));

    const common = { TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: 'default', DIALTONE_TENANT_MODE: 'simulator', NODE_EXTRA_CA_CERTS: tls.caPath };
    const metricsAddress = `127.0.0.1:${ports.workerMetrics}`;
    startService('worker', process.execPath, [...tsx, 'worker/main.ts'], { ...common, SIMULATOR_URL: simulatorUrl, WORKER_METRICS_BIND_ADDRESS: metricsAddress });
    // The local stack is the one place an open API is asked for explicitly.
    const api = startService('api', process.execPath, [...tsx, 'api/server.ts'], {
      ...common,
      API_HOST: '127.0.0.1',
      API_PORT: String(ports.api),
      API_AUTH_DISABLED: 'true',
      TEMPORAL_UI_URL: `http://127.0.0.1:${ports.temporalUi}`,
    });
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    await waitFor('API', async () => (await fetch(`${apiUrl}/readyz`)).ok, 60_000, alive(api));

    console.log(
      [
        '',
        'Dialtone is running on the embedded local tenant:',
        `  API                 ${apiUrl}   (OpenAPI: ${apiUrl}/openapi.json; open, no token needed locally)`,
        `  Temporal Web UI     http://127.0.0.1:${ports.temporalUi}`,
        `  Temporal frontend   ${temporalAddress}`,
        `  Worker metrics      http://${metricsAddress}/metrics`,
        `  Tenant simulator    ${simulatorUrl}   (control API: ${simulatorUrl}/_simulator/state)`,
        '',
        'Try:',
        `  curl -s -X POST ${apiUrl}/v1/resource-accounts -H 'content-type: application/json' \\`,
        `    -d '{"upn":"aa-main@contoso.onmicrosoft.com","displayName":"Main line","kind":"autoAttendant","usageLocation":"US","phoneNumber":"+12065550100"}'`,
        `  curl -s ${apiUrl}/v1/resource-accounts/aa-main@contoso.onmicrosoft.com`,
        '',
        'Press Ctrl-C to stop everything.',
        '',
      ].join('\n'),
    );
  } catch (err) {
    console.error(`[dialtone] start failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
  return exited;
}
