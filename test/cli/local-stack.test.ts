/**
 * The README's first command, `npm start` (= `dialtone start`), with real processes and real signals:
 * the whole stack comes up on the embedded defaults, provisions an account over the API, and every way
 * it can end — Ctrl-C, SIGTERM to npm, SIGKILL of the dialtone process, a busy port, a service that
 * dies during start-up — leaves no process and no port behind.
 * Each test runs on free ports and its own data folder so it never touches a developer's running stack;
 * the folder's path, in every stack process's environment, is how a test finds the stack's processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';
import { freeLoopbackPort } from '../../lib/free-port';

const PORT_VARIABLES = ['TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'SIMULATOR_PORT', 'API_PORT', 'WORKER_METRICS_PORT'] as const;
type Ports = Record<(typeof PORT_VARIABLES)[number], number>;

async function freePorts(): Promise<Ports> {
  const ports: Partial<Ports> = {};
  for (const name of PORT_VARIABLES) ports[name] = await freeLoopbackPort();
  return ports as Ports;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function servedPorts(ports: Ports): Promise<string[]> {
  const served: string[] = [];
  for (const [name, port] of Object.entries(ports)) if (await portOpen(port)) served.push(`${name} ${port}`);
  return served;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readProc(pid: string, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

interface StackProcess {
  pid: number;
  command: string;
}

/** Live processes (zombies are dead) whose environment carries this stack's data folder. */
function stackProcesses(dataDir: string): StackProcess[] {
  const marker = `DIALTONE_DATA_DIR=${dataDir}`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => readProc(pid, 'environ')?.split('\0').includes(marker) === true)
    .filter((pid) => {
      const stat = readProc(pid, 'stat');
      return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    })
    .map((pid) => ({ pid: Number(pid), command: (readProc(pid, 'cmdline') ?? '').split('\0').join(' ').slice(0, 160) }));
}

/** tsx's esbuild helper leaves when the process it serves is gone; it holds no port and is no service. */
function services(processes: StackProcess[]): StackProcess[] {
  return processes.filter((p) => !p.command.includes('esbuild'));
}

function describeProcesses(processes: StackProcess[]): string {
  return processes.map((p) => `${p.pid} ${p.command}`).join('\n');
}

interface Run {
  pid: number;
  output: () => string;
  /** Exit code or signal, when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal: NodeJS.Signals) => void;
}

/**
 * `dialtone start` as `npm start` runs it, or `npm start` itself. Detached, so it leads its own process
 * group as it would in a terminal: a signal sent here reaches only the process it is sent to.
 */
function launch(how: 'dialtone' | 'npm', ports: Ports, dataDir: string, extraEnv: Record<string, string> = {}): Run {
  const [command, args] = how === 'npm' ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'cli/dialtone.ts', 'start']];
  const child = spawn(command, args as string[], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), DIALTONE_DATA_DIR: dataDir, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    pid: child.pid ?? 0,
    output: () => output,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    kill: (signal) => child.kill(signal),
  };
}

async function waitUntilRunning(run: Run, timeoutMs = 120_000): Promise<void> {
  let ended = false;
  void run.exited.then(() => (ended = true));
  const deadline = Date.now() + timeoutMs;
  while (!run.output().includes('Dialtone is running') && !ended && Date.now() < deadline) await sleep(250);
  assert.ok(run.output().includes('Dialtone is running'), `no ready banner:\n${run.output().slice(-3000)}`);
}

