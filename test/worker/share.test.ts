/** Workers share the tenant's budget: each takes 1/N, N being the workers Temporal sees polling the task queue. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Pacer } from '../../activities/pacing';
import { countWorkers, shareBudgetAmongWorkers } from '../../worker/share';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';

describe('sharing the budget among workers', () => {
  let temporal: TestTemporal;
  before(async () => {
    temporal = await startTestTemporal();
  });
  after(async () => {
    await temporal?.teardown();
  });

  test('two workers on the task queue each take half of the budget', async () => {
    const taskQueue = `share-${randomUUID()}`;
    // Two worker processes, as far as Temporal can tell: each with its own connection and identity.
    const connections = await Promise.all([0, 1].map(() => NativeConnection.connect({ address: temporal.address })));
    const workers = await Promise.all(['worker-a', 'worker-b'].map((identity, i) => Worker.create({
      connection: connections[i] as NativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      identity,
      activities: { async noop() { return undefined; } },
    })));
    const running = workers.map((w) => w.run());
    try {
      let seen = 0;
      for (let i = 0; i < 100 && seen < 2; i++) {
        seen = await countWorkers(temporal.nativeConnection, temporal.namespace, taskQueue);
        if (seen < 2) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(seen, 2, 'Temporal lists both workers as pollers');
      const pacer = new Pacer({ resourceUnits: 300, windowMs: 10_000 });
      const changes: number[] = [];
      const stop = shareBudgetAmongWorkers(temporal.nativeConnection, temporal.namespace, taskQueue, pacer, 100, (n) => changes.push(n));
      try {
        for (let i = 0; i < 50 && pacer.share === 1; i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal(pacer.share, 0.5);
        assert.deepEqual(changes, [2]);
      } finally {
        stop();
      }
    } finally {
      for (const w of workers) w.shutdown();
      await Promise.all(running);
      await Promise.all(connections.map((c) => c.close()));
    }
  });

  test('on a queue no one else polls, a worker keeps the whole budget', async () => {
    assert.equal(await countWorkers(temporal.nativeConnection, temporal.namespace, `empty-${randomUUID()}`), 1);
  });
});
