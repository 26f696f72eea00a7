/**
 * Batches as the API sees them: submit (or plan), read progress and rows, the CSV report, pause /
 * resume / cancel / retry-failed, one decision for many rows, and the list, each over the Temporal
 * client. Routes translate HTTP to these verbs; this is the only place that knows how a batch maps
 * onto workflow ids, updates and queries.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import type { FieldError } from '../../lib/validation';
import type { provisionBatch } from '../../workflows';
import {
  BATCH_STATES,
  BATCH_WORKFLOW_TYPE,
  ROW_STATES,
  batchSummary,
  batchWorkflowId,
  cancelBatchUpdate,
  getBatchPlanQuery,
  getBatchProgressQuery,
  getBatchRowsQuery,
  pauseBatchUpdate,
  resumeBatchUpdate,
  retryFailedRowsUpdate,
} from '../../workflows/provision-batch/definitions';
import type {
  BatchCancelInput,
  BatchControlInput,
  BatchControlOutput,
  BatchOptions,
  BatchProgress,
  BatchRowRequest,
  BatchRowStatus,
  BatchRowsPage,
  BatchState,
  BulkDecisionInput,
  ProvisionBatchInput,
  ProvisionBatchOutput,
  RowState,
} from '../../workflows/provision-batch/definitions';
import { decideUpdate, searchAttributes } from '../../workflows/provision-resource-account/definitions';
import { ApiError, GRPC_DEADLINE_EXCEEDED, grpcCode } from '../errors';
import { DEFAULT_ROWS_PAGE_SIZE, DRY_RUN_PREFIX } from '../schemas/batches';
import type {
  BatchListItem,
  BatchRowItem,
  BatchRowsQuery,
  BatchRowsResponse,
  BatchStatusResponse,
  BulkDecisionResponse,
  ControlResponse,
  ListBatchesQuery,
  ListBatchesResponse,
  SubmitBatchResponse,
} from '../schemas/batches';
import { mapConcurrently } from '../../lib/concurrency';
import { openPageToken, startInput, sealPageToken, statusUrl as accountStatusUrl, timedOut, workerUnavailable } from './resource-accounts';

export { BATCH_WORKFLOW_TYPE };

export interface BatchServiceOptions {
  client: Client;
  tenantId: string;
  taskQueue: string;
  /** How long to wait for a worker to answer a query or an update, in ms. */
  workerTimeoutMs: number;
  /** How long a dry-run submit waits for the plan before it answers 202 with where to read it, in ms. */
  dryRunWaitMs: number;
  temporalUiUrl?: string;
}

/** A submit whose rows and options lib/batch-rows and lib/validation have accepted. */
export interface SubmitBatchRequest {
  rows: BatchRowRequest[];
  options?: BatchOptions;
  /** The caller's own id; else one is derived from the idempotency key, else made up. */
  batchId?: string;
  /** Where the batch and its runs send their events. */
  notify?: { url: string };
  dryRun: boolean;
  idempotencyKey?: string;
  /** The API's record of the caller. */
  submittedBy: string;
}

export interface SubmitBatchResult {
  /** 202 while the batch runs (or the plan is not ready); 200 with the plan, or when an ended batch was submitted again. */
  httpStatus: 200 | 202;
  body: SubmitBatchResponse;
}

export type ControlAction = 'pause' | 'resume' | 'retry-failed' | 'cancel';

const CONTROL_UPDATES = {
  pause: pauseBatchUpdate,
  resume: resumeBatchUpdate,
  'retry-failed': retryFailedRowsUpdate,
  cancel: cancelBatchUpdate,
} as const;

/** Rows read per query for the report and the bulk decision (the workflow's own limit). */
const ROWS_PER_QUERY = 1000;
/** Decisions sent at once by a bulk decision. */
const DECISION_CONCURRENCY = 16;
/** A new random id that collides with an existing batch is drawn again; more than this means something else is wrong. */
const NEW_ID_ATTEMPTS = 3;

export const REPORT_COLUMNS = ['row', 'upn', 'accountId', 'phoneNumber', 'state', 'errorType', 'error', 'outcome'] as const;

export function batchStatusUrl(batchId: string): string {
  return `/v1/batches/${encodeURIComponent(batchId)}`;
}

export class BatchService {
  private readonly client: Client;

  constructor(private readonly options: BatchServiceOptions) {
    this.client = options.client;
  }

