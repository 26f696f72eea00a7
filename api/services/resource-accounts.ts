/**
 * Resource-account runs as the API sees them: submit, read, decide, cancel and list, each over the
 * Temporal client. Routes translate HTTP to these verbs; this is the only place that knows how a
 * request maps onto workflow ids, start policies and search attributes.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcCancelledError,
  isGrpcDeadlineError,
} from '@temporalio/client';
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo, WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import type { FieldError } from '../../lib/validation';
import { CONFIGURATION_TYPE_FOR_KIND } from '../../lib/validation';
import type { provisionResourceAccount } from '../../workflows';
import {
  decideUpdate,
  getStatusQuery,
  resourceAccountWorkflowId,
  PROVISIONING_STATES,
  PROVISION_WORKFLOW_TYPE,
  TERMINAL_STATES,
  differingRequestFields,
  provisioningDetails,
  provisioningSummary,
  searchAttributes,
} from '../../workflows/provision-resource-account/definitions';
import type {
  DecisionInput,
  ProvisionResourceAccountInput,
  ProvisionResourceAccountStatus,
  ProvisioningState,
} from '../../workflows/provision-resource-account/definitions';
import { mapConcurrently } from '../../lib/concurrency';
import { ApiError, GRPC_FAILED_PRECONDITION, grpcCode, truncated } from '../errors';
import type {
  AccountStatusResponse,
  CancelResponse,
  CreateResourceAccountBody,
  DecisionResponse,
  ListItem,
  ListQuery,
  ListResponse,
  PendingActivity,
  RunItem,
  RunsQuery,
  RunsResponse,
  SubmitResponse,
  WorkflowTaskFailure,
} from '../schemas/resource-accounts';
import { DEFAULT_PAGE_SIZE } from '../schemas/resource-accounts';

/** The registered workflow type; the workflow itself is imported as a type only. */
export { PROVISION_WORKFLOW_TYPE };

export interface ResourceAccountServiceOptions {
  client: Client;
  tenantId: string;
  taskQueue: string;
  /** How long to wait for a worker to answer a query or an update, in ms. */
  workerTimeoutMs: number;
  temporalUiUrl?: string;
}

export interface SubmitResult {
  /** 202 when the request started or joined a run in progress; 200 when the account was already provisioned. */
  httpStatus: 200 | 202;
  body: SubmitResponse;
}


/** The account id in URLs is its UPN, compared case-insensitively as Entra does. */
export function resourceAccountId(upn: string): string {
  return upn.toLowerCase();
}

export function statusUrl(id: string, runId?: string): string {
  const url = `/v1/resource-accounts/${encodeURIComponent(id)}`;
  return runId === undefined ? url : `${url}?runId=${encodeURIComponent(runId)}`;
}

/** How many runs a list page describes at once to find each account's latest run. */
const DESCRIBE_CONCURRENCY = 16;

/** A start that races a closing run looks again; more tries than this means something else is wrong. */
const START_ATTEMPTS = 3;

/** How many of a run's last events are searched for the failure of its workflow task. */
const WORKFLOW_TASK_EVENTS_SCANNED = 50;

export class ResourceAccountService {
  private readonly client: Client;

  constructor(private readonly options: ResourceAccountServiceOptions) {
    this.client = options.client;
  }

