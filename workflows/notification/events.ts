/**
 * The events a run and a batch send, built from their status: pure functions, so the same transition
 * always makes the same event (its body is fixed in history before the first delivery attempt).
 */
import type { ProvisionResourceAccountStatus } from '../provision-resource-account/definitions';
import type { BatchProgress } from '../provision-batch/definitions';
import { BATCH_EVENT_TYPE_PREFIX, RUN_EVENT_TYPE_PREFIX } from './definitions';
import type { BatchEventData, NotifiedBatchState, NotifiedRunState, RunEventData } from './definitions';

/** An event's attributes other than its id and time (the sender adds them). */
export interface EventContent<D> {
  source: string;
  type: string;
  subject: string;
  data: D;
}

/** `source` of every event of a tenant. */
export function eventSource(tenantId: string): string {
  return `/dialtone/tenants/${tenantId.toLowerCase()}`;
}

function accountPath(upn: string): string {
  return `/v1/resource-accounts/${encodeURIComponent(upn.toLowerCase())}`;
}

function batchPath(batchId: string): string {
  return `/v1/batches/${encodeURIComponent(batchId)}`;
}

/** A run's event for `state`, from its status (the status is already in that state). */
export function runEvent(status: ProvisionResourceAccountStatus, state: NotifiedRunState, runId: string): EventContent<RunEventData> {
  const { request } = status;
  const upn = request.upn.toLowerCase();
  const attention = state === 'needs-attention' ? status.attention : undefined;
  const data: RunEventData = {
    kind: 'resource-account',
    upn,
    state,
    message: attention ? `${attention.waitingFor} (${attention.error.type}: ${attention.error.message})` : status.outcome ?? state,
    phoneNumber: request.phoneNumber,
    ...(status.accountId ? { accountId: status.accountId } : {}),
    workflowId: status.workflowId,
    runId,
    ...(request.batchId ? { batchId: request.batchId } : {}),
    ...(attention
      ? {
          attention: {
            step: attention.step,
            errorType: attention.error.type,
            errorMessage: attention.error.message,
            allowedDecisions: [...attention.allowedDecisions],
            howToDecide: [...attention.howToDecide],
            deadline: attention.deadline,
          },
        }
      : {}),
    ...(status.leftBehind && status.leftBehind.length > 0 ? { leftBehind: [...status.leftBehind] } : {}),
    statusUrl: `${accountPath(upn)}?runId=${encodeURIComponent(runId)}`,
    ...(attention ? { decisionUrl: `${accountPath(upn)}/decision` } : {}),
    ...(request.batchId ? { batchStatusUrl: batchPath(request.batchId) } : {}),
  };
  return { source: eventSource(request.tenantId), type: `${RUN_EVENT_TYPE_PREFIX}${state}`, subject: `resource-accounts/${upn}`, data };
}

/** A batch's event for `state`, from its progress. */
export function batchEvent(tenantId: string, progress: BatchProgress, state: NotifiedBatchState): EventContent<BatchEventData> {
  const data: BatchEventData = {
    kind: 'batch',
    batchId: progress.batchId,
    state,
    batchState: progress.state,
    message: progress.message,
    rows: progress.rows,
    counts: { ...progress.counts },
    workflowId: progress.workflowId,
    statusUrl: batchPath(progress.batchId),
    reportUrl: `${batchPath(progress.batchId)}/report.csv`,
  };
  return { source: eventSource(tenantId), type: `${BATCH_EVENT_TYPE_PREFIX}${state}`, subject: `batches/${progress.batchId}`, data };
}
