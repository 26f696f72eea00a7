/**
 * `dialtone start`: the whole stack on the embedded defaults — Temporal dev server (SQLite under
 * .data/, Web UI, search attributes registered), tenant simulator (its tenant kept in
 * .data/simulator-state.json), worker and API — as child processes that start and stop together.
 *
 * How the processes hang together, and why:
 * - Every port is tried before anything starts, so a busy port names its variable and starts nothing.
 * - Each service runs under a small guard process in a session of its own. A terminal's Ctrl-C
 *   therefore reaches only this process, which stops the services in order (API and worker, then the
 *   simulator, then Temporal) and exits after the last one. The guard's stdin is a pipe from this
 *   process: if this process dies, even by SIGKILL, the guard reads end-of-file and stops its service.
 * - Under `npm start` this process runs below npm, `sh -c` and tsx. npm and tsx pass SIGINT and SIGTERM
 *   on, but `sh -c` dies of SIGTERM or SIGHUP without passing them, and npm and tsx die of SIGHUP; so
 *   this process also stops the stack when any of the processes that started it is gone.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { constants } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { EnvReader } from '../lib/config';
import type { Env } from '../lib/config';
import { LOCAL_API_PORT, LOCAL_SIMULATOR_PORT, LOCAL_TEMPORAL_PORT, LOCAL_TEMPORAL_UI_PORT } from '../lib/local-defaults';
import { DATA_DIR, DEFAULT_SIMULATOR_TLS_DIR, REPO_ROOT, TEMPORAL_CLI } from '../lib/paths';
import { ensureSimulatorTls } from '../simulator/tls';
import { ALL_SEARCH_ATTRIBUTES, TASK_QUEUE } from '../workflows/provision-resource-account/definitions';

export interface LocalStackPorts {
  temporal: number;
  temporalUi: number;
  simulator: number;
  api: number;
  workerMetrics: number;
}

/** The variable that sets each port; messages about a port name it. */
export const PORT_VARIABLES = {
  temporal: 'TEMPORAL_PORT',
  temporalUi: 'TEMPORAL_UI_PORT',
  simulator: 'SIMULATOR_PORT',
  api: 'API_PORT',
  workerMetrics: 'WORKER_METRICS_PORT',
} as const satisfies Record<keyof LocalStackPorts, string>;

export interface LocalStackOptions {
  ports: LocalStackPorts;
  /** Temporal's SQLite file and the simulator's state live here. */
  dataDir: string;
}

export function readLocalStackOptions(env: Env): LocalStackOptions {
  const r = new EnvReader(env);
  const ports = {
    temporal: r.int(PORT_VARIABLES.temporal, LOCAL_TEMPORAL_PORT, 1, 65535),
    temporalUi: r.int(PORT_VARIABLES.temporalUi, LOCAL_TEMPORAL_UI_PORT, 1, 65535),
    simulator: r.int(PORT_VARIABLES.simulator, LOCAL_SIMULATOR_PORT, 1, 65535),
    api: r.int(PORT_VARIABLES.api, LOCAL_API_PORT, 1, 65535),
    workerMetrics: r.int(PORT_VARIABLES.workerMetrics, 9464, 1, 65535),
  };
  const dataDir = path.resolve(REPO_ROOT, r.string('DIALTONE_DATA_DIR', DATA_DIR));
  r.done();
  return { ports, dataDir };
}

/** Every service binds 127.0.0.1, so that is where each port must be free. */
const BIND_HOST = '127.0.0.1';

