/**
 * The purchase ledger as the adapter sees it: a per-tenant, per-UTC-day workflow reached by
 * update-with-start, so every worker shares one count and one durable plan per purchase, across worker
 * restarts. Chosen over counting today's orders in Partner Center, because a quantity increase makes no
 * order there, and over a database, because Temporal is the one durable store this product has.
 */
import type { Client} from '@temporalio/client';
import { WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { LEDGER_WORKFLOW_TYPE, getLedgerQuery, purchaseLedgerWorkflowId, recordPurchaseUpdate, reservePurchaseUpdate, unitsCounted } from '../../workflows/license-purchase-ledger/definitions';
import type { LedgerEntry, LedgerInput, RecordPurchaseInput, ReservePurchaseInput, ReservePurchaseOutput } from '../../workflows/license-purchase-ledger/definitions';
import { ProcurementError, procurementFailure } from './procurement';

export interface PurchaseLedger {
  /** Reserves units under a key (refused beyond a ceiling); a key seen before returns its first plan. */
  reserve(day: string, input: ReservePurchaseInput): Promise<ReservePurchaseOutput>;
  record(day: string, input: RecordPurchaseInput): Promise<LedgerEntry>;
  /** Units counted on a day (0 when nothing was bought). */
  usedOn(day: string): Promise<number>;
}

export interface TemporalPurchaseLedgerOptions {
  tenantId: string;
  /** The Temporal client: in an activity, `Context.current().client`. */
  client: () => Client;
  /** The task queue the ledger workflow runs on (the worker's own). */
  taskQueue: () => string;
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

  async reserve(day: string, input: ReservePurchaseInput): Promise<ReservePurchaseOutput> {
    try {
      return await this.options.client().workflow.executeUpdateWithStart(reservePurchaseUpdate, { args: [input], startWorkflowOperation: this.start(day) });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const message = err.cause instanceof Error ? err.cause.message : err.message;
        throw procurementFailure(ProcurementError.PurchaseCeilingExceeded, message.replace(/^refused: /, 'Purchase refused: '));
      }
      throw err;
    }
  }

  async record(day: string, input: RecordPurchaseInput): Promise<LedgerEntry> {
    return this.options.client().workflow.executeUpdateWithStart(recordPurchaseUpdate, { args: [input], startWorkflowOperation: this.start(day) });
  }

  async usedOn(day: string): Promise<number> {
    try {
      const state = await this.options.client().workflow.getHandle(purchaseLedgerWorkflowId(this.options.tenantId, day)).query(getLedgerQuery);
      return unitsCounted(state.entries);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 0;
      throw err;
    }
  }
}
