/**
 * Public contract of the provisionBatch workflow: shared by the workflow, the worker, the API and the
 * CLI. Pure types and Temporal message definitions only (safe inside the workflow sandbox).
 *
 * A batch runs one child provisionResourceAccount per row, with the single-account workflow id, so a
 * batch row and a single request for the same account are the same run.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ResourceAccountKind } from '../../lib/microsoft';
import type {
  ApproveLicensePurchaseInput,
  ApproveLicensePurchaseOutput,
  Decision,
  LicensePurchaseState,
  ProvisionOptions,
  ProvisioningState,
} from '../provision-resource-account/definitions';
import type { NotifyRequest } from '../notification/definitions';

export const BATCH_WORKFLOW_TYPE = 'provisionBatch';

/** Rows a batch may hold. */
export const MAX_BATCH_ROWS = 10_000;

/** The value of `phoneNumber` that asks Dialtone to allocate any free service number of the row's country. */
export const ANY_NUMBER = 'any';

/**
 * One row as submitted (JSON) or read from a CSV file: the single-account request's fields, plus the
 * number choice. CSV columns carry the same names.
 */
export interface BatchRowRequest {
  upn: string;
  displayName: string;
  kind: ResourceAccountKind;
  usageLocation: string;
  /** A Calling Plan service number in E.164, or "any": any free service number of the usage location's country. */
  phoneNumber: string;
  /** With phoneNumber "any": only numbers of this city (as the inventory names it, case-insensitive). */
  numberCity?: string;
  /** With phoneNumber "any": true for a toll-free number, false for a toll (geographic) one; either when absent. */
  tollFree?: boolean;
  /** Associate the account with this auto attendant or call queue (its identity) once it has its number. */
  associateWith?: string;
  /** With associateWith: 1 (highest) to 5; Teams' default 3. */
  callPriority?: number;
}

/** Batch-wide tunables. */
export interface BatchOptions {
  /** Rows provisioning at once (the sliding window). Rows waiting for a decision do not hold a place. Default 200. */
  concurrency?: number;
  /** Failure ratio of recently finished rows at which the batch pauses itself (quarantine), 0–1. Default 0.5. */
  quarantineRatio?: number;
  /** How many recently finished rows the ratio is taken over; the batch judges only once that many have finished. Default 10. */
  quarantineWindow?: number;
  /** While the batch waits for licenses, how often it looks at the stock again, in ms. Default 5 minutes. */
  licenseRecheckIntervalMs?: number;
  /** History events after which the batch continues as new (keeps its own history small). Default 5,000. */
  maxHistoryEvents?: number;
  /**
   * How long a batch whose rows have all ended, some not completed, stays open for retry-failed, in ms.
   * Default 7 days; 0 closes it at once.
   */
  retryWindowMs?: number;
  /** Passed to every row's run (propagation and decision deadlines, deleted-account policy). */
  rowOptions?: ProvisionOptions;
}

export interface ProvisionBatchInput {
  tenantId: string;
  batchId: string;
  rows: BatchRowRequest[];
  /** Plan only: read the tenant, report what would happen, write nothing. */
  dryRun?: boolean;
  options?: BatchOptions;
  /** Who submitted (a name the caller gives, or the API's record of the caller); for the audit trail. */
  submittedBy?: string;
  submittedAt?: string;
  /**
   * Where to POST a CloudEvent for each row's run (needs attention, end) and for the batch (needs
   * attention, end). In workflow history: no secrets in it.
   */
  notify?: NotifyRequest;
  /** Set by the batch itself when it continues as new: everything it knows so far. */
  carried?: BatchCarriedState;
}

/** What one row would do, found by reading the tenant (dry run and the start of a real run). */
export type RowAction = 'create' | 'adopt' | 'already-provisioned' | 'conflict';

export interface RowProblem {
  type: string;
  /** The row's field (CSV column) to change, or `licenses`. */
  field: string;
  message: string;
}

export interface RowPlan {
  /** 1-based row number, as in the submitted file (the header is row 0 in CSV terms; data rows start at 1). */
  row: number;
  upn: string;
  action: RowAction;
  /** The number the row gets: its own, or the one allocated from the inventory. */
  phoneNumber?: string;
  /** True when the number was allocated from the inventory ("any"). */
  allocated?: boolean;
  /** The existing account's id, when there is one. */
  accountId?: string;
  /** True when a license must be assigned (none held yet). */
  needsLicense: boolean;
  problems: RowProblem[];
}

