/**
 * Dialtone paces its own calls to the tenant's budget instead of learning it from 429s. Microsoft
 * throttles Graph's identity and access calls per app and tenant by resource units (a request costs
 * 1–5 units) over a 10 s window, and writes by a separate quota ("Microsoft Graph service-specific
 * throttling limits", identity and access; https://learn.microsoft.com/graph/throttling-limits), and it
 * keeps charging for throttled requests. So every request waits here for its estimated cost in a token
 * bucket, and a 429 pauses every request of the process until its Retry-After has passed, so one
 * throttled call does not become a hundred.
 */

export interface PacingBudget {
  /** Resource units per window. */
  resourceUnits: number;
  windowMs: number;
  /** Writes (POST, PATCH, PUT, DELETE) per write window; absent when not limited. */
  writes?: number;
  writeWindowMs?: number;
}

/**
 * A share of Microsoft's documented budget for an app in a tenant of 50+ users (3,500 RU per 10 s; writes
 * 3,000 per 2 min 30 s), leaving room for other tools of the same app.
 */
export const DEFAULT_BUDGET: PacingBudget = { resourceUnits: 3000, windowMs: 10_000, writes: 2500, writeWindowMs: 150_000 };

/**
 * The estimated cost of a request in resource units, after Microsoft's table for identity and access:
 * 1 for a read of one object or list, 2 for licenseDetails, 3 for subscribedSkus, 1 for a write; one
 * less with $select or a $top under 20; never under 1.
 */
export function resourceUnits(method: string, url: string): number {
  const parsed = new URL(url, 'https://graph.microsoft.com');
  const path = parsed.pathname.toLowerCase();
  let cost = 1;
  if (method.toUpperCase() === 'GET') {
    if (path.endsWith('/subscribedskus')) cost = 3;
    else if (path.endsWith('/licensedetails')) cost = 2;
    if (parsed.searchParams.has('$select')) cost -= 1;
    const top = Number(parsed.searchParams.get('$top'));
    if (Number.isFinite(top) && top > 0 && top < 20) cost -= 1;
  }
  return Math.max(1, cost);
}

/** A 429 that names the app's limit in the tenant (`x-ms-throttle-scope` `Tenant_Application/…`). */
export function namesAppLimit(scope: string | null | undefined): boolean {
  return /^Tenant_Application\b/i.test(scope ?? '');
}

/**
 * An answer to a read that may simply be asked again: a 5xx (not carried out, or its answer lost), or a
 * 429 that does not name the app's limit (a busy server). Both clients repeat such reads
 * {@link READ_REPEATS} times at most, after {@link readRepeatPause}.
 */
export function isTransientAnswer(status: number, scope: string | null | undefined): boolean {
  return [500, 502, 503, 504].includes(status) || (status === 429 && !namesAppLimit(scope));
}

export const READ_REPEATS = 3;

/** The pause before repeating a read: 0.5–2 s with jitter, or the Retry-After; undefined when that asks more than 5 s. */
export function readRepeatPause(retryAfterMs: number | undefined): number | undefined {
  if (retryAfterMs !== undefined && retryAfterMs > 5000) return undefined;
  return Math.max(retryAfterMs ?? 0, 500 + Math.random() * 1500);
}

const isWrite = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());

class Bucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly capacity: number,
    private readonly refillPerMs: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.updatedAt = now();
  }

  /** How long until `cost` tokens are there (0 when they are now). */
  waitFor(cost: number): number {
    this.refill();
    return this.tokens >= cost ? 0 : Math.ceil((cost - this.tokens) / this.refillPerMs);
  }

  take(cost: number): void {
    this.refill();
    this.tokens -= cost;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.refillPerMs);
    this.updatedAt = now;
  }
}

export interface PacerStats {
  requests: number;
  /** Total time requests waited for budget, in ms. */
  waitedMs: number;
  throttled: number;
}

/**
 * One per tenant and app in a worker process; every Graph and Teams admin request goes through it. The
 * budget is the tenant's for all workers together; each worker takes its share (see worker/share.ts).
 */
export class Pacer {
  private units!: Bucket;
  private writes: Bucket | undefined;
  /** This process's part of the budget: 1 alone, 1/N when N workers share the tenant. */
  private currentShare = 1;
  private pausedUntil = 0;
  /** Requests wait in order, so a costly one is not starved by cheap ones. */
  private queue: Promise<void> = Promise.resolve();
  readonly stats: PacerStats = { requests: 0, waitedMs: 0, throttled: 0 };

  constructor(
    readonly budget: PacingBudget = DEFAULT_BUDGET,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(budget.resourceUnits > 0 && budget.windowMs > 0)) throw new Error('pacing budget: resourceUnits and windowMs must be positive');
    this.setShare(1);
  }

  get share(): number {
    return this.currentShare;
  }

  /**
   * Takes `share` (0 < share ≤ 1) of the budget, e.g. 1/N when N workers serve the same tenant. A bucket
   * holds a tenth of the window's budget and refills with the rest over the window, so no window, however
   * placed, holds more than the budget (burst + refill = budget).
   */
  setShare(share: number): void {
    if (!(share > 0 && share <= 1)) throw new Error(`pacing share must be in (0, 1], got ${share}`);
    this.currentShare = share;
    const bucket = (units: number, windowMs: number) => new Bucket((units * share) / 10, (units * share * 0.9) / windowMs, this.now);
    this.units = bucket(this.budget.resourceUnits, this.budget.windowMs);
    this.writes = this.budget.writes && this.budget.writeWindowMs ? bucket(this.budget.writes, this.budget.writeWindowMs) : undefined;
  }

  /** Waits until the request fits the budget (and any throttling pause has passed), then charges it. */
  acquire(method: string, url: string): Promise<void> {
    const cost = resourceUnits(method, url);
    const write = isWrite(method);
    const turn = this.queue.then(async () => {
      const started = this.now();
      for (;;) {
        const wait = Math.max(this.pausedUntil - this.now(), this.units.waitFor(cost), write && this.writes ? this.writes.waitFor(1) : 0);
        if (wait <= 0) break;
        await this.sleep(wait);
      }
      this.units.take(cost);
      if (write) this.writes?.take(1);
      this.stats.requests += 1;
      this.stats.waitedMs += this.now() - started;
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /**
   * A 429 came back. When it names the app's limit in the tenant (`x-ms-throttle-scope`
   * `Tenant_Application/…`, as Graph's identity and access 429s do), every request of this process waits
   * out the Retry-After (or, without one, a pause that grows with each such 429 in a row), with jitter so
   * that workers do not all return at the same moment. A 429 without that scope (a busy server) concerns
   * that request only: its activity retries after the Retry-After, the others go on.
   */
  throttled(retryAfterMs: number | undefined, scope: string | null | undefined, random: () => number = Math.random): void {
    this.stats.throttled += 1;
    if (!namesAppLimit(scope)) return;
    const base = retryAfterMs ?? Math.min(60_000, 1000 * 2 ** Math.min(6, this.consecutiveThrottles));
    this.consecutiveThrottles += 1;
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + Math.round(base * (1 + 0.25 * random())));
  }

  /** An answer that was not a 429: the next 429 starts from a short pause again. */
  answered(): void {
    this.consecutiveThrottles = 0;
  }

  private consecutiveThrottles = 0;
}