function tryListen(port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host: BIND_HOST, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** One sentence per port that cannot be used, naming the variable that moves it; empty when all are free. */
export async function findPortProblems(ports: LocalStackPorts): Promise<string[]> {
  const problems: string[] = [];
  const claimedBy = new Map<number, string>();
  for (const key of Object.keys(PORT_VARIABLES) as (keyof LocalStackPorts)[]) {
    const variable = PORT_VARIABLES[key];
    const port = ports[key];
    const other = claimedBy.get(port);
    if (other !== undefined) {
      problems.push(`${other} and ${variable} are both ${port}: give each service its own port`);
      continue;
    }
    claimedBy.set(port, variable);
    const err = await tryListen(port);
    if (err?.code === 'EADDRINUSE') {
      problems.push(`port ${port} (${variable}) is already in use on ${BIND_HOST}: stop whatever listens there, or set ${variable} to a free port`);
    } else if (err) {
      problems.push(`port ${port} (${variable}) cannot be opened on ${BIND_HOST} (${err.code ?? err.message}): set ${variable} to another port`);
    }
  }
  return problems;
}

/** How long a guard lets its service shut down after losing this process before it kills the service. */
const GUARD_GRACE_MS = 10_000;
/** How long this process waits for a service to stop before it kills the service and its guard. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * The guard that runs each service (see the file comment). It is plain JavaScript for `node -e` so it
 * starts in milliseconds without a loader, and it works for the Temporal CLI, a Go binary that cannot
 * watch a pipe itself. The service's output is copied through the guard, and copying stops quietly if
 * this process is gone, so the service never writes into a closed pipe while it shuts down. The guard
 * exits with its service, once the service's output is closed.
 */
const GUARD_SOURCE = `// dialtone start: the guard of one service (cli/local-stack.ts)
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const [command, ...args] = process.argv.slice(1);
const service = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
for (const [from, to] of [[service.stdout, process.stdout], [service.stderr, process.stderr]]) {
  let open = true;
  to.on('error', () => { open = false; });
  from.on('data', (chunk) => { if (open) to.write(chunk); });
}
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  service.kill('SIGTERM');
  setTimeout(() => service.kill('SIGKILL'), ${GUARD_GRACE_MS}).unref();
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop);
process.stdin.on('end', stop).on('error', stop).resume();
service.on('error', (err) => { console.error(err.message); process.exit(127); });
service.on('exit', (code, signal) => {
  process.exitCode = code ?? 128 + constants.signals[signal];
  process.stdin.destroy();
});
`;

type ServiceName = 'temporal' | 'simulator' | 'worker' | 'api';

/** Stopped tier by tier, so nothing still running calls a service that is already gone. */
const STOP_ORDER: ServiceName[][] = [['api', 'worker'], ['simulator'], ['temporal']];

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function forwardLines(name: string, stream: NodeJS.ReadableStream | null, write: (line: string) => void): void {
  let buffer = '';
  stream?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) write(`[${name}] ${line}`);
  });
  stream?.on('end', () => {
    if (buffer !== '') write(`[${name}] ${buffer}`);
  });
}

interface ProcStat {
  state: string;
  ppid: number;
  /** Clock ticks after boot; tells a process from a later one given the same pid. */
  startTime: string;
}

/** Linux's view of a process, or undefined when it is gone or there is no /proc (macOS). */
function readProcStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces; the fields after it are fixed (proc(5)).
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

function runsNpmScript(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').some((entry) => entry.startsWith('npm_lifecycle_event='));
  } catch {
    return false;
  }
}

/**
 * The processes whose end means nobody waits for this stack any more: the parent, and under an npm
 * script every ancestor up to npm itself (npm, `sh -c` and tsx under `npm start`). A shell or script
 * above npm is not one of them, so `npm start &` outlives the script that started it.
 */
function launchers(env: Env): Map<number, string> {
  const chain = new Map<number, string>();
  for (let pid = process.ppid; pid > 1; ) {
    const stat = readProcStat(pid);
    if (!stat) break;
    chain.set(pid, stat.startTime);
    if (env.npm_lifecycle_event === undefined || !runsNpmScript(pid)) break;
    pid = stat.ppid;
  }
  return chain;
}

class StartAborted extends Error {}

/**
 * The running services and the one way they stop. Start-up calls {@link start} and {@link throwIfStopping}
 * between its steps; a signal, a lost launcher or a service's exit calls {@link stop}, after which no
 * service is started and the stack exits once every started service has exited.
 */
