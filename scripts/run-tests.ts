/**
 * `npm test`: every test file under test/, on one real Temporal dev server started here (the CLI
 * binary from scripts/install-temporal.sh, never a download), with the tenant simulator's CA trusted.
 * Arguments narrow the run: a path to a file runs that file, any other word the test files whose path
 * holds it. A file still running after DIALTONE_TEST_FILE_TIMEOUT_MS (15 minutes) is killed and counts
 * as failed (scripts/test-watchdog.ts). Exit code is the test runner's, or 1 after such a kill.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEFAULT_SIMULATOR_TLS_DIR, REPO_ROOT, TEMPORAL_CLI } from '../lib/paths';
import { ensureSimulatorTls } from '../simulator/tls';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/provision-resource-account/definitions';
import { watchTestFiles } from './test-watchdog';

const DEFAULT_FILE_TIMEOUT_MS = 15 * 60 * 1000;

function fileTimeoutMs(): number {
  const raw = process.env.DIALTONE_TEST_FILE_TIMEOUT_MS;
  if (raw === undefined || raw === '') return DEFAULT_FILE_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1000) {
    throw new Error(`DIALTONE_TEST_FILE_TIMEOUT_MS must be a whole number of milliseconds ≥ 1000 (got "${raw}"); leave it unset for 15 minutes`);
  }
  return value;
}

function findTests(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return findTests(full);
      return name.endsWith('.test.ts') ? [full] : [];
    });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const isFile = (arg: string) => existsSync(arg) && statSync(arg).isFile();
  const named = args.filter(isFile).map((arg) => path.resolve(arg));
  const filters = args.filter((arg) => !isFile(arg));
  const found = filters.length === 0 && named.length > 0 ? [] : findTests(path.join(REPO_ROOT, 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
  const files = [...new Set([...named, ...found])];
  const timeoutMs = fileTimeoutMs();
  if (files.length === 0) {
    console.error(`no test files match ${filters.join(' ')}`);
    return 1;
  }
  const tls = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
  const temporal = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: TEMPORAL_CLI }, searchAttributes: ALL_SEARCH_ATTRIBUTES },
  });
  try {
    console.log(`Temporal dev server for tests at ${temporal.address}; ${files.length} test files`);
    const relative = files.map((f) => path.relative(REPO_ROOT, f));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=600000', ...relative],
      {
        cwd: REPO_ROOT,
        stdio: 'inherit',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caPath, DIALTONE_TEST_TEMPORAL_ADDRESS: temporal.address },
      },
    );
    const watchdog = watchTestFiles({ runnerPid: child.pid ?? 0, files: relative, fileTimeoutMs: timeoutMs, report: (line) => console.error(line) });
    const code = await new Promise<number>((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))));
    watchdog.stop();
    if (watchdog.killed.length > 0) {
      console.error(`[run-tests] killed for running too long, so failed: ${watchdog.killed.join(', ')}`);
      return code === 0 ? 1 : code;
    }
    return code;
  } finally {
    await temporal.teardown();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