/** The services as `[dialtone] <name> stopped` reports them, API and worker taken as one tier. */
function stopOrder(output: string): string[][] {
  const names = [...output.matchAll(/\[dialtone\] (\w+) stopped/g)].map((match) => match[1] ?? '');
  const first = names.filter((name) => name === 'api' || name === 'worker');
  return [first.sort(), ...names.slice(first.length).map((name) => [name])];
}

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    assert.ok(Date.now() - started < timeoutMs, `${what} within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
  return Date.now() - started;
}

/** A failed assertion must not leave a stack running on a shared machine. */
function killLeftovers(dataDir: string): void {
  for (const { pid } of stackProcesses(dataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('dialtone start (the local stack)', { skip: process.platform !== 'linux' && 'reads /proc to find the stack processes' }, () => {
  const dataDirs: string[] = [];
  const newDataDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dialtone-stack-'));
    dataDirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dataDirs) {
      killLeftovers(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('starts every service, provisions an account, and stops them all on SIGINT', async () => {
    const ports = await freePorts();
    const dataDir = newDataDir();
    const run = launch('dialtone', ports, dataDir);
    try {
      await waitUntilRunning(run);
      const api = `http://127.0.0.1:${ports.API_PORT}`;
      assert.ok(run.output().includes(api), 'the banner prints the API URL');
      assert.ok(run.output().includes(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`), 'and the Web UI URL');

      const upn = 'aa-stack@contoso.onmicrosoft.com';
      const started = await fetch(`${api}/v1/resource-accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ upn, displayName: 'Stack test', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550129' }),
      });
      assert.equal(started.status, 202, await started.text());
      // The bound only keeps a broken run from waiting for ever: a loaded machine may take its time.
      let status: { state?: string } = {};
      const until = Date.now() + 180_000;
      while (status.state !== 'completed' && Date.now() < until) {
        status = (await (await fetch(`${api}/v1/resource-accounts/${encodeURIComponent(upn)}`)).json()) as { state?: string };
        if (status.state !== 'completed') await sleep(250);
      }
      assert.equal(status.state, 'completed', `the run within 180 s: ${JSON.stringify(status).slice(0, 3000)}`);
      const ui = await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`);
      assert.equal(ui.status, 200, 'the Temporal Web UI answers');
      const metrics = await fetch(`http://127.0.0.1:${ports.WORKER_METRICS_PORT}/metrics`);
      assert.match(await metrics.text(), /temporal_/);

      // `dialtone doctor` from another terminal: nothing of the stack's environment, no CA named; only
      // where this stack listens, since the test moved it off the default ports.
      const terminal = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_EXTRA_CA_CERTS' && !/^(AZURE_|DIALTONE_|SIMULATOR_|TEMPORAL_)/.test(name)));
      const doctor = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'cli/dialtone.ts', 'doctor'], {
          cwd: REPO_ROOT,
          env: { ...terminal, SIMULATOR_URL: `https://localhost:${ports.SIMULATOR_PORT}`, TEMPORAL_ADDRESS: `127.0.0.1:${ports.TEMPORAL_PORT}` },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.once('exit', (code) => resolve({ code, out }));
      });
      assert.equal(doctor.code, 0, `dialtone doctor against the running stack:\n${doctor.out}`);
      assert.match(doctor.out, /All checks passed/);
    } finally {
      run.kill('SIGINT');
    }
    const stuck = new Promise<string>((resolve) => setTimeout(() => resolve('still running after 120 s'), 120_000).unref());
    const exited = await Promise.race([run.exited, stuck]);
    assert.deepEqual(exited, { code: 0, signal: null }, `the stack did not stop cleanly:\n${run.output().slice(-3000)}`);
    assert.deepEqual(services(stackProcesses(dataDir)), [], 'dialtone exits only after every service has exited');
    assert.deepEqual(await servedPorts(ports), [], 'no port is served after the stack stopped');
    // In order: nothing still running calls a service that is already gone.
    assert.deepEqual(stopOrder(run.output()), [['api', 'worker'], ['simulator'], ['temporal']], run.output().slice(-3000));
  });

  /** The test run's own Temporal server, if there is one: what a second `npm start` meets beside a running stack. */
  const runningTemporalPort = Number(process.env.DIALTONE_TEST_TEMPORAL_ADDRESS?.split(':').pop() ?? 0);
  const busyPorts: { variable: keyof Ports; heldBy: string; port?: number }[] = [
    { variable: 'API_PORT', heldBy: 'a listener that never answers' },
    { variable: 'TEMPORAL_PORT', heldBy: 'a running Temporal server', port: runningTemporalPort },
  ];
  for (const busy of busyPorts) {
    const skip = busy.port === 0 && 'no Temporal server in this test run';
    test(`${busy.variable} held by ${busy.heldBy}: named with its variable, nothing started, non-zero exit`, { skip }, async () => {
      const ports = await freePorts();
      const dataDir = newDataDir();
      let squatter: net.Server | undefined;
      if (busy.port === undefined) {
        const server = net.createServer(() => undefined);
        await new Promise<void>((resolve) => server.listen(ports[busy.variable], '127.0.0.1', resolve));
        squatter = server;
      } else {
        ports[busy.variable] = busy.port;
      }
      try {
        const run = launch('dialtone', ports, dataDir);
        let started: StackProcess[] = [];
        let ended = false;
        void run.exited.then(() => (ended = true));
        const deadline = Date.now() + 60_000;
        while (!ended && Date.now() < deadline) {
          started = [...started, ...services(stackProcesses(dataDir)).filter((p) => p.pid !== run.pid)];
          await sleep(50);
        }
        if (!ended) killLeftovers(dataDir);
        const { code } = await run.exited;
        const output = run.output();
        assert.notEqual(code, 0, output);
        assert.match(output, new RegExp(`port ${ports[busy.variable]} \\(${busy.variable}\\) is already in use`));
        assert.ok(!output.includes('Dialtone is running'), output);
        assert.deepEqual(started, [], 'no service was started');
        const others = Object.entries(ports).filter(([name]) => name !== busy.variable);
        assert.deepEqual(await servedPorts(Object.fromEntries(others) as Ports), []);
        assert.deepEqual(stackProcesses(dataDir), []);
      } finally {
        squatter?.close();
        killLeftovers(dataDir);
      }
    });
  }

  test('a service that dies during start-up: what was started stops, no banner, non-zero exit', async () => {
    const ports = await freePorts();
    const dataDir = newDataDir();
    // The worker refuses this at boot; Temporal and the simulator are already up by then.
    const run = launch('dialtone', ports, dataDir, { WORKER_MAX_CONCURRENT_ACTIVITIES: '0' });
    let seen: StackProcess[] = [];
    let ended = false;
    void run.exited.then(() => (ended = true));
    try {
      const deadline = Date.now() + 120_000;
      while (!ended && Date.now() < deadline) {
        seen = services(stackProcesses(dataDir));
        await sleep(100);
      }
      const { code } = await run.exited;
      const output = run.output();
      assert.notEqual(code, 0, output);
      assert.match(output, /worker exited during start-up/);
      assert.doesNotMatch(output, /API exited/, 'the report names the service that failed, not one stopped because of it');
      assert.ok(!output.includes('Dialtone is running'), output);
      assert.match(output, /\[dialtone\] stopped/);
      assert.deepEqual(services(stackProcesses(dataDir)), [], `dialtone exited before its services:\n${describeProcesses(stackProcesses(dataDir))}`);
      assert.deepEqual(await servedPorts(ports), []);
      assert.ok(seen.length > 0 || output.includes('[simulator]'), 'services had been started');
    } finally {
      killLeftovers(dataDir);
    }
  });

  test('SIGTERM to npm start stops the whole stack', async () => {
    const ports = await freePorts();
    const dataDir = newDataDir();
    const run = launch('npm', ports, dataDir);
    try {
      await waitUntilRunning(run);
      run.kill('SIGTERM');
      // npm's `sh -c` dies of SIGTERM at once, and npm with it; the stack follows on its own.
      const ended = await run.exited;
      assert.ok(ended.code === 0 || ended.signal === 'SIGTERM', `a requested stop, not a failure: npm start ended with ${JSON.stringify(ended)}`);
      const ms = await eventually('every stack process gone', () => stackProcesses(dataDir).length === 0, 30_000);
      console.log(`# npm start: stack gone ${ms} ms after npm exited`);
      assert.deepEqual(await servedPorts(ports), []);
      assert.match(run.output(), /\[dialtone\] stopped/);
    } finally {
      killLeftovers(dataDir);
    }
  });

  test('SIGKILL of the dialtone process: its services go too', async () => {
    const ports = await freePorts();
    const dataDir = newDataDir();
    const run = launch('dialtone', ports, dataDir);
    try {
      await waitUntilRunning(run);
      assert.ok(services(stackProcesses(dataDir)).length >= 4, describeProcesses(stackProcesses(dataDir)));
      run.kill('SIGKILL');
      await run.exited;
      const ms = await eventually('every stack process gone', () => stackProcesses(dataDir).length === 0, 30_000);
      console.log(`# SIGKILL: stack gone ${ms} ms after dialtone was killed`);
      assert.deepEqual(await servedPorts(ports), []);
    } finally {
      killLeftovers(dataDir);
    }
  });
});
