/**
 * Short in-activity polling for condition waits. One activity attempt looks for up to `budgetMs`,
 * heartbeating each check, then gives up retryably; Temporal's backoff spaces out the long tail.
 */
import { Context } from '@temporalio/activity';

/** TSDoc'd knobs so tests and the fast simulator profile can shorten the cadence. */
export interface PollingOptions {
  /** First pause between checks, ms. Default 2000. */
  initialIntervalMs?: number;
  /** Longest pause between checks, ms. Default 15000. */
  maxIntervalMs?: number;
  /** How long one activity attempt keeps checking before handing back to Temporal, ms. Default 60000. */
  budgetMs?: number;
}

export const DEFAULT_POLLING: Required<PollingOptions> = { initialIntervalMs: 2_000, maxIntervalMs: 15_000, budgetMs: 60_000 };

export interface PollResult<T> {
  done: boolean;
  value?: T;
}

/**
 * Calls `check` until it reports done or the budget runs out. `onCheck` receives the running count
 * so the caller can heartbeat its own details. Returns the value and how many checks this attempt made.
 */
export async function pollUntil<T>(
  options: PollingOptions | undefined,
  check: () => Promise<PollResult<T>>,
  onCheck: (checks: number) => void,
): Promise<{ done: boolean; value?: T; checks: number }> {
  const { initialIntervalMs, maxIntervalMs, budgetMs } = { ...DEFAULT_POLLING, ...options };
  const ctx = Context.current();
  const started = Date.now();
  let interval = initialIntervalMs;
  let checks = 0;
  for (;;) {
    const result = await check();
    checks += 1;
    onCheck(checks);
    if (result.done) return { done: true, value: result.value, checks };
    if (Date.now() - started + interval > budgetMs) return { done: false, checks };
    // Context.sleep rejects when the activity is cancelled, so a cancelled run stops polling at once.
    await ctx.sleep(interval);
    interval = Math.min(maxIntervalMs, Math.ceil(interval * 1.5));
  }
}

/** Heartbeat details of the previous attempt, if any, typed by the caller. */
export function previousDetails<T extends object>(): Partial<T> {
  const details = Context.current().info.heartbeatDetails as unknown;
  return details && typeof details === 'object' ? (details as Partial<T>) : {};
}
