/**
 * Notifications to calling systems: who receives an event (the callers' URLs and the operator's), and
 * the signed POST of one CloudEvent to one receiver. Runs only in the worker; the API never sends.
 *
 * Format: CloudEvents 1.0 structured JSON mode over HTTP, built by the CloudEvents SDK
 * (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md#32-structured-content-mode).
 * Signature: HMAC-SHA256 of the exact body bytes with the operator's secret, hex, in Dialtone-Signature.
 */
import { createHmac } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { CloudEvent, HTTP } from 'cloudevents';
import { NotificationErrorType, redactedUrl } from '../workflows/notification/definitions';
import { validateNotifyUrl } from '../lib/notify-url';
import { parseRetryAfter } from './graph/errors';
import type { NotifyUrlRules } from '../lib/notify-url';
import type {
  NotificationActivities,
  NotificationTarget,
  NotificationTargetsInput,
  NotificationTargetsOutput,
  PostNotificationInput,
  PostNotificationOutput,
} from '../workflows/notification/definitions';

/** The header that carries the signature: `sha256=<hex HMAC-SHA256 of the body>`. */
export const SIGNATURE_HEADER = 'Dialtone-Signature';
/** The event id again, for receivers that de-duplicate before they parse the body. */
export const EVENT_ID_HEADER = 'Dialtone-Event-Id';
export const USER_AGENT = 'Dialtone-Notifications/1';

/** The longest wait a receiver's Retry-After may ask for; the backoff's own ceiling. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/** The worker's notification settings (worker/notify-config.ts reads them). */
export interface NotificationSettings {
  /** Receivers of every event of every run and batch (the operator's DIALTONE_NOTIFY_URLS). */
  urls: string[];
  /** The HMAC-SHA256 key. Without one nothing is sent: each delivery waits, retrying, until a worker has it. */
  signingSecret?: string;
  /** How long one POST may take, in ms. */
  timeoutMs: number;
  /** How long a delivery is retried before it is given up, in ms. */
  retryWindowMs: number;
  /** What a caller's URL may be, checked when an event is sent (the API checked it when the run was accepted). */
  callerRules?: NotifyUrlRules;
}

export const DEFAULT_NOTIFY_TIMEOUT_MS = 10_000;
export const DEFAULT_NOTIFY_RETRY_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;

export const NO_NOTIFICATIONS: NotificationSettings = { urls: [], timeoutMs: DEFAULT_NOTIFY_TIMEOUT_MS, retryWindowMs: DEFAULT_NOTIFY_RETRY_WINDOW_MS };

