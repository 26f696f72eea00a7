/**
 * Short in-activity polling for condition waits. One activity attempt looks for up to `budgetMs`,
 * heartbeating each check, then gives up retryably; Temporal's backoff spaces out the long tail.
 *
 * A check that fails transiently (throttled, 5xx, no answer) says nothing about the condition, so it
 * is repeated inside the wait after a short jittered pause (or the server's Retry-After) rather than
 * failing the attempt into Temporal's backoff, which grows with every "not ready yet" before it and can
 * leave a long-finished operation unread for minutes. Only "not ready yet" ends an attempt on purpose.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { msOptionalToNumber } from '@temporalio/common/lib/time';
import { ErrorType } from '../lib/error-types';

/** TSDoc'd knobs so tests and the fast simulator profile can shorten the cadence. */
export interface PollingOptions {
  /** First pause between checks, ms. Default 2000. */
  initialIntervalMs?: number;
  /** Longest pause between checks, ms. Default 15000. */
  maxIntervalMs?: number;
  /** How long one activity attempt keeps checking before handing back to Temporal, ms. Default 60000. */
  budgetMs?: number;
  /**
   * Pause before repeating a check that failed transiently, ms, drawn at random in this range so that
   * many waits hit by the same outage do not come back together. Default 1000–3000. A Retry-After
   * from the service replaces it.
   */
  transientPauseMs?: { minMs: number; maxMs: number };
  /** Transient failures in a row one attempt absorbs before it fails with the last of them. Default 4. */
  transientRetries?: number;
}

export const DEFAULT_POLLING: Required<PollingOptions> = {
  initialIntervalMs: 2_000,
  maxIntervalMs: 15_000,
  budgetMs: 60_000,
  transientPauseMs: { minMs: 1_000, maxMs: 3_000 },
  transientRetries: 4,
};

export interface PollResult<T> {
  done: boolean;
  value?: T;
}

/** Failures of one check that say nothing about the condition: trying again shortly may succeed. */
function isTransient(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && !err.nonRetryable &&
    (err.type === ErrorType.Throttled || err.type === ErrorType.TransientServiceError);
}

/**
 * Calls `check` until it reports done or the budget runs out. `onCheck` receives the running count of
 * completed checks, after each check and before each pause for a transient failure, so the caller can
 * heartbeat its own details. Returns the value and how many checks this attempt made. A transient
 * failure that repeats `transientRetries` times in a row, or whose pause would outlast the budget, is
 * thrown (with its Retry-After as the next retry delay).
 */
export async function pollUntil<T>(
  options: PollingOptions | undefined,
  check: () => Promise<PollResult<T>>,
  onCheck: (checks: number) => void,
): Promise<{ done: boolean; value?: T; checks: number }> {
  const { initialIntervalMs, maxIntervalMs, budgetMs, transientPauseMs, transientRetries } = { ...DEFAULT_POLLING, ...options };
  const ctx = Context.current();
  const started = Date.now();
  let interval = initialIntervalMs;
  let checks = 0;
  let failuresInARow = 0;
  for (;;) {
    let result: PollResult<T>;
    try {
      result = await check();
    } catch (err) {
      if (!isTransient(err) || failuresInARow >= transientRetries) throw err;
      const pause = msOptionalToNumber(err.nextRetryDelay ?? undefined) ??
        transientPauseMs.minMs + Math.random() * (transientPauseMs.maxMs - transientPauseMs.minMs);
      if (Date.now() - started + pause > budgetMs) throw err;
      failuresInARow += 1;
      // A long Retry-After is slept in slices with a heartbeat before each, as the heartbeat timeout may be shorter.
      for (let left = Math.round(pause); left > 0; left -= maxIntervalMs) {
        onCheck(checks);
        // Context.sleep rejects when the activity is cancelled, so a cancelled run stops polling at once.
        await ctx.sleep(Math.min(left, maxIntervalMs));
      }
      continue;
    }
    failuresInARow = 0;
    checks += 1;
    onCheck(checks);
    if (result.done) return { done: true, value: result.value, checks };
    if (Date.now() - started + interval > budgetMs) return { done: false, checks };
    await ctx.sleep(interval);
    interval = Math.min(maxIntervalMs, Math.ceil(interval * 1.5));
  }
}

/** Heartbeat details of the previous attempt, if any, typed by the caller. */
export function previousDetails<T extends object>(): Partial<T> {
  const details = Context.current().info.heartbeatDetails as unknown;
  return details && typeof details === 'object' ? (details as Partial<T>) : {};
}
