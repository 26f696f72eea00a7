/**
 * Waits ride out transient failures: a throttled or failed check (429, 5xx, no answer) is repeated inside
 * the wait after a short jittered pause or the server's Retry-After, with heartbeats kept, instead of
 * failing the attempt into Temporal's backoff. Only "not ready yet" ends an attempt on purpose.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { pollUntil } from '../../activities/polling';
import type { PollResult, PollingOptions } from '../../activities/polling';
import { ErrorType } from '../../lib/error-types';
import { createTenantActivities } from '../../worker/worker';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { provisionedAccount, run } from './harness';

const FAST: PollingOptions = { initialIntervalMs: 10, maxIntervalMs: 50, budgetMs: 5_000, transientPauseMs: { minMs: 20, maxMs: 40 }, transientRetries: 3 };

const unavailable = (retryAfterMs?: number) => ApplicationFailure.create({
  type: ErrorType.TransientServiceError, message: '503 Service Unavailable while trying to read the operation',
  ...(retryAfterMs !== undefined ? { nextRetryDelay: retryAfterMs } : {}),
});
const throttled = (retryAfterMs?: number) => ApplicationFailure.create({
  type: ErrorType.Throttled, message: 'Throttled while trying to read the operation',
  ...(retryAfterMs !== undefined ? { nextRetryDelay: retryAfterMs } : {}),
});

/** Runs pollUntil in an activity context over scripted check outcomes: a failure to throw, or done/not done. */
async function poll(options: PollingOptions, script: (Error | boolean)[]) {
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  let calls = 0;
  const started = Date.now();
  type Polled = Awaited<ReturnType<typeof pollUntil<string>>>;
  const check = async (): Promise<PollResult<string>> => {
    const step = script[Math.min(calls, script.length - 1)];
    calls += 1;
    if (step instanceof Error) throw step;
    return { done: step === true, value: step === true ? 'finished' : undefined };
  };
  const polled = env.run(() => pollUntil<string>(options, check, (checks) => Context.current().heartbeat({ checks }))) as Promise<Polled>;
  const outcome = await polled.then(
    (result): { result?: Polled; error?: unknown } => ({ result }),
    (error: unknown): { result?: Polled; error?: unknown } => ({ error }),
  );
  return { ...outcome, calls, heartbeats, elapsedMs: Date.now() - started };
}

describe('pollUntil and transient failures', () => {
  test('a 503 or 429 inside a wait is repeated after a short jittered pause, heartbeating, and the wait goes on', async () => {
    const { result, error, calls, heartbeats, elapsedMs } = await poll(FAST, [false, unavailable(), throttled(), false, true]);
    assert.equal(error, undefined, String(error));
    assert.deepEqual(result, { done: true, value: 'finished', checks: 3 }, 'failed checks are not counted as checks');
    assert.equal(calls, 5);
    assert.ok(elapsedMs >= 40, `two pauses of at least 20 ms (took ${elapsedMs} ms)`);
    assert.deepEqual(heartbeats, [{ checks: 1 }, { checks: 1 }, { checks: 1 }, { checks: 2 }, { checks: 3 }], 'a heartbeat before each pause keeps the details');
  });

  test('Retry-After is honoured instead of the jitter, and a long one is slept in slices with heartbeats', async () => {
    const { result, elapsedMs, heartbeats } = await poll(FAST, [unavailable(180), true]);
    assert.equal(result?.done, true);
    assert.ok(elapsedMs >= 180, `waited for Retry-After (took ${elapsedMs} ms)`);
    assert.ok(heartbeats.length >= 1 + 4, `a heartbeat for each 50 ms slice of the 180 ms pause, then the check (${heartbeats.length})`);
  });

  test('transient failures beyond transientRetries in a row fail the attempt with the last of them', async () => {
    const last = throttled(2_000);
    const { error, calls } = await poll({ ...FAST, budgetMs: 60_000 }, [unavailable(), unavailable(), throttled(), last]);
    assert.equal(error, last, 'the failure itself, with its Retry-After for Temporal');
    assert.equal(calls, 4, 'three repeats, then the fourth failure is thrown');
  });

  test('a success resets the count of failures in a row', async () => {
    const { result } = await poll(FAST, [unavailable(), unavailable(), unavailable(), false, unavailable(), unavailable(), unavailable(), true]);
    assert.equal(result?.done, true);
  });

  test('a pause that would outlast the budget fails the attempt at once, keeping Retry-After', async () => {
    const { error, calls, elapsedMs } = await poll({ ...FAST, budgetMs: 500 }, [throttled(30_000), true]);
    assert.ok(error instanceof ApplicationFailure && error.type === ErrorType.Throttled);
    assert.equal(error.nextRetryDelay, 30_000);
    assert.equal(calls, 1);
    assert.ok(elapsedMs < 500);
  });

  test('failures that are not transient are not repeated', async () => {
    const denied = ApplicationFailure.create({ type: ErrorType.PermissionDenied, message: 'denied', nonRetryable: true });
    const notYet = ApplicationFailure.create({ type: ErrorType.NotYetVisible, message: 'not visible yet' });
    const nonRetryable503 = ApplicationFailure.create({ type: ErrorType.TransientServiceError, message: 'gave up', nonRetryable: true });
    for (const failure of [denied, notYet, nonRetryable503, new Error('bug')]) {
      const { error, calls } = await poll(FAST, [failure, true]);
      assert.equal(error, failure);
      assert.equal(calls, 1);
    }
  });
});

