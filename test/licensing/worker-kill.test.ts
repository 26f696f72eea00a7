/**
 * A worker process is SIGKILLed while it waits for Partner Center to finish raising a subscription's
 * quantity (202, then reading the subscription); another worker retries the purchase. Exactly one
 * quantity change is made: the retry finds the subscription pending under the ledger's plan and waits for
 * it, instead of adding the units again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';
import { killHard } from '../helpers/worker-process';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import type { buyLicenses } from './fixtures/workflows';
import { eventually, pcConfig, pcState, resourceAccountSubscriptions } from './helpers';

describe('a purchase whose worker is killed mid-purchase', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  const taskQueue = `purchase-kill-${randomUUID()}`;
  const ledgerTenant = randomUUID();
  const workers: ChildProcess[] = [];
  let log = '';

  function startWorker(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/licensing/fixtures/purchase-worker.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: taskQueue, SIMULATOR_URL: sim.url, LEDGER_TENANT_ID: ledgerTenant },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
    child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
    workers.push(child);
    return child;
  }

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
    // The quantity change takes 4 s: long enough to kill the worker while it polls.
    await pcConfig(sim, { quantityChange: '202', quantityChangeMs: 4000, provisioningDelayMs: 100 });
  });
  after(async () => {
    for (const worker of workers) await killHard(worker);
    await sim?.close();
    await temporal?.teardown();
  });

  test('buys once', async () => {
    const first = startWorker();
    const buy = (units: number, key: string) => temporal.client.workflow.execute<typeof buyLicenses>('buyLicenses', {
      taskQueue, workflowId: `buy-${key}`, args: [{ units, approvedBy: 'kill-test', idempotencyKey: key }],
    });
    // A first purchase (cart + checkout) makes the subscription the second one raises.
    const seeded = await buy(2, `seed-${randomUUID()}`);
    assert.equal(seeded.via, 'cart', log);

    const key = `raise-${randomUUID()}`;
    const result = buy(3, key);
    await eventually('the quantity change accepted', () => pcState(sim), (s) => s.quantityChanges.some((c) => c.status === 'inProgress'), 30_000);
    await killHard(first);
    startWorker();
    const done = await result;
    assert.equal(done.via, 'subscription-quantity');
    assert.equal(done.targetQuantity, 5);
    const state = await pcState(sim);
    assert.deepEqual(state.quantityChanges.map((c) => [c.from, c.to, c.status]), [[2, 5, 'succeeded']], `one quantity change\n${log}`);
    assert.deepEqual(resourceAccountSubscriptions(state).map((s) => s.quantity), [5]);
    assert.equal(state.orders.length, 1, 'the seed order only');
  });
});
