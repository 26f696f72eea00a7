/**
 * The number step's reads of the tenant, shared by every activity in the worker process, as the license
 * watch shares the license waits: one look at the number inventory answers every lookup and every wait
 * that is due.
 *
 * - Lookups (an inventory entry before a step decides what to do) are gathered for a short while
 *   ({@link GATHER_BOUNDS_MS}) and answered by the next look, which starts after each of them was
 *   asked, so none is answered from an older read.
 * - Waits for an accepted assign or unassign operation read the inventory, not the operation: the number
 *   on the account and activated is an assignment that succeeded, the number off the account an
 *   unassignment that did. A failed activation on the account (`assignmentFailed`, `updateFailed`) ends
 *   an assignment's wait. A pending state (`assignmentPending`, `updatePending`) is a change still being
 *   carried out. Otherwise the inventory cannot tell a failed operation from one not started yet (what it
 *   shows while an operation runs is not documented), so only then is that waiter's operation read.
 * - A look reads each number alone (`$filter=telephoneNumber eq '…'`; Graph's list documents no `or`)
 *   while fewer numbers are wanted than the whole inventory has pages, else the whole inventory, 1,000
 *   a page with `$top`/`$skip` (the list has no next link).
 * - Each wait keeps its own cadence (the worker's polling options: `initialIntervalMs`, growing by half
 *   up to `maxIntervalMs`) and reads its operation only when its own look is due; a look made for
 *   another wait answers it early from the inventory for nothing. So one wait alone costs what it did
 *   when it polled its operation, and many waiting at once cost about one inventory read per look
 *   between them.
 * - A throttled or failed read says nothing about the numbers: the waits it would have answered skip
 *   that look; a failure a person must fix (a missing permission) ends them.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure } from '@temporalio/common';
import { describeNumber, inventoryVerdict } from '../number-checks';
import { DEFAULT_POLLING } from '../polling';
import type { PollingOptions } from '../polling';
import { findNumber, listNumberPages, operationEnded, readNumberOperation } from './number-inventory';
import type { NumberAssignment, NumberOperation } from './number-inventory';

/**
 * How long a lookup waits for others to share its read (as the Teams adapters' lookups do): the wait's
 * first pause (`initialIntervalMs`), kept between these bounds, so that a lookup usually rides on a look
 * made for the waits anyway. It delays the step before its POST, which waits seconds for Teams already.
 */
const GATHER_BOUNDS_MS = { min: 50, max: 1_000 };
/** Until the inventory was listed once, how many pages it is taken to have: one number alone is read alone. */
const UNKNOWN_PAGES = 2;

export interface NumberWaitInput {
  kind: 'assign' | 'unassign';
  operationId: string;
  phoneNumber: string;
  accountId: string;
}

/** How a wait ended. `looks` counts the looks that answered it; `number` is the entry the last of them saw. */
export type NumberWaitResult =
  /** Assign: the number is on the account, activated. Unassign: the number is off the account. */
  | { outcome: 'done'; looks: number; number: NumberAssignment | undefined }
  /** Assign: the number is on the account, its activation failed. */
  | { outcome: 'activationFailed'; looks: number; number: NumberAssignment }
  /** The operation ended without success (read because the inventory could not tell). */
  | { outcome: 'failed'; looks: number; operation: NumberOperation; number: NumberAssignment | undefined }
  /**
   * The budget ran out (or the wait was aborted) first. `seen` says whether the inventory was read at
   * all; `operation`, the operation as last read in this wait, if it was.
   */
  | { outcome: 'waiting'; looks: number; state: string; seen: boolean; number: NumberAssignment | undefined; operation?: NumberOperation };

type Entry = { entry: NumberAssignment | undefined } | { error: unknown };

interface Waiter extends NumberWaitInput {
  interval: number;
  nextAt: number;
  looks: number;
  state: string;
  seen: boolean;
  number: NumberAssignment | undefined;
  operation?: NumberOperation;
  onLook: (looks: number) => void;
  settle: (result: NumberWaitResult | { error: unknown }) => void;
}

interface Lookup {
  phoneNumber: string;
  askedAt: number;
  resolve: (entry: NumberAssignment | undefined) => void;
  reject: (err: unknown) => void;
}

/** A failure that only skips a look: anything but a failure a person must fix. */
function skips(err: unknown): boolean {
  return err instanceof ApplicationFailure && !err.nonRetryable;
}

