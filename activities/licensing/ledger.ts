/**
 * The purchase ledger as the adapter sees it: a per-tenant, per-UTC-day workflow reached by
 * update-with-start, so every worker shares one count and one durable plan per purchase, across worker
 * restarts. Chosen over counting today's orders in Partner Center, because a quantity increase makes no
 * order there, and over a database, because Temporal is the one durable store this product has.
 */
import type { Client} from '@temporalio/client';
import { WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcDeadlineError } from '@temporalio/client';
import { untilAborted } from '../../lib/concurrency';
import { LEDGER_WORKFLOW_TYPE, getLedgerQuery, purchaseLedgerWorkflowId, recordPurchaseUpdate, reservePurchaseUpdate, unitsCounted } from '../../workflows/license-purchase-ledger/definitions';
import type { LedgerEntry, LedgerInput, RecordPurchaseInput, ReservePurchaseInput, ReservePurchaseOutput } from '../../workflows/license-purchase-ledger/definitions';
import { ProcurementError, procurementFailure } from './procurement';

export interface PurchaseLedger {
  /** Reserves units under a key (refused beyond a ceiling); a key seen before returns its first plan. */
  reserve(day: string, input: ReservePurchaseInput): Promise<ReservePurchaseOutput>;
  record(day: string, input: RecordPurchaseInput): Promise<LedgerEntry>;
  /** Units counted on a day (0 when nothing was bought). */
  usedOn(day: string): Promise<number>;
  /** The entry reserved under a key that day, if any (a retry finds its plan). */
  entry(day: string, key: string): Promise<LedgerEntry | undefined>;
}

/**
 * Longest wait for the ledger workflow to answer. Below the purchase activity's heartbeat timeout (1
 * minute), so a ledger that no worker serves fails the attempt with the reason, instead of leaving it
 * stuck while the server retries it elsewhere.
 */
export const LEDGER_ANSWER_TIMEOUT_MS = 45_000;

export interface TemporalPurchaseLedgerOptions {
  tenantId: string;
  /** The Temporal client: in an activity, `Context.current().client`. */
  client: () => Client;
  /** The task queue the ledger workflow runs on (the worker's own). */
  taskQueue: () => string;
  /**
   * Ends a wait for the ledger: in an activity, `Context.current().cancellationSignal`. A worker that
   * shuts down stops polling workflow tasks before its activities end, so an activity still waiting for
   * the ledger (a workflow task) would hold the shutdown forever.
   */
  cancellation?: () => AbortSignal;
  answerTimeoutMs?: number;
}

export class TemporalPurchaseLedger implements PurchaseLedger {
  constructor(private readonly options: TemporalPurchaseLedgerOptions) {}

  private start(day: string) {
    const input: LedgerInput = { tenantId: this.options.tenantId, day };
    return new WithStartWorkflowOperation(LEDGER_WORKFLOW_TYPE, {
      workflowId: purchaseLedgerWorkflowId(this.options.tenantId, day),
      taskQueue: this.options.taskQueue(),
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `License purchases of ${day} (UTC): ceilings and one plan per purchase`,
    });
  }

  /**
   * One call to the ledger, bounded by a deadline (the worker's connection honours deadlines, not abort
   * signals) and abandoned at the activity's cancellation; a call past its deadline says why.
   */
  private async call<T>(day: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const client = this.options.client();
    const timeoutMs = this.options.answerTimeoutMs ?? LEDGER_ANSWER_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const work = client.withDeadline(deadline, () => fn(client));
    const cancellation = this.options.cancellation?.();
    try {
      return await (cancellation ? untilAborted(work, cancellation) : work);
    } catch (err) {
      // The deadline surfaces as DEADLINE_EXCEEDED, or from an update as WorkflowUpdateRPCTimeoutOrCancelledError.
      if (Date.now() >= deadline || isGrpcDeadlineError(err) || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
        throw new Error(await this.unanswered(client, day, timeoutMs));
      }
      throw err;
    }
  }

  /** Why the ledger did not answer, as far as its description tells: most often, nobody polls its task queue. */
  private async unanswered(client: Client, day: string, timeoutMs: number): Promise<string> {
    const workflowId = purchaseLedgerWorkflowId(this.options.tenantId, day);
    const own = this.options.taskQueue();
    const said = `The purchase ledger ${workflowId} did not answer within ${Math.round(timeoutMs / 1000)} s`;
    try {
      const { taskQueue } = await client.withDeadline(Date.now() + 5_000, () => client.workflow.getHandle(workflowId).describe());
      if (taskQueue !== own) {
        return `${said}: it runs on task queue "${taskQueue}", which this worker (task queue "${own}") does not poll. ` +
          `Start a worker on "${taskQueue}" until the ledger closes (two days after ${day}), or put this worker back on that queue.`;
      }
      return `${said}: it runs on this worker's task queue "${own}", so the workers polling it are busy or stuck (the Web UI shows its pending workflow task).`;
    } catch {
      return `${said}, and Temporal did not describe it either: is the Temporal server reachable?`;
    }
  }

  async reserve(day: string, input: ReservePurchaseInput): Promise<ReservePurchaseOutput> {
    try {
      return await this.call(day, (client) => client.workflow.executeUpdateWithStart(reservePurchaseUpdate, { args: [input], startWorkflowOperation: this.start(day) }));
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const message = err.cause instanceof Error ? err.cause.message : err.message;
        throw procurementFailure(ProcurementError.PurchaseCeilingExceeded, message.replace(/^refused: /, 'Purchase refused: '));
      }
      throw err;
    }
  }

  async record(day: string, input: RecordPurchaseInput): Promise<LedgerEntry> {
    return this.call(day, (client) => client.workflow.executeUpdateWithStart(recordPurchaseUpdate, { args: [input], startWorkflowOperation: this.start(day) }));
  }

  async usedOn(day: string): Promise<number> {
    return unitsCounted(await this.entries(day));
  }

  async entry(day: string, key: string): Promise<LedgerEntry | undefined> {
    return (await this.entries(day)).find((e) => e.key === key);
  }

  private async entries(day: string): Promise<LedgerEntry[]> {
    try {
      const state = await this.call(day, (client) => client.workflow.getHandle(purchaseLedgerWorkflowId(this.options.tenantId, day)).query(getLedgerQuery));
      return state.entries;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return [];
      throw err;
    }
  }
}
