/**
 * Sending an event from a run or a batch: the event gets its id and time here, the worker says who
 * receives it (the callers' URLs and the operator's), and a deliverNotification child delivers it.
 *
 * Why an abandoned child per event rather than an activity the run awaits: the run's outcome, status
 * and a batch's progress must never wait on a receiver, a run ends while a delivery may still retry
 * for days, and a child whose workflow id is the event id is started once per event (a second start is
 * refused), delivered by one workflow that survives worker restarts and shows its own progress.
 */
import {
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  isCancellation,
  log,
  proxyLocalActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { notificationWorkflowId } from './definitions';
import type { NotificationActivities, NotificationEvent, NotificationTarget, SentNotification } from './definitions';
import type { EventContent } from './events';
import { deliverNotification } from './workflow';

/** Marks runs and batches that send notifications; histories recorded before did not. */
export const NOTIFICATIONS_PATCH = 'notifications';

/** Reads the worker's settings (no I/O): a local activity, one marker in the sender's history. */
const settings = proxyLocalActivities<NotificationActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

export class Notifier {
  /** Events this run of the workflow has built, so each gets its own id. */
  private sequence = 0;

  /**
   * Builds the event and starts its delivery when anyone is to receive it. Never throws: a
   * notification that cannot be scheduled is logged and the sender goes on.
   */
  async send<D extends NotificationEvent['data']>(content: EventContent<D>, callers: NotificationTarget[]): Promise<SentNotification | undefined> {
    this.sequence += 1;
    const { workflowId, runId } = workflowInfo();
    const event: NotificationEvent = {
      specversion: '1.0',
      id: `${workflowId}/${runId}/${this.sequence}`,
      source: content.source,
      type: content.type,
      subject: content.subject,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: content.data,
    };
    const childId = notificationWorkflowId(event.id);
    try {
      const { targets, retryWindowMs, attemptTimeoutMs } = await settings.notificationTargets({ callers });
      if (targets.length === 0) return undefined;
      await startChild(deliverNotification, {
        workflowId: childId,
        args: [{ event, targets, retryWindowMs, ...(attemptTimeoutMs ? { attemptTimeoutMs } : {}) }],
        // The delivery outlives the run (it may retry for days) and is never cancelled with it.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `${event.type}: ${event.subject} → ${targets.length} receiver${targets.length === 1 ? '' : 's'}`,
      });
      return { id: event.id, type: event.type, at: event.time, workflowId: childId, receivers: targets.length };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        return { id: event.id, type: event.type, at: event.time, workflowId: childId };
      }
      if (!isCancellation(err)) log.warn('a notification could not be scheduled', { eventId: event.id, type: event.type, error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }
}
