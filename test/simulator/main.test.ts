/**
 * `npm run simulator` as a user runs it: behaviour set through SIMULATOR_* variables alone, in a real
 * process, read back through the control API; bad values stop start-up naming each variable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { TLS_DIR } from './helpers';

const ROOT = path.resolve(__dirname, '../..');

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'simulator/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, SIMULATOR_PORT: '0', SIMULATOR_TLS_DIR: TLS_DIR, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

test('SIMULATOR_* variables set the app\'s grants, subscription statuses, delays and limits without code', async () => {
  const { child, output } = startMain({
    SIMULATOR_APP_PERMISSIONS: 'User.ReadWrite.All,TeamsTelephoneNumber.ReadWrite.All',
    SIMULATOR_APP_ROLES: 'Teams Administrator',
    SIMULATOR_SUBSCRIPTION_STATUS: 'PHONESYSTEM_VIRTUALUSER=Suspended',
    SIMULATOR_DELAYS: 'usageLocationReplication=30000,applicationInstanceListing=60000-300000',
    SIMULATOR_THROTTLE: '500/10000',
    SIMULATOR_WRITE_QUOTA: 'off',
    SIMULATOR_RETRY_AFTER_OMISSION_RATE: '1',
  });
  try {
    let port: string | undefined;
    for (let i = 0; i < 300 && !port; i++) {
      port = /listening on https:\/\/localhost:(\d+)/.exec(output())?.[1];
      if (!port) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(port, output());
    const state = (await (await fetch(`https://localhost:${port}/_simulator/state`)).json()) as {
      apps: { graphRoles: string[]; directoryRoles: string[] }[];
      licenses: { skuPartNumber: string; capabilityStatus: string }[];
      behaviour: { delays: Record<string, unknown>; throttle: unknown; writeQuota: unknown; retryAfterOmissionRate: number };
    };
    assert.deepEqual(state.apps[0]?.graphRoles, ['User.ReadWrite.All', 'TeamsTelephoneNumber.ReadWrite.All']);
    assert.deepEqual(state.apps[0]?.directoryRoles, ['Teams Administrator']);
    assert.equal(state.licenses.find((license) => license.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.capabilityStatus, 'Suspended');
    assert.equal(state.behaviour.delays.usageLocationReplication, 30000);
    assert.deepEqual(state.behaviour.delays.applicationInstanceListing, { minMs: 60000, maxMs: 300000 });
    assert.deepEqual(state.behaviour.throttle, { resourceUnits: 500, windowMs: 10000 });
    assert.equal(state.behaviour.writeQuota, null);
    assert.equal(state.behaviour.retryAfterOmissionRate, 1);
  } finally {
    child.kill('SIGINT');
    await once(child, 'exit');
  }
});

test('bad SIMULATOR_* values stop start-up, each named with what to write instead', async () => {
  const { child, output } = startMain({
    SIMULATOR_APP_ROLES: 'Dictator',
    SIMULATOR_SUBSCRIPTION_STATUS: 'PHONESYSTEM_VIRTUALUSER=Expired',
    SIMULATOR_DELAYS: 'soon=1',
    SIMULATOR_WRITE_QUOTA: 'lots',
  });
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 1);
  for (const name of ['SIMULATOR_APP_ROLES', 'SIMULATOR_SUBSCRIPTION_STATUS', 'SIMULATOR_DELAYS', 'SIMULATOR_WRITE_QUOTA']) {
    assert.match(output(), new RegExp(`${name}`), name);
  }
  assert.match(output(), /Teams Administrator/);
});
