/**
 * Public contract of notifications to calling systems: the CloudEvents a run or a batch sends when it
 * ends or needs attention, and the deliverNotification workflow that delivers one event to its
 * receivers. Shared by the workflows, the worker and the API; pure types and Temporal message
 * definitions only (safe inside the workflow sandbox).
 *
 * Format: CloudEvents 1.0, structured JSON mode (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md,
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md).
 */
import { defineQuery } from '@temporalio/workflow';
import type { ProvisioningState } from '../provision-resource-account/definitions';
import type { BatchState, RowState } from '../provision-batch/definitions';

/** Workflow type name of one event's delivery, as registered by the worker. */
export const NOTIFICATION_WORKFLOW_TYPE = 'deliverNotification';

/** Where a caller wants to hear about a run or a batch (a request field; it enters workflow history, so no secrets in it). */
export interface NotifyRequest {
  /** An absolute https URL (http only for loopback hosts, or where the API allows it); no user:password. */
  url: string;
}

/** The longest callback URL accepted (a URL is a header-sized thing; browsers and proxies cap near 8 KB). */
export const NOTIFY_URL_MAX_LENGTH = 2048;

/** Run states a caller hears about: the end of a run, and each time it starts waiting for a decision. */
export const NOTIFIED_RUN_STATES = ['needs-attention', 'completed', 'rolled-back', 'abandoned', 'cancelled'] as const satisfies readonly ProvisioningState[];
export type NotifiedRunState = (typeof NOTIFIED_RUN_STATES)[number];

/** Batch states a caller hears about: the end of a batch, and each time it stops by itself for a person. */
export const NOTIFIED_BATCH_STATES = ['needs-attention', 'completed', 'completed-with-failures', 'cancelled'] as const;
export type NotifiedBatchState = (typeof NOTIFIED_BATCH_STATES)[number];

/** Reverse-DNS event types (the spec's recommendation for `type`). */
export const RUN_EVENT_TYPE_PREFIX = 'com.dialtone.resource-account.';
export const BATCH_EVENT_TYPE_PREFIX = 'com.dialtone.batch.';

export interface RunEventData {
  kind: 'resource-account';
  upn: string;
  state: NotifiedRunState;
  /** One line: how the run ended, or what it waits for. */
  message: string;
  phoneNumber: string;
  accountId?: string;
  workflowId: string;
  runId: string;
  batchId?: string;
  /** Set on needs-attention: the failed step, the error's type and message, the decisions allowed and their commands, the deadline. */
  attention?: {
    step: string;
    errorType: string;
    errorMessage: string;
    allowedDecisions: string[];
    howToDecide: string[];
    deadline: string;
  };
  /** What the run left in the tenant (abandoned, cancelled, a roll-back that stopped short). */
  leftBehind?: string[];
  /** The run's status, as a path under the API's base URL. */
  statusUrl: string;
  /** Where to decide, as a path under the API's base URL (needs-attention). */
  decisionUrl?: string;
  /** The batch's status, for a row of a batch. */
  batchStatusUrl?: string;
}

export interface BatchEventData {
  kind: 'batch';
  batchId: string;
  state: NotifiedBatchState;
  /** The batch's own state word (e.g. paused, waiting-for-licenses on needs-attention). */
  batchState: BatchState;
  message: string;
  rows: number;
  counts: Record<RowState, number>;
  workflowId: string;
  statusUrl: string;
  reportUrl: string;
}

/** A CloudEvent (v1.0) as Dialtone sends it: every attribute set, `data` JSON. */
export interface NotificationEvent<D = RunEventData | BatchEventData> {
  specversion: '1.0';
  /** Stable for one event across every retry and worker restart: `<workflow id>/<run id>/<sequence>`. Receivers de-duplicate on it. */
  id: string;
  /** `/dialtone/tenants/<tenant id>`. */
  source: string;
  type: string;
  /** `resource-accounts/<upn>` or `batches/<batch id>`. */
  subject: string;
  /** The workflow's time of the transition (RFC 3339). */
  time: string;
  datacontenttype: 'application/json';
  data: D;
}