export interface BatchTotals {
  rows: number;
  byAction: Record<RowAction, number>;
  rowsWithProblems: number;
  licenses: { needed: number; free: number; short: number; skuPartNumber?: string };
  /** Per country: numbers the batch needs ("any" rows and fixed rows not yet on their account) and free service numbers. */
  numbers: Array<{ country: string; needed: number; free: number; short: number }>;
}

export interface BatchPlan {
  rows: RowPlan[];
  totals: BatchTotals;
  /** When the tenant was read. */
  readAt: string;
}

export const ROW_STATES = [
  'pending',
  'running',
  'needs-attention',
  'completed',
  'rolled-back',
  'abandoned',
  'cancelled',
  'failed',
  'skipped',
] as const;
/**
 * pending: not started yet; running: its run is going; needs-attention: its run waits for a decision;
 * completed / rolled-back / abandoned / cancelled: its run ended so; failed: it could not run (its run
 * failed, or the pre-flight plan found a conflict); skipped: the batch was cancelled before it started.
 */
export type RowState = (typeof ROW_STATES)[number];
export const FINISHED_ROW_STATES: readonly RowState[] = ['completed', 'rolled-back', 'abandoned', 'cancelled', 'failed', 'skipped'];
/** Finished rows retry-failed starts again. */
export const RETRYABLE_ROW_STATES: readonly RowState[] = ['rolled-back', 'abandoned', 'cancelled', 'failed', 'skipped'];

export interface BatchRowStatus {
  row: number;
  upn: string;
  state: RowState;
  /** The number the row gets (its own or allocated); absent until allocated. */
  phoneNumber?: string;
  accountId?: string;
  /** The row's run: workflow id (the single-account id) and the run id, once started. */
  workflowId: string;
  runId?: string;
  /** True when a run for this account was already going (a single request, another batch) and the row follows it. */
  joined?: boolean;
  /** The step where the run waits or stopped. */
  step?: string;
  error?: { type: string; message: string };
  /** One line on how the row ended. */
  outcome?: string;
  /** Set once this attempt has counted toward the quarantine ratio (each attempt counts once). */
  counted?: boolean;
  /** Runs started for this row (retry-failed starts another). */
  attempts: number;
  startedAt?: string;
  endedAt?: string;
}

export const BATCH_STATES = [
  'planning',
  'planned',
  'waiting-for-licenses',
  'running',
  'paused',
  'cancelling',
  'completed',
  'completed-with-failures',
  'cancelled',
] as const;
export type BatchState = (typeof BATCH_STATES)[number];
export const TERMINAL_BATCH_STATES: readonly BatchState[] = ['planned', 'completed', 'completed-with-failures', 'cancelled'];

export interface BatchPause {
  by: string;
  at: string;
  reason: string;
  /** True when the batch paused itself (quarantine). */
  quarantine?: boolean;
}

export interface BatchControlRecord {
  action: 'pause' | 'resume' | 'cancel' | 'retry-failed' | 'quarantine' | 'licenses-available' | 'license-purchase';
  by: string;
  at: string;
  reason?: string;
}

export interface BatchProgress {
  batchId: string;
  workflowId: string;
  state: BatchState;
  dryRun: boolean;
  rows: number;
  counts: Record<RowState, number>;
  /** Rows finished per minute over the recent finishes; absent until two rows have finished. */
  ratePerMinute?: number;
  /** Estimated time the remaining rows take at that rate. */
  etaSeconds?: number;
  /** Rows waiting for a decision (at most 50), each with its reason. */
  attention: Array<{ row: number; upn: string; step?: string; error?: { type: string; message: string } }>;
  /** Set while paused: by whom and why. */
  pause?: BatchPause;
  /** Set while waiting for licenses. */
  licenses?: {
    needed: number;
    free: number;
    short: number;
    checks: number;
    lastCheckAt?: string;
    nextCheckAt?: string;
    /** How to get the licenses (the worker's procurement adapter), and the batch's approved purchase. */
    purchase?: LicensePurchaseState;
  };
  /** Batch-wide totals from the plan. */
  totals?: BatchTotals;
  /** One line on what the batch does now, or how it ended. */
  message: string;
  controls: BatchControlRecord[];
  submittedBy?: string;
  startedAt: string;
  endedAt?: string;
  /** Runs of this batch workflow so far (it continues as new to keep its history small). */
  generation: number;
}