  /**
   * Starts provisioning, or joins the run already in progress for the same account. A completed
   * account is reported, not provisioned again; one whose latest run ended any other way (rolled
   * back, abandoned, cancelled, failed, terminated, timed out) is provisioned by a new run.
   */
  async submit(body: CreateResourceAccountBody): Promise<SubmitResult> {
    const id = resourceAccountId(body.upn);
    const workflowId = this.workflowId(id);
    const input: ProvisionResourceAccountInput = {
      tenantId: this.options.tenantId,
      upn: body.upn,
      displayName: body.displayName,
      kind: body.kind,
      usageLocation: body.usageLocation,
      phoneNumber: body.phoneNumber,
      phoneNumberType: 'callingPlan',
      ...(body.association ? { association: { ...body.association, configurationType: body.association.configurationType ?? CONFIGURATION_TYPE_FOR_KIND[body.kind] } } : {}),
      ...(body.options ? { options: body.options } : {}),
      ...(body.notify ? { notify: { url: body.notify.url } } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      // Temporal's reuse policies cannot tell a completed account from a rolled-back one (both runs may
      // complete), so decide from the latest run. Start's answer does not say whether it joined a run
      // either: the same run id before and after means this request joined it.
      const latest = await this.describeIfExists(workflowId);
      const open = latest?.status.name === 'RUNNING';
      if (latest && !open && (await this.finalState(latest)) === 'completed') {
        await this.refuseIfDifferent(workflowId, latest.runId, input, 'already provisioned');
        return { httpStatus: 200, body: this.submitBody(id, workflowId, latest.runId, 'completed', true) };
      }
      let runId: string;
      try {
        const handle = await this.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
          workflowId,
          taskQueue: this.options.taskQueue,
          args: [input],
          staticSummary: provisioningSummary(input),
          staticDetails: provisioningDetails(input),
          workflowIdConflictPolicy: 'USE_EXISTING',
          // A run seen open is joined, never replaced: should it close meanwhile (perhaps completed),
          // the start is refused and the loop looks again.
          workflowIdReusePolicy: open ? 'REJECT_DUPLICATE' : 'ALLOW_DUPLICATE',
          typedSearchAttributes: [
            { key: searchAttributes.upn, value: id },
            { key: searchAttributes.phoneNumber, value: body.phoneNumber },
            { key: searchAttributes.state, value: 'running' },
          ],
        });
        runId = handle.firstExecutionRunId;
      } catch (err) {
        if (open && err instanceof WorkflowExecutionAlreadyStartedError && attempt < START_ATTEMPTS) continue;
        throw err;
      }
      const joined = open && latest.runId === runId;
      // Always compare with the run's own input: a concurrent request may have started it just now.
      await this.refuseIfDifferent(workflowId, runId, input, 'in progress');
      const state = joined ? (reportedState(latest) ?? 'running') : 'running';
      return { httpStatus: 202, body: this.submitBody(id, workflowId, runId, state, joined) };
    }
  }

  /**
   * A run's status from the workflow itself, enriched with what Temporal knows about its activities:
   * the account's latest run, or the run `runId` of this account.
   */
  async status(upn: string, runId?: string): Promise<AccountStatusResponse> {
    const id = resourceAccountId(upn);
    const workflowId = this.workflowId(id);
    let description: WorkflowExecutionDescription;
    try {
      description = await this.client.workflow.getHandle(workflowId, runId).describe();
    } catch (err) {
      if (runId !== undefined && err instanceof WorkflowNotFoundError) {
        throw new ApiError(404, 'not_found', `${runId} is not a run of ${id}: ${statusUrl(id)}/runs lists its runs`);
      }
      throw err;
    }
    const handle = this.client.workflow.getHandle<typeof provisionResourceAccount>(workflowId, description.runId);
    const taskFailure = await this.workflowTaskFailure(description);
    const found = await this.readStatus(handle, description, taskFailure);
    return {
      ...found.status,
      id,
      runId: description.runId,
      workflowStatus: description.status.name,
      pendingActivities: pendingActivities(description),
      ...(taskFailure ? { workflowTaskFailure: taskFailure } : {}),
      source: found.source,
      ...(found.note ? { note: found.note } : {}),
      ...this.uiLink(workflowId, description.runId),
    };
  }

  /**
   * Sends an operator's decision to the run waiting for one. The idempotency key is the update's id,
   * so Temporal takes a decision once per key on the run and answers a repeat with the first outcome.
   */
  async decide(upn: string, decision: DecisionInput, idempotencyKey?: string): Promise<DecisionResponse> {
    const id = resourceAccountId(upn);
    const workflowId = this.workflowId(id);
    const handle = this.client.workflow.getHandle(workflowId);
    const updateId = idempotencyKey ?? randomUUID();
    // A run that cannot run its code would hold the decision until its worker is fixed and take it
    // then, unannounced; it is refused now, saying what to fix.
    await this.refuseIfWorkflowTaskFailing(await handle.describe(), 'take the decision');
    try {
      const output = await this.client.withDeadline(Date.now() + this.options.workerTimeoutMs, () =>
        handle.executeUpdate(decideUpdate, { args: [decision], updateId }),
      );
      return { id, workflowId, accepted: true, state: output.state, statusUrl: statusUrl(id) };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        // The workflow's validator refused: its message says why (e.g. no decision is pending).
        throw new ApiError(409, 'invalid_state', `decision refused: ${err.cause?.message ?? err.message}`);
      }
      if (err instanceof WorkflowNotFoundError) {
        // Either no such run (describe throws, a 404) or it has finished and takes no more decisions.
        const description = await handle.describe();
        throw new ApiError(409, 'invalid_state', `decision refused: the run has finished (${description.status.name}); no decision is pending`);
      }
      if (timedOut(err) || grpcCode(err) === GRPC_FAILED_PRECONDITION) {
        // Temporal refuses an update to a run whose workflow task keeps failing; it may have begun to
        // fail since it was looked at.
        await this.refuseIfWorkflowTaskFailing(await handle.describe(), 'take the decision');
      }
      if (timedOut(err)) throw workerUnavailable(this.options.workerTimeoutMs, 'take the decision');
      throw err;
    }
  }

  async cancel(upn: string): Promise<CancelResponse> {
    const id = resourceAccountId(upn);
    const workflowId = this.workflowId(id);
    const description = await this.client.workflow.getHandle(workflowId).describe();
    if (description.status.name !== 'RUNNING') {
      // Temporal accepts a cancel of a closed run silently; say plainly that nothing will happen.
      throw new ApiError(409, 'invalid_state', `the run has already finished (${description.status.name}); there is nothing to cancel`);
    }
    // Temporal would accept the cancel, but the run could not act on it until its worker is fixed.
    await this.refuseIfWorkflowTaskFailing(description, 'cancel the run');
    await this.client.workflow.getHandle(workflowId, description.runId).cancel();
    return { ...this.links(id, workflowId, description.runId), cancelRequested: true };
  }

  /**
   * Accounts, one item each for its latest run (open runs first, then the most recently closed),
   * from Temporal's visibility store (eventually consistent). Visibility holds every run, so each run
   * on the page is checked against its workflow's latest run now: a superseded run is left out, as
   * is one whose account has since left the state filtered on.
   */
  async list(query: ListQuery): Promise<ListResponse> {
    const filters = [`WorkflowType = '${PROVISION_WORKFLOW_TYPE}'`];
    if (query.state) filters.push(`${searchAttributes.state.name} = '${query.state}'`);
    const page = await this.visibilityPage(filters.join(' AND '), query);
    const workflowIds = [...new Set(page.runs.map((run) => run.workflowId))];
    const descriptions = await mapConcurrently(workflowIds, DESCRIBE_CONCURRENCY, (workflowId) => this.describeIfExists(workflowId));
    const latest = new Map(workflowIds.map((workflowId, i) => [workflowId, descriptions[i]]));
    const items = page.runs.flatMap((run) => {
      const current = latest.get(run.workflowId);
      if (!current || current.runId !== run.runId) return [];
      if (query.state && reportedState(current) !== query.state) return [];
      return [this.listItem(current)];
    });
    return { items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
  }

  /** Every run of one account, newest first, from Temporal's visibility store (eventually consistent). */
  async runs(upn: string, query: RunsQuery): Promise<RunsResponse> {
    const id = resourceAccountId(upn);
    const workflowId = this.workflowId(id);
    const page = await this.visibilityPage(
      `WorkflowType = '${PROVISION_WORKFLOW_TYPE}' AND WorkflowId = ${visibilityString(workflowId)}`,
      query,
    );
    const items = page.runs.map((run) => this.runItem(id, run));
    if (items.length === 0 && query.nextPageToken === undefined) {
      // Visibility trails the runs by a moment: describe finds a run started just now, and an
      // account that never ran is a 404.
      items.push(this.runItem(id, await this.client.workflow.getHandle(workflowId).describe()));
    }
    return { id, workflowId, items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
  }

  /** One page of runs matching a visibility query; the page token is sealed to that query. */
  private async visibilityPage(
    visibilityQuery: string,
    paging: { pageSize?: number; nextPageToken?: string },
  ): Promise<{ runs: WorkflowExecutionInfo[]; nextPageToken?: string }> {
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.client.options.namespace,
      query: visibilityQuery,
      pageSize: paging.pageSize ?? DEFAULT_PAGE_SIZE,
      nextPageToken: paging.nextPageToken === undefined ? undefined : openPageToken(paging.nextPageToken, visibilityQuery),
    });
    const runs = await Promise.all(
      response.executions.map((raw) => executionInfoFromRaw(raw, this.client.options.loadedDataConverter, raw, this.client.options.namespace)),
    );
    const token = response.nextPageToken;
    return { runs, ...(token && token.length > 0 ? { nextPageToken: sealPageToken(token, visibilityQuery) } : {}) };
  }

  private workflowId(id: string): string {
    return resourceAccountWorkflowId(this.options.tenantId, id);
  }

  private async describeIfExists(workflowId: string): Promise<WorkflowExecutionDescription | undefined> {
    try {
      return await this.client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** The input a run was started with (no worker needed). */
  private runInput(workflowId: string, runId: string): Promise<ProvisionResourceAccountInput> {
    return startInput<ProvisionResourceAccountInput>(this.client, workflowId, runId);
  }

  /**
   * A closed run's final state: the one it last reported, else its result's (a run that completes
   * returns its status, whether it provisioned the account or was rolled back or abandoned).
   */
  private async finalState(description: WorkflowExecutionDescription): Promise<ProvisioningState | undefined> {
    const reported = reportedState(description);
    if (reported && TERMINAL_STATES.includes(reported)) return reported;
    if (description.status.name !== 'COMPLETED') return reported;
    const result = await this.client.workflow.getHandle<typeof provisionResourceAccount>(description.workflowId, description.runId).result();
    return result.state;
  }

  private async refuseIfDifferent(
    workflowId: string,
    runId: string,
    input: ProvisionResourceAccountInput,
    what: 'in progress' | 'already provisioned',
  ): Promise<void> {
    const existing = await this.runInput(workflowId, runId);
    const differing = differingRequestFields(existing, input);
    if (differing.length === 0) return;
    const details: FieldError[] = differing.map((field) => ({
      field,
      message: `the existing run has ${field} ${JSON.stringify(existing[field] ?? null)}; this request has ${JSON.stringify(input[field] ?? null)}`,
    }));
    const remedy =
      what === 'in progress'
        ? 'send the same values to follow that run, or cancel it and send this request again'
        : 'Dialtone does not change a provisioned account: change it in Teams, or choose another UPN';
    throw new ApiError(409, 'conflict', `${input.upn} is ${what} with different values (${details.map((d) => d.field).join(', ')}); ${remedy}`, details);
  }

  private async readStatus(
    handle: WorkflowHandle<typeof provisionResourceAccount>,
    description: WorkflowExecutionDescription,
    taskFailure: WorkflowTaskFailure | undefined,
  ): Promise<{ status: ProvisionResourceAccountStatus; source: AccountStatusResponse['source']; note?: string }> {
    const workflowStatus = description.status.name;
    // A closed run's final status is in its history: no worker needed.
    if (workflowStatus === 'COMPLETED') return { status: await handle.result(), source: 'result' };
    if (workflowStatus === 'FAILED') {
      const final = await handle.result().then(
        () => undefined,
        (err: unknown) => statusFromFailure(err),
      );
      if (final) return { status: final, source: 'result' };
    }
    // Temporal answers no query for a run whose workflow task keeps failing.
    if (taskFailure) return { status: await this.fallbackStatus(description), source: 'fallback', note: workflowTaskNote(taskFailure) };
    try {
      const status = await this.client.withDeadline(Date.now() + this.options.workerTimeoutMs, () => handle.query(getStatusQuery));
      return { status, source: 'workflow' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw err;
      const note = timedOut(err)
        ? `no worker answered the status query within ${this.options.workerTimeoutMs} ms: is the Dialtone worker running on task queue ${description.taskQueue}?`
        : `the workflow could not answer the status query: ${err instanceof Error ? err.message : String(err)}`;
      return { status: await this.fallbackStatus(description), source: 'fallback', note };
    }
  }

  /**
   * Whether the run's workflow task keeps failing (its code throws, or no longer replays its history),
   * and why: Temporal retries it, and until it succeeds the run answers no query, decision or cancel.
   */
  private async workflowTaskFailure(description: WorkflowExecutionDescription): Promise<WorkflowTaskFailure | undefined> {
    const pending = description.raw.pendingWorkflowTask;
    const attempt = pending?.attempt ?? 0;
    if (description.status.name !== 'RUNNING' || attempt <= 1) return undefined;
    const since = optionalTsToDate(pending?.originalScheduledTime);
    return { attempt, ...(since ? { since: since.toISOString() } : {}), ...(await this.lastWorkflowTaskFailure(description)) };
  }

  /** The last workflow-task failure in the run's history (Temporal records the first of a series of attempts). */
  private async lastWorkflowTaskFailure(description: WorkflowExecutionDescription): Promise<Pick<WorkflowTaskFailure, 'message' | 'cause'>> {
    const { history } = await this.client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: this.client.options.namespace,
      execution: { workflowId: description.workflowId, runId: description.runId },
      maximumPageSize: WORKFLOW_TASK_EVENTS_SCANNED,
    });
    for (const event of history?.events ?? []) {
      const failed = event.workflowTaskFailedEventAttributes;
      if (failed) {
        const cause = WORKFLOW_TASK_FAILED_CAUSES[failed.cause ?? 0];
        return { message: firstLine(failed.failure?.message ?? ''), ...(cause ? { cause } : {}) };
      }
      if (event.workflowTaskTimedOutEventAttributes) {
        return { message: 'the workflow task timed out: a worker took it and did not complete it in time' };
      }
    }
    return { message: `no workflow-task failure among the run's last ${WORKFLOW_TASK_EVENTS_SCANNED} events` };
  }

  private async refuseIfWorkflowTaskFailing(description: WorkflowExecutionDescription, what: string): Promise<void> {
    const failure = await this.workflowTaskFailure(description);
    if (failure) throw new ApiError(503, 'workflow_task_failing', `cannot ${what}: ${workflowTaskNote(failure)}`);
  }

  /** What is known without the workflow: its request, the state it last reported, its times. */
  private async fallbackStatus(description: WorkflowExecutionDescription): Promise<ProvisionResourceAccountStatus> {
    const request = await this.runInput(description.workflowId, description.runId);
    return {
      workflowId: description.workflowId,
      state: reportedState(description) ?? 'running',
      steps: [],
      request,
      decisions: [],
      startedAt: description.startTime.toISOString(),
      ...(description.closeTime ? { endedAt: description.closeTime.toISOString() } : {}),
    };
  }

  private runItem(id: string, info: RunInfo): RunItem {
    const state = reportedState(info);
    return {
      runId: info.runId,
      ...(state ? { state } : {}),
      workflowStatus: info.status.name,
      startedAt: info.startTime.toISOString(),
      ...(info.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
      statusUrl: statusUrl(id, info.runId),
    };
  }

  private listItem(info: RunInfo): ListItem {
    const upn = info.typedSearchAttributes.get(searchAttributes.upn);
    const id = upn ?? info.workflowId.slice(info.workflowId.lastIndexOf(':') + 1);
    const state = reportedState(info);
    const step = info.typedSearchAttributes.get(searchAttributes.step);
    const phoneNumber = info.typedSearchAttributes.get(searchAttributes.phoneNumber);
    return {
      id,
      workflowId: info.workflowId,
      runId: info.runId,
      ...(state ? { state } : {}),
      ...(step ? { currentStep: step } : {}),
      ...(phoneNumber ? { phoneNumber } : {}),
      workflowStatus: info.status.name,
      startedAt: info.startTime.toISOString(),
      ...(info.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
      statusUrl: statusUrl(id),
    };
  }

  private submitBody(id: string, workflowId: string, runId: string, state: ProvisioningState, existing: boolean): SubmitResponse {
    return { ...this.links(id, workflowId, runId), state, existing };
  }

  private links(id: string, workflowId: string, runId: string) {
    return { id, workflowId, runId, statusUrl: statusUrl(id), ...this.uiLink(workflowId, runId) };
  }

  private uiLink(workflowId: string, runId: string): { temporalUiUrl?: string } {
    const base = this.options.temporalUiUrl;
    if (!base) return {};
    const namespace = encodeURIComponent(this.client.options.namespace);
    return { temporalUiUrl: `${base}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}/${runId}/user-metadata` };
  }
}


/** What a listed run and a described one have in common. */
type RunInfo = Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'status' | 'startTime' | 'closeTime' | 'typedSearchAttributes'>;

/** The state the workflow last wrote to its search attribute, when it is one we know. */
function reportedState(info: RunInfo): ProvisioningState | undefined {
  const value = info.typedSearchAttributes.get(searchAttributes.state);
  return (PROVISIONING_STATES as readonly string[]).includes(value ?? '') ? (value as ProvisioningState) : undefined;
}

/** The input a run was started with, from the first event of its history (no worker needed). */
export async function startInput<T>(client: Client, workflowId: string, runId: string): Promise<T> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const payloads = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
  return decodeFromPayloadsAtIndex<T>(client.options.loadedDataConverter, 0, payloads);
}

/** A string literal for a visibility query: quotes and backslashes escaped (a UPN may hold an apostrophe). */
export function visibilityString(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * Runs that ended rolled back or abandoned before those outcomes completed the workflow failed with
 * their final status as the failure's first detail.
 */
function statusFromFailure(err: unknown): ProvisionResourceAccountStatus | undefined {
  if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) return undefined;
  const detail: unknown = err.cause.details?.[0];
  if (typeof detail !== 'object' || detail === null) return undefined;
  return 'workflowId' in detail && 'state' in detail && 'steps' in detail && 'request' in detail
    ? (detail as ProvisionResourceAccountStatus)
    : undefined;
}

const ACTIVITY_STATES: Record<number, string> = { 1: 'scheduled', 2: 'started', 3: 'cancel-requested', 4: 'paused', 5: 'pause-requested' };

function pendingActivities(description: WorkflowExecutionDescription): PendingActivity[] {
  return (description.raw.pendingActivities ?? []).map((a) => {
    const lastStartedAt = optionalTsToDate(a.lastStartedTime);
    const nextAttemptAt = optionalTsToDate(a.nextAttemptScheduleTime);
    const failure = a.lastFailure;
    return {
      activityType: a.activityType?.name ?? 'unknown',
      state: ACTIVITY_STATES[a.state ?? 0] ?? 'unknown',
      attempt: a.attempt ?? 1,
      ...(a.maximumAttempts ? { maximumAttempts: a.maximumAttempts } : {}),
      ...(failure?.message
        ? { lastFailure: { type: failure.applicationFailureInfo?.type || 'Error', message: failure.message } }
        : {}),
      ...(lastStartedAt ? { lastStartedAt: lastStartedAt.toISOString() } : {}),
      ...(nextAttemptAt ? { nextAttemptAt: nextAttemptAt.toISOString() } : {}),
    };
  });
}

/**
 * Temporal's page token, with a checksum over it and the filter: a corrupted token, or one from a
 * list with another filter, is a 400 here instead of an opaque failure (which the client would retry).
 */
function pageTokenChecksum(token: Uint8Array, visibilityQuery: string): string {
  return createHash('sha256').update(visibilityQuery).update('\n').update(token).digest().subarray(0, 12).toString('base64url');
}

export function sealPageToken(token: Uint8Array, visibilityQuery: string): string {
  return `${Buffer.from(token).toString('base64url')}.${pageTokenChecksum(token, visibilityQuery)}`;
}

export function openPageToken(sealed: string, visibilityQuery: string): Buffer {
  const [data = '', checksum] = sealed.split('.');
  const token = Buffer.from(data, 'base64url');
  if (checksum !== pageTokenChecksum(token, visibilityQuery)) {
    throw new ApiError(400, 'invalid_request', 'nextPageToken is not valid for this list', [
      { field: 'nextPageToken', message: 'pass the nextPageToken of the previous page unchanged, with the same state filter, or leave it out for the first page' },
    ]);
  }
  return token;
}

/**
 * Our own deadline passed. gRPC reports it as DEADLINE_EXCEEDED or, when it fires between the calls
 * of an update, as CANCELLED; this API never cancels calls otherwise.
 */
export function timedOut(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err) || isGrpcCancelledError(err);
}

