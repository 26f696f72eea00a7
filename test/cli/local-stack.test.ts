/**
 * The README's first command, `npm start` (= `dialtone start`): the whole stack comes up on the
 * embedded defaults, provisions an account over the API, and Ctrl-C (SIGINT) stops every process.
 * Runs on free ports and its own data folder so it never touches a developer's running stack.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
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

describe('dialtone start (the local stack)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dialtone-stack-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('starts every service, provisions an account, and stops them all on SIGINT', async () => {
    const ports = {
      TEMPORAL_PORT: await freePort(),
      TEMPORAL_UI_PORT: await freePort(),
      SIMULATOR_PORT: await freePort(),
      API_PORT: await freePort(),
      WORKER_METRICS_PORT: await freePort(),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/dialtone.ts', 'start'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), DIALTONE_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    try {
      for (let i = 0; i < 240 && !output.includes('Dialtone is running'); i++) {
        assert.equal(child.exitCode, null, `the stack exited during start-up:\n${output.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(output.includes('Dialtone is running'), `no ready banner:\n${output.slice(-3000)}`);
      const api = `http://127.0.0.1:${ports.API_PORT}`;
      assert.ok(output.includes(api), 'the banner prints the API URL');
      assert.ok(output.includes(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`), 'and the Web UI URL');

      const upn = 'aa-stack@contoso.onmicrosoft.com';
      const started = await fetch(`${api}/v1/resource-accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ upn, displayName: 'Stack test', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550129' }),
      });
      assert.equal(started.status, 202, await started.text());
      let state = '';
      for (let i = 0; i < 120 && state !== 'completed'; i++) {
        const status = await fetch(`${api}/v1/resource-accounts/${encodeURIComponent(upn)}`);
        state = ((await status.json()) as { state: string }).state;
        if (state !== 'completed') await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(state, 'completed');
      const ui = await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`);
      assert.equal(ui.status, 200, 'the Temporal Web UI answers');
      const metrics = await fetch(`http://127.0.0.1:${ports.WORKER_METRICS_PORT}/metrics`);
      assert.match(await metrics.text(), /temporal_/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, `the stack did not stop cleanly:\n${output.slice(-3000)}`);
    for (const [name, port] of Object.entries(ports)) {
      assert.equal(await portOpen(port), false, `${name} ${port} is still served after the stack stopped`);
    }
  });
});
