/**
 * The worker and the API as real processes that find Temporal only through a TOML profile in the
 * default place (~/.config/temporalio/temporal.toml), the file the Temporal CLI and every SDK read:
 * no TEMPORAL_* variable at all. The profile names a namespace of its own, so the runs are provably
 * where the profile says, and the default task queue there is this test's alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { msToTs } from '@temporalio/common/lib/time';
import { dialtoneDataConverter } from '../../lib/payload-codec';
import { REPO_ROOT } from '../../lib/paths';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/provision-resource-account/definitions';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { killHard } from '../helpers/worker-process';
import { freeLoopbackPort } from '../../lib/free-port';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('worker and API configured by a Temporal TOML profile alone', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  let home: string;
  let namespace: string;
  let apiUrl: string;
  const children: ChildProcess[] = [];
  let log = '';

  function start(script: string, extra: Record<string, string>): ChildProcess {
    // The test process's own environment, without a single TEMPORAL_* variable or another config dir.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_') && name !== 'XDG_CONFIG_HOME'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      env: { ...inherited, HOME: home, DIALTONE_TENANT_MODE: 'simulator', SIMULATOR_URL: sim.url, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.push(child);
    return child;
  }

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
    namespace = `dialtone-profile-${randomUUID().slice(0, 8)}`;
    const service = temporal.client.connection.workflowService;
    await service.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    await temporal.client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type) ?? 0])),
    });
    home = mkdtempSync(path.join(os.tmpdir(), 'dialtone-profile-'));
    mkdirSync(path.join(home, '.config', 'temporalio'), { recursive: true });
    writeFileSync(
      path.join(home, '.config', 'temporalio', 'temporal.toml'),
      `# As \`temporal config set\` writes it\n[profile.default]\naddress = "${temporal.address}"\nnamespace = "${namespace}"\n`,
    );
    const port = await freeLoopbackPort();
    apiUrl = `http://127.0.0.1:${port}`;
    start('worker/main.ts', {});
    start('api/server.ts', { API_HOST: '127.0.0.1', API_PORT: String(port), API_AUTH_DISABLED: 'true', LOG_LEVEL: 'warn' });
  });

  after(async () => {
    for (const child of children) await killHard(child);
    await sim?.close();
    await temporal?.teardown();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('a run submitted to the API is provisioned by the worker in the namespace the profile names', async () => {
    // The API answers /readyz 200 only once it reaches Temporal at the profile's address (a new
    // namespace can take the server a few seconds to serve).
    let ready = false;
    for (let i = 0; i < 300 && !ready; i++) {
      ready = await fetch(`${apiUrl}/readyz`).then((r) => r.ok, () => false);
      if (!ready) await sleep(200);
    }
    assert.ok(ready, `the API never became ready:\n${log}`);

    const upn = `profile-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    const body = { upn, displayName: 'Profile line', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550125' };
    let submitted: Response | undefined;
    for (let i = 0; i < 50; i++) {
      submitted = await fetch(`${apiUrl}/v1/resource-accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      // A namespace just registered may not be served by every part of the server yet.
      if (submitted.status !== 503) break;
      await sleep(200);
    }
    assert.equal(submitted?.status, 202, `submit: ${await submitted?.text()}\n${log}`);

    let state = 'unknown';
    for (let i = 0; i < 600 && state !== 'completed'; i++) {
      const status = await fetch(`${apiUrl}/v1/resource-accounts/${encodeURIComponent(upn)}`);
      if (status.ok) state = ((await status.json()) as { state: string }).state;
      if (state !== 'completed') await sleep(100);
    }
    assert.equal(state, 'completed', `the run did not complete:\n${log}`);

    // The run lives in the profile's namespace, on Dialtone's default task queue.
    const client = new Client({ connection: temporal.client.connection, namespace, dataConverter: dialtoneDataConverter });
    const description = await client.workflow.getHandle(`resource-account:${sim.tenant.tenantId}:${upn}`).describe();
    assert.equal(description.taskQueue, 'dialtone-provisioning');
    assert.equal(description.status.name, 'COMPLETED');
    assert.match(log, new RegExp(`"namespace":"${namespace}"`), 'the worker logs where it connected');
    assert.match(log, /"profile":\{"name":"default","file":"[^"]*temporal\.toml"\}/, 'and from which profile');
  });
});