export class NumberWatch {
  private readonly waiters = new Set<Waiter>();
  private lookups: Lookup[] = [];
  private readonly polling: Required<PollingOptions>;
  private readonly gatherMs: number;
  /** Pages the inventory had at the last full read: below that many numbers, single reads are cheaper. */
  private pages = UNKNOWN_PAGES;
  private looping = false;
  private wake: (() => void) | undefined;
  private wakeAt = Infinity;

  constructor(
    private readonly graph: Client,
    polling?: PollingOptions,
  ) {
    this.polling = { ...DEFAULT_POLLING, ...polling };
    this.gatherMs = Math.min(GATHER_BOUNDS_MS.max, Math.max(GATHER_BOUNDS_MS.min, this.polling.initialIntervalMs));
  }

  /** The number's inventory entry, read after this call (shared with whatever else wants one meanwhile). */
  lookup(phoneNumber: string): Promise<NumberAssignment | undefined> {
    return new Promise((resolve, reject) => {
      const askedAt = Date.now();
      this.lookups.push({ phoneNumber, askedAt, resolve, reject });
      this.loop(askedAt + this.gatherMs);
    });
  }

  /**
   * Waits for an accepted operation until the inventory (or, where it cannot tell, the operation) shows
   * how it ended, for at most `budgetMs` or until `abort` settles. `onLook` gets the running count of
   * looks that answered this wait, after each (and after a look skipped for a transient failure), for
   * heartbeats. A failure a person must fix rejects.
   */
  wait(input: NumberWaitInput, budgetMs: number, onLook: (looks: number) => void, abort: Promise<unknown>): Promise<NumberWaitResult> {
    return new Promise((resolve, reject) => {
      const now = Date.now();
      const waiter: Waiter = {
        ...input,
        interval: this.polling.initialIntervalMs,
        nextAt: now + this.polling.initialIntervalMs,
        looks: 0,
        state: 'not looked at yet',
        seen: false,
        number: undefined,
        onLook,
        settle: (result) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          if ('error' in result) reject(result.error);
          else resolve(result);
        },
      };
      const waiting = (): NumberWaitResult => ({
        outcome: 'waiting', looks: waiter.looks, state: waiter.state, seen: waiter.seen, number: waiter.number,
        ...(waiter.operation ? { operation: waiter.operation } : {}),
      });
      const timer = setTimeout(() => waiter.settle(waiting()), budgetMs);
      abort.then(() => waiter.settle(waiting()), (err: unknown) => waiter.settle({ error: err }));
      this.waiters.add(waiter);
      this.loop(waiter.nextAt);
    });
  }

  /** When the next look is wanted: the earliest due wait or gathered lookup. */
  private nextLookAt(): number {
    let at = Infinity;
    for (const waiter of this.waiters) at = Math.min(at, waiter.nextAt);
    for (const lookup of this.lookups) at = Math.min(at, lookup.askedAt + this.gatherMs);
    return at;
  }

  /** Starts the loop, or wakes it when `wantedAt` comes before the look it is sleeping towards. */
  private loop(wantedAt: number): void {
    if (this.looping) {
      if (wantedAt < this.wakeAt) this.wake?.();
      return;
    }
    this.looping = true;
    void (async () => {
      try {
        while (this.waiters.size > 0 || this.lookups.length > 0) {
          const at = this.nextLookAt();
          const pause = at - Date.now();
          if (pause > 0) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, pause);
              this.wakeAt = at;
              this.wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            this.wake = undefined;
            this.wakeAt = Infinity;
            // Woken early or a wait left meanwhile: decide again what is due.
            if (this.nextLookAt() > Date.now()) continue;
          }
          await this.look();
        }
      } finally {
        this.looping = false;
        if (this.waiters.size > 0 || this.lookups.length > 0) this.loop(this.nextLookAt());
      }
    })();
  }

  private async look(): Promise<void> {
    const lookups = this.lookups;
    this.lookups = [];
    const waiting = [...this.waiters];
    try {
      await this.answer(lookups, waiting);
    } catch (err) {
      // A failure the look does not handle (a bug, a callback that threw): no one is left waiting for an answer that will not come.
      for (const lookup of lookups) lookup.reject(err);
      for (const waiter of waiting) waiter.settle({ error: err });
    }
  }

  private async answer(lookups: Lookup[], waiting: Waiter[]): Promise<void> {
    const startedAt = Date.now();
    const wanted = [...new Set([...lookups.map((l) => l.phoneNumber), ...waiting.map((w) => w.phoneNumber)])];
    const entries = await this.read(wanted);

    for (const lookup of lookups) {
      const found = entries.get(lookup.phoneNumber);
      if (!found || 'error' in found) lookup.reject(found?.error ?? new Error(`no answer for ${lookup.phoneNumber}`));
      else lookup.resolve(found.entry);
    }

    // A wait is due when its own look would come within half its interval: looked at a little early,
    // rather than making another look of its own right after this one.
    const due = new Set(waiting.filter((w) => w.nextAt - startedAt <= w.interval / 2));
    const needOperation: Waiter[] = [];
    for (const waiter of waiting) {
      if (!this.waiters.has(waiter)) continue;
      const found = entries.get(waiter.phoneNumber);
      if (!found || 'error' in found) {
        if (!skips(found?.error)) {
          waiter.settle({ error: found?.error });
          continue;
        }
        waiter.state = `the inventory could not be read (${found?.error instanceof Error ? found.error.message : 'no answer'})`;
        waiter.onLook(waiter.looks);
        continue;
      }
      waiter.looks += 1;
      waiter.seen = true;
      waiter.number = found.entry;
      const judged = this.judge(waiter, found.entry);
      if (judged === 'settled') continue;
      if (judged === 'operation' && due.has(waiter)) needOperation.push(waiter);
      else waiter.onLook(waiter.looks);
    }

    await Promise.all(needOperation.map(async (waiter) => {
      let operation: NumberOperation;
      try {
        operation = await readNumberOperation(this.graph, waiter.operationId);
      } catch (err) {
        if (!skips(err)) waiter.settle({ error: err });
        else waiter.onLook(waiter.looks);
        return;
      }
      waiter.operation = operation;
      if (operationEnded(operation) && operation.status !== 'succeeded') {
        waiter.onLook(waiter.looks);
        waiter.settle({ outcome: 'failed', looks: waiter.looks, operation, number: waiter.number });
        return;
      }
      // Succeeded while the inventory does not show it yet (or shows something else): the inventory decides.
      waiter.state = operation.status === 'succeeded'
        ? `operation ${waiter.operationId} succeeded but the inventory does not show it yet (${describeNumber(waiter.number, waiter.accountId)})`
        : `operation ${waiter.operationId} is ${operation.status}`;
      waiter.onLook(waiter.looks);
    }));

    const now = Date.now();
    for (const waiter of due) {
      waiter.nextAt = now + waiter.interval;
      waiter.interval = Math.min(this.polling.maxIntervalMs, Math.ceil(waiter.interval * 1.5));
    }
  }

  /** Settles a wait the inventory answers; otherwise says whether only its operation can tell. */
  private judge(waiter: Waiter, number: NumberAssignment | undefined): 'settled' | 'pending' | 'operation' {
    waiter.state = describeNumber(number, waiter.accountId);
    const verdict = inventoryVerdict(waiter.kind, waiter.accountId, number);
    if (verdict === 'pending' || verdict === 'operation') return verdict;
    waiter.onLook(waiter.looks);
    if (verdict === 'done') waiter.settle({ outcome: 'done', looks: waiter.looks, number });
    else if (number) waiter.settle({ outcome: 'activationFailed', looks: waiter.looks, number });
    return 'settled';
  }

  /** Each wanted number's entry: one read each, or the whole inventory when that takes fewer calls. */
  private async read(wanted: string[]): Promise<Map<string, Entry>> {
    const entries = new Map<string, Entry>();
    if (wanted.length === 0) return entries;
    if (wanted.length < this.pages) {
      await Promise.all(wanted.map(async (phoneNumber) => {
        try {
          entries.set(phoneNumber, { entry: await findNumber(this.graph, phoneNumber) });
        } catch (err) {
          entries.set(phoneNumber, { error: err });
        }
      }));
      return entries;
    }
    try {
      const { numbers, pages } = await listNumberPages(this.graph, undefined, "list the tenant's number inventory");
      this.pages = pages;
      const byNumber = new Map(numbers.map((entry) => [entry.telephoneNumber, entry]));
      for (const phoneNumber of wanted) entries.set(phoneNumber, { entry: byNumber.get(phoneNumber) });
    } catch (err) {
      for (const phoneNumber of wanted) entries.set(phoneNumber, { error: err });
    }
    return entries;
  }
}
