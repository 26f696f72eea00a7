import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { NotificationErrorType, getNotificationStatusQuery, redactedUrl } from './definitions';
import type { DeliverNotificationInput, DeliverNotificationOutput, DeliverNotificationStatus, DeliveryStatus, NotificationActivities } from './definitions';

/** Time an attempt may take beyond the POST's own timeout (signing, the answer, the worker's queue). */
const ATTEMPT_MARGIN_MS = 10_000;

/**
 * The POST of one event to one receiver, retried with exponential backoff (1 s, 2 s, 4 s … at most an
 * hour apart) until it is delivered or the retry window (the worker's DIALTONE_NOTIFY_RETRY_WINDOW_MS,
 * default 3 days) has passed. A receiver's Retry-After sets the next delay (the activity's
 * nextRetryDelay). What the receiver refused for good (a 4xx) is not retried.
 */
function delivery(retryWindowMs: number, attemptTimeoutMs: number | undefined) {
  return proxyActivities<NotificationActivities>({
    // The activity's own timeout (DIALTONE_NOTIFY_TIMEOUT_MS, at most 2 minutes) ends the POST first; this
    // one retries an attempt lost with its worker (a crash) soon after it would have timed out.
    startToCloseTimeout: attemptTimeoutMs ? attemptTimeoutMs + ATTEMPT_MARGIN_MS : '3 minutes',
    scheduleToCloseTimeout: retryWindowMs,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 hour',
      nonRetryableErrorTypes: [NotificationErrorType.Rejected],
    },
  });
}

/**
 * Delivers one CloudEvent to each of its receivers, at least once each, concurrently: a dead receiver
 * never holds up another. Started by a run or a batch as an abandoned child whose workflow id is the
 * event id, so the run's outcome never waits on a receiver and the same event is never delivered by
 * two workflows. Ends failed (NotificationNotDelivered) when a receiver never took the event, so
 * operators find such events in the Web UI by type and status; the run that sent it is not affected.
 */
export async function deliverNotification(input: DeliverNotificationInput): Promise<DeliverNotificationOutput> {
  const status: DeliverNotificationStatus = {
    eventId: input.event.id,
    type: input.event.type,
    subject: input.event.subject,
    deliveries: input.targets.map((target) => ({ url: redactedUrl(target.url), origin: target.origin, state: 'delivering' })),
  };
  setHandler(getNotificationStatusQuery, () => status);
  const show = () => setCurrentDetails(details(status));
  show();
  const post = delivery(input.retryWindowMs, input.attemptTimeoutMs).postNotification;
  await Promise.all(
    input.targets.map(async (target, i) => {
      const shown = status.deliveries[i] as DeliveryStatus;
      try {
        const result = await post({ event: input.event, url: target.url });
        shown.state = result.gone ? 'gone' : 'delivered';
        shown.httpStatus = result.httpStatus;
        shown.attempts = result.attempt;
      } catch (err) {
        shown.state = 'failed';
        shown.error = failureOf(err);
      }
      shown.endedAt = new Date().toISOString();
      show();
    }),
  );
  const failed = status.deliveries.filter((d) => d.state === 'failed');
  if (failed.length > 0) {
    throw ApplicationFailure.create({
      type: NotificationErrorType.NotDelivered,
      nonRetryable: true,
      message: `${input.event.type} ${input.event.id} was not delivered to ${failed.map((d) => `${d.url} (${d.error?.message ?? 'unknown'})`).join('; ')}`,
      details: [status],
    });
  }
  return status;
}

function failureOf(err: unknown): { type: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) {
    const last = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
    return { type: NotificationErrorType.NotDelivered, message: `not delivered within the retry window${last}` };
  }
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  return { type: 'Error', message: cause instanceof Error ? cause.message : String(cause) };
}

/** What the Web UI shows as the delivery's current details. */
function details(status: DeliverNotificationStatus): string {
  return [
    `## ${status.type}`,
    '',
    `Event \`${status.eventId}\` about \`${status.subject}\`.`,
    '',
    ...status.deliveries.map((d) =>
      `- ${d.state}: ${d.url} (${d.origin})${d.httpStatus ? `, HTTP ${d.httpStatus}` : ''}${d.error ? `: ${d.error.type}: ${d.error.message}` : ''}`),
    '',
    'A delivery still going is retried with backoff: its pending activity shows the attempt and the last failure.',
  ].join('\n');
}