  /**
   * Starts the batch (or its dry run). A batch id already used with the same rows and options answers
   * with that batch, never a second one; with other rows or options it is a 409. A dry run waits for
   * its plan up to dryRunWaitMs.
   */
  async submit(request: SubmitBatchRequest): Promise<SubmitBatchResult> {
    const chosen = request.batchId ?? (request.idempotencyKey === undefined ? undefined : keyBatchId(request.idempotencyKey));
    for (let attempt = 1; ; attempt++) {
      const baseId = chosen ?? newBatchId();
      const batchId = request.dryRun ? `${DRY_RUN_PREFIX}${baseId}` : baseId;
      const workflowId = this.workflowId(batchId);
      const input: ProvisionBatchInput = {
        tenantId: this.options.tenantId,
        batchId,
        rows: request.rows,
        ...(request.dryRun ? { dryRun: true } : {}),
        ...(request.options ? { options: request.options } : {}),
        ...(request.notify && !request.dryRun ? { notify: request.notify } : {}),
        submittedBy: request.submittedBy,
        submittedAt: new Date().toISOString(),
      };
      let runId: string;
      let existing = false;
      let open = true;
      try {
        const handle = await this.client.workflow.start<typeof provisionBatch>(BATCH_WORKFLOW_TYPE, {
          workflowId,
          taskQueue: this.options.taskQueue,
          args: [input],
          staticSummary: batchSummary(input),
          // One batch per id, ever: a finished batch is reported, not started again.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: searchAttributes.batchId, value: batchId },
            { key: searchAttributes.state, value: 'planning' },
          ],
        });
        runId = handle.firstExecutionRunId;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        if (chosen === undefined && attempt < NEW_ID_ATTEMPTS) continue;
        const description = await this.client.workflow.getHandle(workflowId).describe();
        await this.refuseIfDifferent(description, input, request);
        runId = description.runId;
        existing = true;
        open = description.status.name === 'RUNNING';
      }
      const links = this.links(batchId, workflowId, runId);
      if (!request.dryRun) return { httpStatus: open ? 202 : 200, body: { ...links, dryRun: false, existing } };
      const output = await this.waitForResult(workflowId, runId);
      if (!output) return { httpStatus: 202, body: { ...links, dryRun: true, existing } };
      return {
        httpStatus: 200,
        body: { ...links, dryRun: true, existing, ...(output.plan ? { plan: output.plan } : {}), progress: output.progress },
      };
    }
  }

  /** The batch's progress: from its result once it has completed, else from the workflow. */
  async status(batchId: string): Promise<BatchStatusResponse> {
    const workflowId = this.workflowId(batchId);
    const description = await this.describe(batchId);
    const handle = this.client.workflow.getHandle<typeof provisionBatch>(workflowId, description.runId);
    const links = this.links(batchId, workflowId, description.runId);
    const workflowStatus = description.status.name;
    if (workflowStatus === 'COMPLETED') {
      const output = await handle.result();
      return { ...output.progress, ...links, ...(output.plan ? { plan: output.plan } : {}), workflowStatus, source: 'result' };
    }
    try {
      const progress = await this.withWorker(() => handle.query(getBatchProgressQuery), 'read the batch\'s progress');
      const plan = progress.dryRun ? await this.withWorker(() => handle.query(getBatchPlanQuery), 'read the plan') : undefined;
      return { ...progress, ...links, ...(plan ? { plan } : {}), workflowStatus, source: 'workflow' };
    } catch (err) {
      if (workflowStatus === 'RUNNING' || err instanceof WorkflowNotFoundError) throw err;
      // A batch workflow that failed before it could answer (e.g. its input was refused).
      const failure = await handle.result().then(
        () => undefined,
        (failed: unknown) => (failed instanceof WorkflowFailedError ? (failed.cause?.message ?? failed.message) : undefined),
      );
      const note = `the batch workflow ended ${workflowStatus}${failure ? `: ${failure}` : ''}; it could not report its progress (${err instanceof Error ? err.message : String(err)})`;
      return { ...(await this.fallbackProgress(description, note)), ...links, workflowStatus, source: 'fallback', note };
    }
  }

  /** One page of the batch's rows, in file order; the page token is the offset, sealed to the filter. */
  async rows(batchId: string, query: BatchRowsQuery): Promise<BatchRowsResponse> {
    const pageSize = query.pageSize ?? DEFAULT_ROWS_PAGE_SIZE;
    const seal = `${batchId}\n${query.state ?? ''}`;
    const offset = query.nextPageToken === undefined ? 0 : decodeOffset(openPageToken(query.nextPageToken, seal));
    const handle = await this.handle(batchId);
    const page = await this.rowsPage(handle, { offset, limit: pageSize, ...(query.state ? { state: query.state } : {}) });
    return {
      batchId,
      items: page.rows.map(rowItem),
      total: page.total,
      ...(page.nextOffset === undefined ? {} : { nextPageToken: sealPageToken(encodeOffset(page.nextOffset), seal) }),
    };
  }

  /** Every row as CSV (RFC 4180), read from the workflow a thousand rows at a time. */
  async report(batchId: string): Promise<string> {
    const handle = await this.handle(batchId);
    const lines = [REPORT_COLUMNS.join(',')];
    for (const row of await this.allRows(handle)) lines.push(reportLine(row));
    return `${lines.join('\r\n')}\r\n`;
  }

  /**
   * Pause, resume, retry-failed or cancel, as the workflow's update: a refusal by its validator is a
   * 409 with its message. The idempotency key is the update's id, so a repeat answers as the first did.
   */
  async control(batchId: string, action: ControlAction, input: BatchControlInput | BatchCancelInput, idempotencyKey?: string): Promise<ControlResponse> {
    const description = await this.describe(batchId);
    if (description.status.name !== 'RUNNING') {
      throw new ApiError(409, 'invalid_state', `cannot ${action}: the batch has ended (${description.status.name})`);
    }
    const handle = this.client.workflow.getHandle(this.workflowId(batchId), description.runId);
    const update = CONTROL_UPDATES[action];
    let output: BatchControlOutput;
    try {
      output = await this.withWorker(
        () => handle.executeUpdate(update, { args: [input], updateId: idempotencyKey ?? randomUUID() }),
        `${action} the batch`,
      );
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new ApiError(409, 'invalid_state', `${action} refused: ${err.cause?.message ?? err.message}`);
      }
      if (err instanceof WorkflowNotFoundError) {
        throw new ApiError(409, 'invalid_state', `cannot ${action}: the batch has ended`);
      }
      throw err;
    }
    return { batchId, state: output.state, ...(output.rows === undefined ? {} : { rows: output.rows }), statusUrl: batchStatusUrl(batchId) };
  }

  /**
   * One decision for every row waiting for one (optionally only rows of an error type, or named
   * UPNs), sent to each row's run as its own `decide` update, a few at a time. A row's refusal is
   * listed, not a failure of the request.
   */
  async decide(batchId: string, input: BulkDecisionInput, idempotencyKey?: string): Promise<BulkDecisionResponse> {
    const handle = await this.handle(batchId);
    const waiting = await this.allRows(handle, 'needs-attention');
    const named = input.upns === undefined ? undefined : new Set(input.upns.map((upn) => upn.toLowerCase()));
    const chosen = waiting.filter(
      (row) => (named === undefined || named.has(row.upn.toLowerCase())) && (input.errorType === undefined || row.error?.type === input.errorType),
    );
    const refused: BulkDecisionResponse['refused'] = [];
    if (named) {
      const found = new Set(waiting.map((row) => row.upn.toLowerCase()));
      for (const upn of input.upns ?? []) {
        if (!found.has(upn.toLowerCase())) refused.push({ upn, message: 'not among the rows of this batch waiting for a decision' });
      }
    }
    const decision = {
      decision: input.decision,
      ...(input.reason === undefined ? {} : { reason: input.reason }),
      ...(input.by === undefined ? {} : { by: input.by }),
    };
    const outcomes = await mapConcurrently(chosen, DECISION_CONCURRENCY, async (row): Promise<string | undefined> => {
      const run = this.client.workflow.getHandle(row.workflowId, row.runId);
      const updateId = idempotencyKey === undefined ? randomUUID() : `${idempotencyKey}:${row.upn.toLowerCase()}`;
      try {
        await this.withWorker(() => run.executeUpdate(decideUpdate, { args: [decision], updateId }), 'take the decision');
        return undefined;
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) return `decision refused: ${err.cause?.message ?? err.message}`;
        if (err instanceof WorkflowNotFoundError) return 'decision refused: the run has finished; no decision is pending';
        if (err instanceof ApiError && err.code === 'worker_unavailable') return err.message;
        throw err;
      }
    });
    const decided: string[] = [];
    chosen.forEach((row, i) => {
      const message = outcomes[i];
      if (message === undefined) decided.push(row.upn);
      else refused.push({ upn: row.upn, message });
    });
    return { batchId, decided, refused };
  }

  /** Batches from Temporal's visibility store (eventually consistent), open ones first. */
  async list(query: ListBatchesQuery): Promise<ListBatchesResponse> {
    // A batch continues as new to keep its history small: its earlier runs are not batches of their own.
    const visibilityQuery = `WorkflowType = '${BATCH_WORKFLOW_TYPE}' AND ExecutionStatus != 'ContinuedAsNew'`;
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.client.options.namespace,
      query: visibilityQuery,
      pageSize: query.pageSize ?? 50,
      nextPageToken: query.nextPageToken === undefined ? undefined : openPageToken(query.nextPageToken, visibilityQuery),
    });
    const runs = await Promise.all(
      response.executions.map((raw) => executionInfoFromRaw(raw, this.client.options.loadedDataConverter, raw, this.client.options.namespace)),
    );
    const items = runs.map((run): BatchListItem => {
      const batchId = run.typedSearchAttributes.get(searchAttributes.batchId) ?? run.workflowId.slice(run.workflowId.lastIndexOf(':') + 1);
      const state = batchState(run.typedSearchAttributes.get(searchAttributes.state));
      return {
        batchId,
        workflowId: run.workflowId,
        runId: run.runId,
        dryRun: batchId.startsWith(DRY_RUN_PREFIX),
        ...(state ? { state } : {}),
        workflowStatus: run.status.name,
        startedAt: run.startTime.toISOString(),
        ...(run.closeTime ? { closedAt: run.closeTime.toISOString() } : {}),
        statusUrl: batchStatusUrl(batchId),
      };
    });
    const token = response.nextPageToken;
    return { items, ...(token && token.length > 0 ? { nextPageToken: sealPageToken(token, visibilityQuery) } : {}) };
  }

  private workflowId(batchId: string): string {
    return batchWorkflowId(this.options.tenantId, batchId);
  }

  private async describe(batchId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.client.workflow.getHandle(this.workflowId(batchId)).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', `no batch ${batchId}: GET /v1/batches lists the batches`);
      throw err;
    }
  }

  private async handle(batchId: string): Promise<WorkflowHandle<typeof provisionBatch>> {
    const description = await this.describe(batchId);
    return this.client.workflow.getHandle<typeof provisionBatch>(this.workflowId(batchId), description.runId);
  }

  /** A call the worker must answer (a query or an update), bounded by workerTimeoutMs. */
  private async withWorker<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await this.client.withDeadline(Date.now() + this.options.workerTimeoutMs, fn);
    } catch (err) {
      if (timedOut(err)) throw workerUnavailable(this.options.workerTimeoutMs, what);
      throw err;
    }
  }

  private rowsPage(handle: WorkflowHandle<typeof provisionBatch>, query: { state?: RowState; offset: number; limit: number }): Promise<BatchRowsPage> {
    return this.withWorker(() => handle.query(getBatchRowsQuery, query), "read the batch's rows");
  }

  private async allRows(handle: WorkflowHandle<typeof provisionBatch>, state?: RowState): Promise<BatchRowStatus[]> {
    const rows: BatchRowStatus[] = [];
    for (let offset: number | undefined = 0; offset !== undefined; ) {
      const page = await this.rowsPage(handle, { offset, limit: ROWS_PER_QUERY, ...(state ? { state } : {}) });
      rows.push(...page.rows);
      offset = page.nextOffset;
    }
    return rows;
  }

  /** The dry run's output, when it ends within dryRunWaitMs; undefined when it is still planning. */
  private async waitForResult(workflowId: string, runId: string): Promise<ProvisionBatchOutput | undefined> {
    const wait = this.options.dryRunWaitMs;
    if (wait === 0) return undefined;
    const handle = this.client.workflow.getHandle<typeof provisionBatch>(workflowId, runId);
    try {
      return await this.client.withDeadline(Date.now() + wait, () => handle.result());
    } catch (err) {
      if (timedOut(err) || grpcCode(err) === GRPC_DEADLINE_EXCEEDED) return undefined;
      if (err instanceof WorkflowFailedError) {
        throw new ApiError(409, 'invalid_state', `the dry run failed: ${err.cause?.message ?? err.message}`);
      }
      throw err;
    }
  }

  /** The batch's input, from its current run's history (no worker needed). */
  private runInput(workflowId: string, runId: string): Promise<ProvisionBatchInput> {
    return startInput<ProvisionBatchInput>(this.client, workflowId, runId);
  }

  private async refuseIfDifferent(description: WorkflowExecutionDescription, input: ProvisionBatchInput, request: SubmitBatchRequest): Promise<void> {
    const existing = await this.runInput(description.workflowId, description.runId);
    const details = differences(existing, input);
    if (details.length === 0) return;
    const source = request.batchId !== undefined ? `batch id ${request.batchId}` : 'this Idempotency-Key';
    throw new ApiError(
      409,
      'conflict',
      `${source} was used for batch ${input.batchId} with other ${details.map((d) => d.field).join(' and ')}: ` +
        'send the same rows and options to follow that batch, or use a new batch id or key for a new batch',
      details,
    );
  }

  /** What is known without the workflow: the input's row count and the state it last reported. */
  private async fallbackProgress(description: WorkflowExecutionDescription, note: string): Promise<BatchProgress> {
    const input = await this.runInput(description.workflowId, description.runId);
    const counts = Object.fromEntries(ROW_STATES.map((state) => [state, 0])) as Record<RowState, number>;
    return {
      batchId: input.batchId,
      workflowId: description.workflowId,
      state: batchState(description.typedSearchAttributes.get(searchAttributes.state)) ?? 'planning',
      dryRun: input.dryRun === true,
      rows: input.rows.length,
      counts,
      attention: [],
      message: note,
      controls: [],
      ...(input.submittedBy ? { submittedBy: input.submittedBy } : {}),
      startedAt: description.startTime.toISOString(),
      ...(description.closeTime ? { endedAt: description.closeTime.toISOString() } : {}),
      generation: 0,
    };
  }

  private links(batchId: string, workflowId: string, runId: string) {
    const statusUrl = batchStatusUrl(batchId);
    const base = this.options.temporalUiUrl;
    const namespace = encodeURIComponent(this.client.options.namespace);
    return {
      batchId,
      workflowId,
      statusUrl,
      rowsUrl: `${statusUrl}/rows`,
      reportUrl: `${statusUrl}/report.csv`,
      ...(base ? { temporalUiUrl: `${base}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}/${runId}/user-metadata` } : {}),
    };
  }
}

