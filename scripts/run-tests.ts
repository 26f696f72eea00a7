/**
 * `npm test`: every test file under test/, on one real Temporal dev server started here (the CLI
 * binary from scripts/install-temporal.sh, never a download), with the tenant simulator's CA trusted.
 * Exit code is the test runner's.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEFAULT_SIMULATOR_TLS_DIR, REPO_ROOT, TEMPORAL_CLI } from '../lib/paths';
import { ensureSimulatorTls } from '../simulator/tls';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/provision-resource-account/definitions';

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
  const filters = process.argv.slice(2);
  const files = findTests(path.join(REPO_ROOT, 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
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
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=600000', ...files.map((f) => path.relative(REPO_ROOT, f))],
      {
        cwd: REPO_ROOT,
        stdio: 'inherit',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caPath, DIALTONE_TEST_TEMPORAL_ADDRESS: temporal.address },
      },
    );
    return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
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