describe('waits against the simulator with transient faults', () => {
  test('a number assignment whose wait meets 429/503/504 answers finishes in one attempt', async () => {
    // Time compressed 100×; the operation runs 1.5 s real time, long enough for the wait to meet faults.
    const sim: TestSimulator = await startTestSimulator({ timeScale: 0.01, delays: { numberOperation: 150_000 }, retryAfterOmissionRate: 1 });
    try {
      const acts = createTenantActivities(sim.tenant, {
        initialIntervalMs: 50, maxIntervalMs: 100, budgetMs: 30_000, transientPauseMs: { minMs: 20, maxMs: 60 }, transientRetries: 8,
      });
      const accountId = await provisionedAccount(acts);
      await new Promise((resolve) => setTimeout(resolve, 300)); // Teams sees the license (teamsSync, a few ms at this scale)

      const assigning = run(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+12065550110', numberType: 'callingPlan' });
      // The wait reads the inventory (and the operation only where the inventory cannot tell).
      const inventoryRoute = '/v1.0/admin/teams/telephoneNumberManagement/numberAssignments';
      // Faults start once the operation is accepted: the steps before the wait are not under test.
      for (let accepted = 0; accepted === 0; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        accepted = ((await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { operations: unknown[] }).operations.length;
      }
      const before = (await routeStatuses(sim, inventoryRoute)).total;
      const configured = await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { faultRate: 0.4 } });
      assert.equal(configured.statusCode, 200, configured.body);
      const result = await assigning;
      await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { faultRate: 0 } });

      assert.equal(result.assigned, true);
      const { statuses, total } = await routeStatuses(sim, inventoryRoute);
      const faults = (statuses['429'] ?? 0) + (statuses['503'] ?? 0) + (statuses['504'] ?? 0);
      assert.ok(total > before && faults >= 1, `the wait met transient faults (${JSON.stringify(statuses)})`);
    } finally {
      await sim.close();
    }
  });
});

async function routeStatuses(sim: TestSimulator, route: string): Promise<{ total: number; statuses: Record<string, number> }> {
  const summary = (await sim.app.inject({ method: 'GET', url: '/_simulator/requests' })).json() as {
    routes: { route: string; count: number; statuses: Record<string, number> }[];
  };
  const entries = summary.routes.filter((entry) => entry.route === route);
  const statuses: Record<string, number> = {};
  for (const entry of entries) for (const [status, count] of Object.entries(entry.statuses)) statuses[status] = (statuses[status] ?? 0) + count;
  return { total: entries.reduce((sum, entry) => sum + entry.count, 0), statuses };
}
