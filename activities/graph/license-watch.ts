/**
 * Waits for licenses to reach their accounts, shared by every wait in the worker process: one look at
 * the tenant answers all of them. With many accounts waiting, a look is one paged list of the resource
 * accounts with their plans (`department eq 'Microsoft Communication Application Instance'`, 999 a
 * page, `$select` of assignedLicenses, assignedPlans and provisionedPlans — Graph returns those only on
 * `$select`); with fewer accounts waiting than that list has pages, each is read alone. So the calls a
 * wait costs do not grow with its length times the number of accounts waiting, and every account is
 * still looked at every `intervalMs`.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import type { User } from '@microsoft/microsoft-graph-types';
import { ApplicationFailure } from '@temporalio/common';
import { callUnlessMissing } from './errors';
import { listResourceAccountUsers } from './users';

const PLAN_FIELDS = ['id', 'assignedLicenses', 'assignedPlans', 'provisionedPlans'];

/** Whether the license's plans are assigned, enabled and provisioned on the account; if not, what it waits for. */
export function licenseState(user: Pick<User, 'assignedLicenses' | 'assignedPlans' | 'provisionedPlans'>, skuId: string | undefined, planIds: Set<string>): { done: boolean; state: string } {
  const license = (user.assignedLicenses ?? []).find((l) => skuId === undefined || l.skuId === skuId);
  if (!license) return { done: false, state: "the license is not among the account's assigned licenses yet" };
  const disabled = new Set((license.disabledPlans ?? []).map((id) => id.toLowerCase()));
  const plans = (user.assignedPlans ?? []).filter((p) => planIds.has(String(p.servicePlanId).toLowerCase()) && !disabled.has(String(p.servicePlanId).toLowerCase()));
  if (plans.length === 0) return { done: false, state: "the license's service plans are not among the assigned plans yet" };
  const notEnabled = plans.find((p) => p.capabilityStatus !== 'Enabled');
  if (notEnabled) return { done: false, state: `the service plan ${notEnabled.servicePlanId} is ${notEnabled.capabilityStatus}` };
  const services = new Set(plans.map((p) => p.service));
  const provisioning = (user.provisionedPlans ?? []).filter((p) => services.has(p.service));
  if (provisioning.length === 0 || provisioning.some((p) => p.provisioningStatus !== 'Success')) {
    return { done: false, state: `provisioning of ${[...services].join(', ')} is ${provisioning.map((p) => p.provisioningStatus).join(', ') || 'not started'}` };
  }
  return { done: true, state: 'provisioned' };
}

interface Waiter {
  accountId: string;
  skuId: string | undefined;
  planIds: Set<string>;
  state: string;
  looks: number;
  settle: (outcome: { done: boolean } | { error: unknown }) => void;
  onLook: (looks: number) => void;
}

export class LicenseWatch {
  private readonly waiters = new Set<Waiter>();
  private looping = false;
  /** Pages the list had at the last bulk look: below that many waiters, single reads are cheaper. */
  private pages = 1;

  constructor(
    private readonly graph: Client,
    private readonly intervalMs: number,
  ) {}

  /**
   * Resolves `done: true` once the account's license is provisioned, or `done: false` with what it
   * waits for after `budgetMs` (or when `abort` fires). A failure a person must fix (a missing
   * permission) rejects; a transient one only skips a look.
   */
  wait(
    input: { accountId: string; skuId: string | undefined; planIds: Set<string> },
    budgetMs: number,
    onLook: (looks: number) => void,
    abort: Promise<unknown>,
  ): Promise<{ done: boolean; state: string; looks: number }> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        ...input,
        state: 'not looked at yet',
        looks: 0,
        onLook,
        settle: (outcome) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          if ('error' in outcome) reject(outcome.error);
          else resolve({ done: outcome.done, state: waiter.state, looks: waiter.looks });
        },
      };
      const timer = setTimeout(() => waiter.settle({ done: false }), budgetMs);
      abort.then(() => waiter.settle({ done: false }), (err: unknown) => waiter.settle({ error: err }));
      this.waiters.add(waiter);
      this.loop();
    });
  }

  private loop(): void {
    if (this.looping) return;
    this.looping = true;
    void (async () => {
      try {
        while (this.waiters.size > 0) {
          await this.look();
          if (this.waiters.size === 0) break;
          await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
        }
      } finally {
        this.looping = false;
        if (this.waiters.size > 0) this.loop();
      }
    })();
  }

  private async look(): Promise<void> {
    const waiting = [...this.waiters];
    if (waiting.length === 0) return;
    try {
      if (waiting.length < this.pages) {
        await Promise.all(waiting.map(async (waiter) => {
          // A new account may 404 on a replica that has not seen it yet: not listed yet, look again.
          const user = await callUnlessMissing({ action: `read the license state of ${waiter.accountId}`, permission: 'User.Read.All' }, () =>
            this.graph.api(`/users/${waiter.accountId}`).select(PLAN_FIELDS).get() as Promise<User>);
          this.judge(waiter, user);
        }));
        return;
      }
      const { users, pages } = await listResourceAccountUsers<User>(this.graph, PLAN_FIELDS);
      const byId = new Map(users.map((user) => [user.id, user]));
      this.pages = pages;
      for (const waiter of waiting) this.judge(waiter, byId.get(waiter.accountId));
    } catch (err) {
      // A throttled or failed look says nothing about the licenses: the next look comes at the interval.
      if (err instanceof ApplicationFailure && !err.nonRetryable) return;
      for (const waiter of waiting) waiter.settle({ error: err });
    }
  }

  private judge(waiter: Waiter, user: User | undefined): void {
    if (!this.waiters.has(waiter)) return;
    waiter.looks += 1;
    if (!user) {
      // A new account reaches list queries later than reads by id (replication).
      waiter.state = 'the account is not listed yet';
    } else {
      const { done, state } = licenseState(user, waiter.skuId, waiter.planIds);
      waiter.state = state;
      if (done) {
        waiter.onLook(waiter.looks);
        waiter.settle({ done: true });
        return;
      }
    }
    waiter.onLook(waiter.looks);
  }
}