/** Temporal's WorkflowTaskFailedCause values worth naming to an operator. */
const WORKFLOW_TASK_FAILED_CAUSES: Record<number, string> = {
  14: 'the workflow code threw an error',
  24: "non-determinism: the worker's workflow code no longer replays this run's history",
};

/** A failure message's first line (the rest is often a stack trace), bounded. */
function firstLine(message: string): string {
  return truncated(message.split('\n', 1)[0]?.trim() || 'no message', 300);
}

function workflowTaskNote(failure: WorkflowTaskFailure): string {
  return (
    `the run's workflow task is failing (attempt ${failure.attempt}${failure.since ? `, since ${failure.since}` : ''}` +
    `${failure.cause ? `; ${failure.cause}` : ''}): ${failure.message}. ` +
    "The worker cannot run this run's workflow code, so the run stays where it is and takes no decision or cancel until it can. " +
    'Fix or roll back the worker deployment and the run goes on by itself; if it must stop now, terminate it ' +
    '(Temporal Web UI, or temporal workflow terminate --workflow-id <its workflowId>), which undoes nothing it did in the tenant'
  );
}

export function workerUnavailable(timeoutMs: number, what: string): ApiError {
  return new ApiError(
    503,
    'worker_unavailable',
    `no worker answered within ${timeoutMs} ms to ${what}: check that the Dialtone worker is running, then look at the status before retrying`,
  );
}
