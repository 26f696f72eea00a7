/**
 * `npm test`'s per-file limit, with the real script: a file that hangs after its tests is killed with
 * the processes it started, named, and counted as failed, so the run ends instead of holding CI until
 * its own timeout; a bad limit is refused before anything starts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';

function runTests(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/run-tests.ts'), ...args],
      // Without this runner's NODE_TEST_CONTEXT, which would make the inner `node --test` report to it instead of running files.
      { cwd: REPO_ROOT, env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT')), ...env }, timeout: 180_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('npm test: the per-file limit', { skip: process.platform !== 'linux' && 'the limit reads /proc' }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dialtone-run-tests-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a file that never ends is killed with its processes, named, and fails the run', async () => {
    const pidFile = path.join(dir, 'held.pid');
    const result = await runTests(['test/fixtures/hangs-in-after.ts'], { DIALTONE_TEST_FILE_TIMEOUT_MS: '3000', HANG_FIXTURE_PID_FILE: pidFile });
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stderr, /test\/fixtures\/hangs-in-after\.ts still running after 3 s \(DIALTONE_TEST_FILE_TIMEOUT_MS\): killed with the \d+ processes it started/);
    assert.match(result.stderr, /killed for running too long, so failed: test\/fixtures\/hangs-in-after\.ts/);
    const held = Number(readFileSync(pidFile, 'utf8'));
    assert.equal(alive(held), false, 'the process the file started is gone too');
  });

  test('a limit that is not a number of milliseconds is refused, naming the variable', async () => {
    const result = await runTests(['test/fixtures/hangs-in-after.ts'], { DIALTONE_TEST_FILE_TIMEOUT_MS: '15m' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /DIALTONE_TEST_FILE_TIMEOUT_MS must be a whole number of milliseconds ≥ 1000 \(got "15m"\)/);
  });
});
