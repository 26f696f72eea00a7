/**
 * The local stack as separate processes the chaos bench can kill and start again one by one: Temporal
 * dev server (SQLite), tenant simulator (state file), worker and API, each in a process group of its own.
 * `dialtone start` cannot serve here: it stops the whole stack when any service dies, by design.
 *
 * Nothing is left running: every group is killed when the bench exits, on an error or a signal, and a
 * watchdog process kills the groups still listed if the bench itself is killed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { REPO_ROOT, TEMPORAL_CLI } from '../lib/paths';
import { TASK_QUEUE } from '../workflows/provision-resource-account/definitions';
import { temporalDevServerArgs } from '../cli/local-stack';

export type ServiceName = 'temporal' | 'simulator' | 'worker' | 'api';

/** Stopped tier by tier, as `dialtone start` does, so nothing still running calls a service already gone. */
const STOP_ORDER: ServiceName[][] = [['api', 'worker'], ['simulator'], ['temporal']];
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
const HOST = '127.0.0.1';

/**
 * Plain JavaScript for `node -e`. The bench writes `+pid` when it starts a process group and `-pid`
 * once the group's leader has exited; when its stdin closes (the bench is gone, however it died) the
 * watchdog kills every group still listed.
 */
const WATCHDOG_SOURCE = `// chaos bench watchdog (bench/services.ts)
const groups = new Set();
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  const lines = buffer.split('\\n');
  buffer = lines.pop();
  for (const line of lines) {
    const pid = Number(line.slice(1));
    if (line[0] === '+') groups.add(pid); else groups.delete(pid);
  }
});
const end = () => {
  for (const pid of groups) { try { process.kill(-pid, 'SIGKILL'); } catch {} }
  process.exit(0);
};
process.stdin.on('end', end).on('error', end);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
`;

/** Every process group the bench started and has not yet seen exit, across all stacks. */
export class ProcessRegistry {
  private readonly live = new Map<number, ChildProcess>();
  private readonly watchdog: ChildProcess;

  constructor() {
    this.watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.watchdog.stdin?.on('error', () => undefined);
    this.watchdog.unref();
    // Synchronous, so it also runs on process.exit from anywhere.
    process.on('exit', () => this.killAll());
  }

  add(child: ChildProcess): void {
    const pid = child.pid;
    if (pid === undefined) return;
    this.live.set(pid, child);
    this.watchdog.stdin?.write(`+${pid}\n`);
    child.once('exit', () => {
      this.live.delete(pid);
      this.watchdog.stdin?.write(`-${pid}\n`);
    });
  }

  killAll(): void {
    for (const pid of this.live.keys()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  close(): void {
    this.killAll();
    this.watchdog.stdin?.end();
  }
}

export interface StackPorts {
  temporal: number;
  temporalUi: number;
  simulator: number;
  api: number;
}

/** Ports the kernel hands out as free; a service binds them a moment later. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ host: HOST, port: 0, exclusive: true }, () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export interface StackOptions {
  dataDir: string;
  ports: StackPorts;
  tlsDir: string;
  caPath: string;
  ca: Buffer;
  registry: ProcessRegistry;
  /** The worker's and API's log level (their output goes to `<dataDir>/<service>.log`). */
  logLevel: string;
  /** Extra variables for the worker, e.g. its pacing budget. */
  workerEnv?: Record<string, string>;
  /** Extra variables for the simulator, e.g. its profile and time scale. */
  simulatorEnv?: Record<string, string>;
}

/** Variables of the bench's own environment that would steer a service away from this stack. */
const FOREIGN_VARIABLE = /^(TEMPORAL_|AZURE_|API_|SIMULATOR_|DIALTONE_|WORKER_|GRAPH_|TEAMS_ADMIN_|LOG_LEVEL$|NODE_EXTRA_CA_CERTS$)/;

export class ChaosStack {
  readonly simulatorUrl: string;
  readonly apiUrl: string;
  readonly temporalAddress: string;
  /** Services that exited without being asked to, each restarted as a process manager would. */
  readonly unexpectedExits: string[] = [];
  private readonly children = new Map<ServiceName, ChildProcess>();
  private readonly expectedExit = new Set<ChildProcess>();
  private readonly logs = new Map<ServiceName, WriteStream>();
  private stopping = false;
  /** Set once every service is up: a service that dies during start-up fails the start instead. */
  private up = false;

  constructor(private readonly options: StackOptions) {
    this.simulatorUrl = `https://localhost:${options.ports.simulator}`;
    this.apiUrl = `http://${HOST}:${options.ports.api}`;
    this.temporalAddress = `${HOST}:${options.ports.temporal}`;
  }

  get stateFile(): string {
    return path.join(this.options.dataDir, 'simulator-state.json');
  }

  logFile(name: ServiceName): string {
    return path.join(this.options.dataDir, `${name}.log`);
  }

  pid(name: ServiceName): number | undefined {
    return this.children.get(name)?.pid;
  }

  async start(): Promise<void> {
    await this.startService('temporal');
    await this.startService('simulator');
    await Promise.all([this.startService('worker'), this.startService('api')]);
    this.up = true;
  }