/** A receiver of one event: a caller's URL, or an operator's global one. */
export interface NotificationTarget {
  url: string;
  /** Who registered it: the request, its batch, or the worker's DIALTONE_NOTIFY_URLS. */
  origin: 'request' | 'batch' | 'operator';
}

export interface NotificationTargetsInput {
  /** The caller's URLs for this event (the request's or its batch's). */
  callers: NotificationTarget[];
}
export interface NotificationTargetsOutput {
  /** The callers' and the operator's, each URL once. */
  targets: NotificationTarget[];
  /** How long each delivery is retried, in ms (the worker's DIALTONE_NOTIFY_RETRY_WINDOW_MS). */
  retryWindowMs: number;
  /** How long one POST may take, in ms (the worker's DIALTONE_NOTIFY_TIMEOUT_MS). */
  attemptTimeoutMs?: number;
}

export interface DeliverNotificationInput {
  event: NotificationEvent;
  targets: NotificationTarget[];
  retryWindowMs: number;
  /** How long one POST may take, in ms: an attempt lost with its worker is retried this long (plus a margin) after it started. */
  attemptTimeoutMs?: number;
}

export type DeliveryState = 'delivering' | 'delivered' | 'gone' | 'failed';

export interface DeliveryStatus {
  /** The receiver's URL without its query string or fragment (they may carry tokens). */
  url: string;
  origin: NotificationTarget['origin'];
  state: DeliveryState;
  /** The receiver's HTTP status on success (2xx) or 410. */
  httpStatus?: number;
  /** The attempt that got the answer (delivered or gone), from 1. */
  attempts?: number;
  /** Why it was not delivered (failed). */
  error?: { type: string; message: string };
  endedAt?: string;
}

export interface DeliverNotificationStatus {
  eventId: string;
  type: string;
  subject: string;
  deliveries: DeliveryStatus[];
}
export type DeliverNotificationOutput = DeliverNotificationStatus;

export const getNotificationStatusQuery = defineQuery<DeliverNotificationStatus>('getNotificationStatus');

/** What a run records about an event it sent (its status lists them). */
export interface SentNotification {
  id: string;
  type: string;
  at: string;
  /** The delivery's workflow: its status says whether each receiver has the event. */
  workflowId: string;
  /** How many receivers it goes to. */
  receivers?: number;
}

/** What the delivery activity is given: one event, one receiver. */
export interface PostNotificationInput {
  event: NotificationEvent;
  url: string;
}
export interface PostNotificationOutput {
  httpStatus: number;
  /** True when the receiver answered 410 Gone: it wants no more events, and this one is not retried. */
  gone: boolean;
  /** The attempt that got this answer, from 1. */
  attempt: number;
}

/** The activities the notification code calls; the worker registers them with every other activity. */
export interface NotificationActivities {
  notificationTargets(input: NotificationTargetsInput): Promise<NotificationTargetsOutput>;
  postNotification(input: PostNotificationInput): Promise<PostNotificationOutput>;
}

/**
 * One event's delivery workflow id: the event id, so a second start of the same event is refused
 * (WorkflowIdReusePolicy REJECT_DUPLICATE) and each event is delivered by one workflow.
 */
export function notificationWorkflowId(eventId: string): string {
  return `notification:${eventId}`;
}

/** A URL as logs and statuses show it: no query string, no fragment, no user info. */
export function redactedUrl(url: string): string {
  const end = url.search(/[?#]/);
  const bare = end < 0 ? url : url.slice(0, end);
  return bare.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/** The error types the delivery activity throws. */
export const NotificationErrorType = {
  /** The receiver could not be reached or answered 5xx, 408 or 429: retried. */
  NotDelivered: 'NotificationNotDelivered',
  /** The receiver refused the event (a 4xx other than 408, 410, 429; or a redirect): not retried. */
  Rejected: 'NotificationRejected',
  /** The worker has no signing secret: retried, so the event waits for an operator to set one (never sent unsigned). */
  SigningSecretMissing: 'NotificationSigningSecretMissing',
} as const;