function batchState(value: string | undefined): BatchState | undefined {
  return (BATCH_STATES as readonly string[]).includes(value ?? '') ? (value as BatchState) : undefined;
}

/** A batch id from an idempotency key: the same key names the same batch. */
function keyBatchId(key: string): string {
  return `k-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 24)}`;
}

/** `b-20260115-3f9a1c`: the day it was submitted, and six random hex digits. */
function newBatchId(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return `b-${day}-${randomBytes(3).toString('hex')}`;
}

/** JSON with object keys sorted, so options compare by value whatever order they were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

function differences(existing: ProvisionBatchInput, input: ProvisionBatchInput): FieldError[] {
  const details: FieldError[] = [];
  if (existing.rows.length !== input.rows.length) {
    details.push({ field: 'rows', message: `the existing batch has ${existing.rows.length} rows; this request has ${input.rows.length}` });
  } else {
    const first = input.rows.findIndex((row, i) => canonical(row) !== canonical(existing.rows[i]));
    if (first >= 0) details.push({ field: 'rows', message: `row ${first + 1} differs from the existing batch's row ${first + 1} (the first that does)` });
  }
  if (canonical(existing.options ?? {}) !== canonical(input.options ?? {})) {
    details.push({ field: 'options', message: `the existing batch has options ${canonical(existing.options ?? {})}; this request has ${canonical(input.options ?? {})}` });
  }
  if ((existing.notify?.url ?? '') !== (input.notify?.url ?? '')) {
    details.push({ field: 'notify', message: 'the existing batch was submitted with another notify.url (or none): send the same one, or submit under a new batch id' });
  }
  return details;
}

function encodeOffset(offset: number): Buffer {
  return Buffer.from(String(offset), 'utf8');
}

function decodeOffset(token: Buffer): number {
  const offset = Number(token.toString('utf8'));
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new ApiError(400, 'invalid_request', 'nextPageToken is not valid for this list', [
      { field: 'nextPageToken', message: 'pass the nextPageToken of the previous page unchanged, with the same state filter, or leave it out for the first page' },
    ]);
  }
  return offset;
}

function rowItem({ counted: _counted, ...row }: BatchRowStatus): BatchRowItem {
  return { ...row, statusUrl: accountStatusUrl(row.upn.toLowerCase()) };
}

/**
 * A cell as RFC 4180 writes it: quoted when it holds a comma, quote or line break. A free-text cell
 * that a spreadsheet would read as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe
 * (OWASP's CSV-injection advice). `+` is included for the free-text columns because a cell such as
 * `+cmd|…` runs as a formula; the phone-number column is never touched, so +1206… stays a number.
 */
function cell(value: string | number | undefined, freeText = false): string {
  let text = value === undefined ? '' : String(value);
  if (freeText && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function reportLine(row: BatchRowStatus): string {
  return [
    cell(row.row),
    cell(row.upn, true),
    cell(row.accountId),
    cell(row.phoneNumber),
    cell(row.state),
    cell(row.error?.type, true),
    cell(row.error?.message, true),
    cell(row.outcome, true),
  ].join(',');
}