/** The batch's result: progress at the end, and for a dry run the plan. */
export interface ProvisionBatchOutput {
  progress: BatchProgress;
  plan?: BatchPlan;
}

export interface BatchCarriedState {
  rows: BatchRowStatus[];
  state: BatchState;
  pause?: BatchPause;
  controls: BatchControlRecord[];
  totals?: BatchTotals;
  /** Finish times (ms) of recently finished rows, for the rate. */
  recentFinishes: number[];
  /** Outcomes (true = failed) of recently finished rows, for quarantine. */
  recentFailures: boolean[];
  cancelInFlight?: boolean;
  startedAt: string;
  generation: number;
  licensesChecked: boolean;
}

// ---- messages -------------------------------------------------------------------------------------

export const getBatchProgressQuery = defineQuery<BatchProgress>('getBatchProgress');

export interface BatchRowsQueryInput {
  state?: RowState;
  /** 0-based offset into the rows in that state (the API's page token). */
  offset?: number;
  limit?: number;
}
export interface BatchRowsPage {
  rows: BatchRowStatus[];
  total: number;
  nextOffset?: number;
}
export const getBatchRowsQuery = defineQuery<BatchRowsPage, [BatchRowsQueryInput]>('getBatchRows');
/** The plan, once made (dry run or the start of a real run). */
export const getBatchPlanQuery = defineQuery<BatchPlan | undefined>('getBatchPlan');

export interface BatchControlInput {
  /** Who and why, for the audit trail. */
  by?: string;
  reason?: string;
}
export interface BatchCancelInput extends BatchControlInput {
  /** Also cancel the rows whose runs are going (they stop where they are and list what they leave). Default false: they finish. */
  inFlight?: boolean;
}
export interface BatchControlOutput {
  state: BatchState;
  /** Rows the action touched (retry-failed: rows started again; cancel: rows skipped). */
  rows?: number;
}
export const pauseBatchUpdate = defineUpdate<BatchControlOutput, [BatchControlInput]>('pauseBatch');
export const resumeBatchUpdate = defineUpdate<BatchControlOutput, [BatchControlInput]>('resumeBatch');
export const cancelBatchUpdate = defineUpdate<BatchControlOutput, [BatchCancelInput]>('cancelBatch');
export const retryFailedRowsUpdate = defineUpdate<BatchControlOutput, [BatchControlInput]>('retryFailedRows');
/** An operator's approval to buy the batch's whole shortfall through Partner Center while it waits for licenses. */
export const approveBatchLicensePurchaseUpdate = defineUpdate<ApproveLicensePurchaseOutput, [ApproveLicensePurchaseInput]>('approveBatchLicensePurchase');

/** Sent by a row's run to its batch when it starts waiting for a decision and when it ends. */
export interface RowReport {
  workflowId: string;
  runId: string;
  state: ProvisioningState;
  step?: string;
  error?: { type: string; message: string };
  accountId?: string;
  outcome?: string;
  at: string;
}
export const rowReportSignal = defineSignal<[RowReport]>('rowReport');

/** A decision sent to many rows at once (by the API, to each row's run). */
export interface BulkDecisionInput {
  decision: Decision;
  reason?: string;
  by?: string;
  /** Only rows whose attention error is of this type (e.g. LicensesInsufficient). */
  errorType?: string;
  /** Only these rows (by UPN). */
  upns?: string[];
}

/** The batch's workflow id: one per tenant and batch id. */
export function batchWorkflowId(tenantId: string, batchId: string): string {
  return `batch:${tenantId.toLowerCase()}:${batchId}`;
}

/** The one line operators see for a batch in the Web UI's list. */
export function batchSummary(input: Pick<ProvisionBatchInput, 'batchId' | 'rows' | 'dryRun'>): string {
  return `${input.dryRun ? 'Dry run of batch' : 'Batch'} ${input.batchId}: ${input.rows.length} resource account${input.rows.length === 1 ? '' : 's'}`;
}
