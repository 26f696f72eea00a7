/**
 * Counts of the requests the simulator answered, by method, route pattern and status: what a rehearsal
 * cost (calls, 429s, 404s while replicating) without reading logs.
 */
export interface RouteCount {
  method: string;
  /** Fastify route pattern, e.g. `/v1.0/users/:id`, or `(no route)`. */
  route: string;
  /**
   * The cmdlet, when the PowerShell stand-in made the request for one (`x-dialtone-cmdlet`). Its
   * `Connect-MicrosoftTeams` reads Graph with the app's token on the module's own account: those answers
   * reach the module, never Dialtone's Graph client, so they are counted apart from Dialtone's own calls.
   */
  cmdlet?: string;
  count: number;
  /** Responses by HTTP status code. */
  statuses: Record<string, number>;
}

export class RequestLog {
  private readonly routes = new Map<string, RouteCount>();
  private total = 0;
  /** 429s by the limit named in `x-ms-throttle-information` (budget, write quota, or an injected fault). */
  private throttled: Record<string, number> = {};

  record(method: string, route: string | undefined, statusCode: number, throttleInformation?: string, cmdlet?: string): void {
    if (statusCode === 429) {
      const limit = throttleInformation ?? '(none)';
      this.throttled[limit] = (this.throttled[limit] ?? 0) + 1;
    }
    const pattern = route ?? '(no route)';
    const key = `${method} ${pattern} ${cmdlet ?? ''}`;
    const entry = this.routes.get(key) ?? { method, route: pattern, ...(cmdlet ? { cmdlet } : {}), count: 0, statuses: {} };
    entry.count += 1;
    entry.statuses[statusCode] = (entry.statuses[statusCode] ?? 0) + 1;
    this.routes.set(key, entry);
    this.total += 1;
  }

  summary(): { total: number; routes: RouteCount[]; throttled: Record<string, number> } {
    const routes = [...this.routes.values()].sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || (a.cmdlet ?? '').localeCompare(b.cmdlet ?? ''));
    return { total: this.total, routes, throttled: { ...this.throttled } };
  }

  reset(): void {
    this.routes.clear();
    this.total = 0;
    this.throttled = {};
  }
}
