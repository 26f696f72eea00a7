/**
 * Per-app request budget over a sliding window, modelled on Graph's identity-and-access throttling
 * (reference notes 6.2). Throttled attempts are charged too: Microsoft keeps counting usage while a
 * client is throttled, so retrying before `Retry-After` only prolongs the wait.
 */
import type { ThrottleBudget } from './options';

export interface ThrottleDecision {
  throttled: boolean;
  /** Fraction of the budget used, including this request. */
  usage: number;
  /** When throttled: how long until this request would fit, in ms. */
  retryAfterMs: number;
}

interface Charge {
  at: number;
  cost: number;
}

export class ThrottleTracker {
  private readonly charges = new Map<string, Charge[]>();

  charge(key: string, cost: number, budget: ThrottleBudget, windowMs: number, now: number): ThrottleDecision {
    const charges = (this.charges.get(key) ?? []).filter((charge) => charge.at > now - windowMs);
    const used = charges.reduce((sum, charge) => sum + charge.cost, 0);
    charges.push({ at: now, cost });
    this.charges.set(key, charges);
    if (used + cost <= budget.resourceUnits) {
      return { throttled: false, usage: (used + cost) / budget.resourceUnits, retryAfterMs: 0 };
    }
    // Find when enough of the oldest charges (this attempt included) will have left the window.
    let remaining = used + cost;
    let retryAfterMs = windowMs;
    for (const charge of charges) {
      remaining -= charge.cost;
      if (remaining + cost <= budget.resourceUnits) {
        retryAfterMs = charge.at + windowMs - now;
        break;
      }
    }
    return { throttled: true, usage: (used + cost) / budget.resourceUnits, retryAfterMs };
  }

  reset(): void {
    this.charges.clear();
  }
}

/** Resource-unit cost of a request (Microsoft's identity cost table). */
export function resourceUnitCost(method: string, route: string | undefined, query: Record<string, unknown>): number {
  if (method !== 'GET') return 1;
  let cost = 1;
  if (route?.endsWith('/subscribedSkus')) cost = 3;
  else if (route?.endsWith('/licenseDetails')) cost = 2;
  if (query.$select !== undefined) cost -= 1;
  const top = Number(query.$top);
  if (Number.isFinite(top) && top < 20) cost -= 1;
  return Math.max(1, cost);
}
