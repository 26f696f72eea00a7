/** The product's worker as a real process (`worker/main.ts`) against a test simulator, for tests that kill it. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../lib/paths';
import type { TestSimulator } from './simulator';
import type { TestTemporal } from './temporal';

export interface WorkerProcesses {
  start(): ChildProcess;
  /** The last 20,000 characters the workers wrote, for failure messages. */
  log(): string;
}

export function workerProcesses(
  temporal: () => TestTemporal,
  sim: () => TestSimulator,
  taskQueue: () => string,
  env: () => Record<string, string> = () => ({}),
): WorkerProcesses {
  let log = '';
  return {
    start() {
      const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: temporal().address,
          TEMPORAL_NAMESPACE: temporal().namespace,
          TEMPORAL_TASK_QUEUE: taskQueue(),
          DIALTONE_TENANT_MODE: 'simulator',
          SIMULATOR_URL: sim().url,
          ...env(),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
      child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
      return child;
    },
    log: () => log,
  };
}

/** SIGKILLs a process (if still running) and waits until it has exited. */
export async function killHard(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
