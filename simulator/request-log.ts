/**
 * Counts of the requests the simulator answered, by method, route pattern and status: what a rehearsal
 * cost (calls, 429s, 404s while replicating) without reading logs.
 */
export interface RouteCount {
  method: string;
  /** Fastify route pattern, e.g. `/v1.0/users/:id`, or `(no route)`. */
  route: string;
  count: number;
  /** Responses by HTTP status code. */
  statuses: Record<string, number>;
}

export class RequestLog {
  private readonly routes = new Map<string, RouteCount>();
  private total = 0;
  /** 429s by the limit named in `x-ms-throttle-information` (budget, write quota, or an injected fault). */
  private throttled: Record<string, number> = {};

  record(method: string, route: string | undefined, statusCode: number, throttleInformation?: string): void {
    if (statusCode === 429) {
      const limit = throttleInformation ?? '(none)';
      this.throttled[limit] = (this.throttled[limit] ?? 0) + 1;
    }
    const pattern = route ?? '(no route)';
    const key = `${method} ${pattern}`;
    const entry = this.routes.get(key) ?? { method, route: pattern, count: 0, statuses: {} };
    entry.count += 1;
    entry.statuses[statusCode] = (entry.statuses[statusCode] ?? 0) + 1;
    this.routes.set(key, entry);
    this.total += 1;
  }

  summary(): { total: number; routes: RouteCount[]; throttled: Record<string, number> } {
    const routes = [...this.routes.values()].sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method));
    return { total: this.total, routes, throttled: { ...this.throttled } };
  }

  reset(): void {
    this.routes.clear();
    this.total = 0;
    this.throttled = {};
  }
}