  /** SIGKILL, as a crash or the kernel's OOM killer would; resolves once the process is gone. */
  async kill(name: ServiceName): Promise<void> {
    const child = this.children.get(name);
    if (!child || !running(child)) throw new Error(`${name} is not running, so it cannot be killed`);
    this.expectedExit.add(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // Whatever the service started in its group goes with it.
    signalGroup(child, 'SIGKILL');
  }

  async restart(name: ServiceName): Promise<void> {
    await this.startService(name);
  }

  /** SIGINT tier by tier, as Ctrl-C on `dialtone start` does; SIGKILL for a service that does not stop in time. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const tier of STOP_ORDER) {
      await Promise.all(tier.map(async (name) => {
        const child = this.children.get(name);
        if (!child || !running(child)) return;
        this.expectedExit.add(child);
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
        signalGroup(child, 'SIGKILL');
      }));
    }
    await Promise.all([...this.logs.values()].map((log) => new Promise((resolve) => log.end(resolve))));
  }

  private async startService(name: ServiceName): Promise<void> {
    if (this.stopping) throw new Error(`the stack is stopping; ${name} was not started`);
    const [command, args, env] = this.command(name);
    let log = this.logs.get(name);
    if (!log) {
      log = createWriteStream(this.logFile(name), { flags: 'a' });
      // Output that arrives after the stop closed the log is dropped.
      log.on('error', () => undefined);
      this.logs.set(name, log);
    }
    log.write(`--- ${new Date().toISOString()} starting ${name}\n`);
    const childEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !FOREIGN_VARIABLE.test(key)));
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...childEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.options.registry.add(child);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.children.set(name, child);
    child.once('error', (err) => log.write(`${name} could not be started: ${err.message}\n`));
    child.once('exit', (code, signal) => {
      log.write(`--- ${new Date().toISOString()} ${name} exited (${signal ?? `code ${code}`})\n`);
      if (this.expectedExit.has(child) || this.stopping || !this.up) return;
      this.unexpectedExits.push(`${name} (${signal ?? `code ${code}`})`);
      void delay(1000).then(() => (this.stopping || this.children.get(name) !== child ? undefined : this.startService(name)))
        .catch((err: unknown) => log.write(`restart of ${name} failed: ${err instanceof Error ? err.message : String(err)}\n`));
    });
    await this.waitReady(name, child);
  }

  private command(name: ServiceName): [string, string[], Record<string, string>] {
    const { ports, dataDir, tlsDir, caPath, logLevel } = this.options;
    const tsx = ['--import', 'tsx'];
    const common = { TEMPORAL_ADDRESS: this.temporalAddress, TEMPORAL_NAMESPACE: 'default', DIALTONE_TENANT_MODE: 'simulator', NODE_EXTRA_CA_CERTS: caPath, LOG_LEVEL: logLevel };
    switch (name) {
      case 'temporal':
        return [TEMPORAL_CLI, temporalDevServerArgs(HOST, ports.temporal, ports.temporalUi, path.join(dataDir, 'temporal.sqlite')), {}];
      case 'simulator':
        return [process.execPath, [...tsx, 'simulator/main.ts'], {
          SIMULATOR_HOST: HOST,
          SIMULATOR_PORT: String(ports.simulator),
          SIMULATOR_TLS_DIR: tlsDir,
          SIMULATOR_STATE_FILE: this.stateFile,
          NODE_EXTRA_CA_CERTS: caPath,
          ...this.options.simulatorEnv,
        }];
      case 'worker':
        return [process.execPath, [...tsx, 'worker/main.ts'], { ...common, SIMULATOR_URL: this.simulatorUrl, ...this.options.workerEnv }];
      case 'api':
        return [process.execPath, [...tsx, 'api/server.ts'], {
          ...common,
          API_HOST: HOST,
          API_PORT: String(ports.api),
          API_AUTH_DISABLED: 'true',
          // A status read gives up on a dead worker sooner, so polling goes on while it is down.
          API_WORKER_TIMEOUT_MS: '3000',
        }];
    }
  }

  private async waitReady(name: ServiceName, child: ChildProcess): Promise<void> {
    const check: () => Promise<boolean> = {
      temporal: () => this.withTemporal(async (connection) => Boolean(await connection.workflowService.getSystemInfo({}))),
      simulator: async () => (await simulatorRequest(this.simulatorUrl, this.options.ca, 'GET', '/_simulator/healthz')).status === 200,
      // This worker's own pollers: a killed worker stays listed among the pollers for a while.
      worker: () => this.withTemporal(async (connection) => {
        const { pollers } = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: TASK_QUEUE } });
        return pollers.some((poller) => poller.identity?.startsWith(`${child.pid}@`));
      }),
      api: async () => (await fetch(`${this.apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).ok,
    }[name];
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!running(child)) throw new Error(`${name} exited during start-up (see ${this.logFile(name)})`);
      if (await check().catch(() => false)) return;
      await delay(250);
    }
    throw new Error(`${name} did not become ready within ${READY_TIMEOUT_MS / 1000} s (see ${this.logFile(name)})`);
  }

  private async withTemporal<T>(use: (connection: Connection) => Promise<T>): Promise<T> {
    const connection = await Connection.connect({ address: this.temporalAddress, connectTimeout: 1000 });
    try {
      return await use(connection);
    } finally {
      await connection.close();
    }
  }
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // the group is empty
  }
}

export interface SimulatorResponse {
  status: number;
  body: unknown;
}

/** One call to the simulator over HTTPS, trusting its CA (this process was not started with NODE_EXTRA_CA_CERTS). */
export function simulatorRequest(baseUrl: string, ca: Buffer, method: string, route: string, body?: unknown): Promise<SimulatorResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = https.request(`${baseUrl}${route}`, {
      method,
      ca,
      timeout: 10_000,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: response.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
        } catch {
          resolve({ status: response.statusCode ?? 0, body: text });
        }
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.on('timeout', () => request.destroy(new Error(`${method} ${route} timed out`)));
    request.end(payload);
  });
}

/**
 * On SIGINT, SIGTERM or SIGHUP: stop every process group the bench started and remove its data
 * folders, then exit (a second signal exits at once).
 */
export function stopOnSignals(registry: ProcessRegistry, dataDirs: Set<string>, log: (line: string) => void): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping every process the bench started`);
    registry.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    process.exit(128 + (os.constants.signals[signal] ?? 2));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}