class LocalStack {
  readonly exited: Promise<number>;
  private resolveExit: (code: number) => void = () => undefined;
  private readonly services = new Map<ServiceName, ChildProcess>();
  private stopping = false;
  private ready = false;
  /** A service had to be killed: the stop was not clean, whatever asked for it. */
  private killedAny = false;
  private launcherTimer: NodeJS.Timeout | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.stopping) {
      console.error(`[dialtone] ${signal}: already stopping, waiting for the services to exit`);
      return;
    }
    // A stop asked for once the stack runs is a success; before that, start-up did not finish.
    this.stop(this.ready ? 0 : 128 + constants.signals[signal], `${signal} received`);
  };

  constructor(private readonly env: Env) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    for (const signal of STOP_SIGNALS) process.on(signal, this.onSignal);
    this.watchLaunchers();
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  throwIfStopping(): void {
    if (this.stopping) throw new StartAborted('the stack is stopping');
  }

  markReady(): void {
    this.throwIfStopping();
    this.ready = true;
  }

  start(name: ServiceName, command: string, args: string[], extraEnv: Record<string, string>): ChildProcess {
    this.throwIfStopping();
    const child = spawn(process.execPath, ['-e', GUARD_SOURCE, '--', command, ...args], {
      cwd: REPO_ROOT,
      env: { ...this.env, ...extraEnv },
      // stdin is the guard's lifeline: never written, closed only when this process is gone.
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    // console ignores write errors (a closed terminal), so forwarding never cuts the stop short.
    forwardLines(name, child.stdout, (line) => console.log(line));
    forwardLines(name, child.stderr, (line) => console.error(line));
    this.services.set(name, child);
    child.on('error', (err) => {
      if (!this.stopping) this.stop(1, `${name} could not be started (${err.message})`);
    });
    child.on('exit', (code, signal) => {
      if (!this.stopping) {
        this.stop(1, `${name} exited ${this.ready ? 'unexpectedly' : 'during start-up'} (${signal ?? `code ${code}`})`);
      }
    });
    return child;
  }

  stop(code: number, why: string): void {
    if (this.stopping) return;
    this.stopping = true;
    console.error(`[dialtone] ${why}; stopping…`);
    void this.stopAll(code);
  }

  private async stopAll(code: number): Promise<void> {
    for (const tier of STOP_ORDER) {
      await Promise.all(tier.map((name) => this.stopService(name)));
    }
    clearInterval(this.launcherTimer);
    for (const signal of STOP_SIGNALS) process.off(signal, this.onSignal);
    console.error('[dialtone] stopped');
    this.resolveExit(this.killedAny && code === 0 ? 1 : code);
  }

  private async stopService(name: ServiceName): Promise<void> {
    const child = this.services.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      console.error(`[dialtone] ${name} did not stop in ${STOP_TIMEOUT_MS / 1000} s; killing it`);
      this.killedAny = true;
      try {
        // The guard leads its own process group: this kills the guard and the service together.
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    console.error(`[dialtone] ${name} stopped`);
  }

  private watchLaunchers(): void {
    const parent = process.ppid;
    const chain = launchers(this.env);
    const gone = ([pid, startTime]: [number, string]) => {
      const stat = readProcStat(pid);
      return !stat || stat.state === 'Z' || stat.startTime !== startTime;
    };
    this.launcherTimer = setInterval(() => {
      const lost = process.ppid !== parent ? parent : [...chain].find(gone)?.[0];
      if (lost !== undefined) this.stop(1, `the process that started dialtone (pid ${lost}) is gone`);
    }, 500);
    this.launcherTimer.unref();
  }
}

async function waitFor(stack: LocalStack, what: string, check: () => Promise<boolean>, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    stack.throwIfStopping();
    if (!alive()) throw new Error(`${what} exited during start-up (see its log lines above)`);
    if (await check().catch(() => false)) return;
    await delay(300);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs / 1000} s`);
}

function isAlive(child: ChildProcess): () => boolean {
  return () => child.exitCode === null && child.signalCode === null;
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

async function withTemporal<T>(address: string, use: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

/**
 * The dev server's SQLite file in write-ahead-log mode, synced at checkpoints: its default (a rollback
 * journal synced on every commit) serialises every history write behind a journal file's creation and
 * deletion. A WAL commit that returned is in the file's log even when the server is killed (`kill -9`);
 * only a crash of the machine itself may lose the last commits (SQLite, "Write-Ahead Logging" and
 * `PRAGMA synchronous`: NORMAL is "safe from corruption in WAL mode"). The compose file's server keeps
 * its history in PostgreSQL instead.
 */
export const SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

/** The Temporal CLI's dev server with its Web UI, SQLite file and Dialtone's search attributes registered. */
export function temporalDevServerArgs(host: string, port: number, uiPort: number, dbFile: string): string[] {
  return [
    'server', 'start-dev',
    '--ip', host,
    '--port', String(port),
    '--ui-port', String(uiPort),
    '--db-filename', dbFile,
    ...SQLITE_PRAGMAS.flatMap((pragma) => ['--sqlite-pragma', pragma]),
    '--log-level', 'warn',
    ...ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
}

export async function startLocalStack(env: Env): Promise<number> {
  const { ports, dataDir } = readLocalStackOptions(env);
  if (!existsSync(TEMPORAL_CLI)) throw new Error(`${TEMPORAL_CLI} is missing: run "npm run setup:temporal" (npm start does it for you)`);
  const problems = await findPortProblems(ports);
  if (problems.length > 0) {
    for (const problem of problems) console.error(`[dialtone] ${problem}`);
    console.error('[dialtone] nothing was started');
    return 1;
  }
  mkdirSync(dataDir, { recursive: true });
  const tls = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
  const stack = new LocalStack(env);
  // The exit waits for the stop, never for a start-up step still in flight.
  startServices(stack, ports, dataDir, tls.caPath).catch((err: unknown) => {
    if (!stack.isStopping) stack.stop(1, `start failed: ${err instanceof Error ? err.message : String(err)}`);
  });
  return stack.exited;
}

async function startServices(stack: LocalStack, ports: LocalStackPorts, dataDir: string, caPath: string): Promise<void> {
  const simulatorUrl = `https://localhost:${ports.simulator}`;
  const temporalAddress = `${BIND_HOST}:${ports.temporal}`;
  const metricsAddress = `${BIND_HOST}:${ports.workerMetrics}`;
  const apiUrl = `http://${BIND_HOST}:${ports.api}`;
  const temporal = stack.start(
    'temporal',
    TEMPORAL_CLI,
    temporalDevServerArgs(BIND_HOST, ports.temporal, ports.temporalUi, path.join(dataDir, 'temporal.sqlite')),
    {},
  );
  await waitFor(
    stack,
    'Temporal dev server',
    () => withTemporal(temporalAddress, async (connection) => Boolean(await connection.workflowService.getSystemInfo({}))),
    60_000,
    isAlive(temporal),
  );

  const tsx = ['--import', 'tsx'];
  const simulator = stack.start('simulator', process.execPath, [...tsx, 'simulator/main.ts'], {
    SIMULATOR_HOST: BIND_HOST,
    SIMULATOR_PORT: String(ports.simulator),
    SIMULATOR_TLS_DIR: DEFAULT_SIMULATOR_TLS_DIR,
    // Beside Temporal's SQLite file, so a restart finds the tenant that Temporal's history remembers.
    SIMULATOR_STATE_FILE: path.join(dataDir, 'simulator-state.json'),
    NODE_EXTRA_CA_CERTS: caPath,
  });
  // This process was not started with NODE_EXTRA_CA_CERTS, so it names the simulator's CA itself.
  const ca = readFileSync(caPath);
  await waitFor(stack, 'tenant simulator', () => httpsOk(`${simulatorUrl}/_simulator/healthz`, ca), 30_000, isAlive(simulator));

  // The worker and the API reach this dev server through a profile of their own, written here, so a
  // profile of yours in ~/.config/temporalio (a Temporal Cloud key, say) never reaches the local stack;
  // `temporal workflow list --config-file <it>` shows the same namespace.
  const profile = path.join(dataDir, 'temporal.toml');
  writeFileSync(profile, `# Written by npm start for its worker and API\n[profile.default]\naddress = "${temporalAddress}"\nnamespace = "default"\n`);
  const common = {
    TEMPORAL_CONFIG_FILE: profile,
    TEMPORAL_PROFILE: 'default',
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    DIALTONE_TENANT_MODE: 'simulator',
    NODE_EXTRA_CA_CERTS: caPath,
  };
  const worker = stack.start('worker', process.execPath, [...tsx, 'worker/main.ts'], {
    ...common,
    SIMULATOR_URL: simulatorUrl,
    WORKER_METRICS_BIND_ADDRESS: metricsAddress,
  });
  // The local stack is the one place an open API is asked for explicitly.
  const api = stack.start('api', process.execPath, [...tsx, 'api/server.ts'], {
    ...common,
    API_HOST: BIND_HOST,
    API_PORT: String(ports.api),
    API_AUTH_DISABLED: 'true',
    TEMPORAL_UI_URL: `http://${BIND_HOST}:${ports.temporalUi}`,
  });
  await Promise.all([
    // Ready means polling: this Temporal server is new, so any poller on the task queue is this worker.
    waitFor(
      stack,
      'worker',
      () =>
        withTemporal(temporalAddress, async (connection) => {
          const { pollers } = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: TASK_QUEUE } });
          return pollers.length > 0;
        }),
      60_000,
      isAlive(worker),
    ),
    waitFor(stack, 'API', async () => (await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).ok, 60_000, isAlive(api)),
  ]);
  stack.markReady();

  console.log(
    [
      '',
      'Dialtone is running on the embedded local tenant:',
      `  API                 ${apiUrl}   (OpenAPI: ${apiUrl}/openapi.json; open, no token needed locally)`,
      `  Temporal Web UI     http://${BIND_HOST}:${ports.temporalUi}`,
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
}