/** `sha256=<hex>`: the HMAC-SHA256 of `body` (its UTF-8 bytes) with `secret`. */
export function signature(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The event as the receiver gets it: headers and the exact body that is signed. */
export function notificationRequest(input: PostNotificationInput, secret: string): { headers: Record<string, string>; body: string } {
  // strict: the SDK validates the event against the spec before anything is sent.
  const message = HTTP.structured(new CloudEvent({ ...input.event }, true));
  const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
  return {
    headers: {
      ...(message.headers as Record<string, string>),
      [SIGNATURE_HEADER]: signature(body, secret),
      [EVENT_ID_HEADER]: input.event.id,
      'user-agent': USER_AGENT,
    },
    body,
  };
}

export function createNotificationActivities(settings: NotificationSettings): NotificationActivities {
  return {
    async notificationTargets({ callers }: NotificationTargetsInput): Promise<NotificationTargetsOutput> {
      const targets: NotificationTarget[] = [];
      // A caller's URL the operator no longer allows (an allow-list set after the run was accepted) gets nothing.
      const allowed = callers.filter((caller) => {
        const problem = settings.callerRules && validateNotifyUrl(caller.url, 'notify.url', settings.callerRules);
        if (problem) Context.current().log.warn('notification not sent to a caller URL the worker does not allow', { url: redactedUrl(caller.url), reason: problem.message });
        return !problem;
      });
      for (const target of [...allowed, ...settings.urls.map((url): NotificationTarget => ({ url, origin: 'operator' }))]) {
        if (!targets.some((t) => t.url === target.url)) targets.push(target);
      }
      return { targets, retryWindowMs: settings.retryWindowMs, attemptTimeoutMs: settings.timeoutMs };
    },

    async postNotification(input: PostNotificationInput): Promise<PostNotificationOutput> {
      const { attempt } = Context.current().info;
      const where = redactedUrl(input.url);
      /** A failed attempt that is retried: logged here once, without a stack, and not counted as an activity error. */
      const retried = (type: string, message: string, nextRetryDelay?: number): ApplicationFailure => {
        Context.current().log.warn('notification not delivered yet: retried', { eventId: input.event.id, type: input.event.type, url: where, attempt, reason: message });
        const failure = ApplicationFailure.create({ type, message, category: ApplicationFailureCategory.BENIGN, ...(nextRetryDelay !== undefined ? { nextRetryDelay } : {}) });
        failure.stack = `${failure.name}: ${failure.message}`;
        return failure;
      };
      if (!settings.signingSecret) {
        // Never unsigned: the event waits (retrying) for a worker that has the secret.
        throw retried(
          NotificationErrorType.SigningSecretMissing,
          `${input.event.type} ${input.event.id} is not sent: this worker has no signing secret; set DIALTONE_NOTIFY_SIGNING_SECRET ` +
            '(or DIALTONE_NOTIFY_SIGNING_SECRET_FILE) on the worker and restart it: the event is sent then',
        );
      }
      const { headers, body } = notificationRequest(input, settings.signingSecret);
      let response: Response;
      try {
        response = await fetch(input.url, {
          method: 'POST',
          headers,
          body,
          // A redirect is the receiver's configuration to fix: following it would send the event where no caller asked.
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(settings.timeoutMs), Context.current().cancellationSignal]),
        });
      } catch (err) {
        const reason = err instanceof Error && err.name === 'TimeoutError'
          ? `no answer within ${settings.timeoutMs} ms (DIALTONE_NOTIFY_TIMEOUT_MS)`
          : describeFetchError(err);
        throw retried(NotificationErrorType.NotDelivered, `${where} could not be reached: ${reason}`);
      }
      // The answer's body is not read: a receiver's reply carries nothing Dialtone uses.
      await response.body?.cancel().catch(() => undefined);
      const status = response.status;
      if (status >= 200 && status < 300) {
        Context.current().log.info('notification delivered', { eventId: input.event.id, type: input.event.type, url: where, httpStatus: status, attempt });
        return { httpStatus: status, gone: false, attempt };
      }
      if (status === 410) {
        Context.current().log.warn('notification receiver is gone (410): not retried', { eventId: input.event.id, url: where });
        return { httpStatus: status, gone: true, attempt };
      }
      if (status === 408 || status === 429 || status >= 500) {
        const delay = retryAfterMs(response.headers.get('retry-after'));
        throw retried(
          NotificationErrorType.NotDelivered,
          `${where} answered ${status}: retried${delay !== undefined ? ` after ${Math.round(delay / 1000)} s (its Retry-After)` : ' with backoff'}`,
          delay,
        );
      }
      Context.current().log.warn('notification refused by its receiver: not retried', { eventId: input.event.id, url: where, httpStatus: status });
      throw ApplicationFailure.nonRetryable(
        `${where} answered ${status}: the receiver refused the event, so it is not sent again` +
          (status >= 300 && status < 400 ? ' (redirects are not followed: register the final URL)' : ''),
        NotificationErrorType.Rejected,
      );
    },
  };
}

/** A receiver's Retry-After (read as for Microsoft's answers, parseRetryAfter), in ms, within 1 s to an hour. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  const ms = parseRetryAfter(value, now);
  return ms === undefined ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(1000, ms));
}

function describeFetchError(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return typeof code === 'string' ? `${code} (${message})` : message;
}
