/**
 * Notification settings of the worker, validated at boot with every other variable:
 * - DIALTONE_NOTIFY_URLS: comma-separated URLs that receive every event of every run and batch (the operator's)
 * - DIALTONE_NOTIFY_SIGNING_SECRET (or _FILE): the HMAC-SHA256 key events are signed with; required in
 *   microsoft mode when DIALTONE_NOTIFY_URLS is set; in simulator mode a fixed local one by default
 * - DIALTONE_NOTIFY_ALLOW_HTTP: http URLs for any host (default: only loopback hosts)
 * - DIALTONE_NOTIFY_ALLOWED_HOSTS: the hosts a caller's URL may name (default: any); checked again here,
 *   at send time, for runs accepted before it was set
 * - DIALTONE_NOTIFY_TIMEOUT_MS: how long one POST may take (default 10 s)
 * - DIALTONE_NOTIFY_RETRY_WINDOW_MS: how long a delivery is retried (default 3 days)
 */
import { DEFAULT_NOTIFY_RETRY_WINDOW_MS, DEFAULT_NOTIFY_TIMEOUT_MS } from '../activities/notifications';
import type { NotificationSettings } from '../activities/notifications';
import type { EnvReader, TenantMode } from '../lib/config';
import { readNotifyUrlRules, validateNotifyUrl } from '../lib/notify-url';
import { redactedUrl } from '../workflows/notification/definitions';

/**
 * Not a secret: the signing key of simulator mode (the local stack), so a receiver can be tried out
 * against Dialtone on a laptop. A worker against a real tenant never uses it.
 */
export const LOCAL_NOTIFY_SIGNING_SECRET = 'simulator-only-notify-signing-secret';

/** The shortest signing secret accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_SIGNING_SECRET_LENGTH = 32;

export function readNotifyConfig(r: EnvReader, mode: TenantMode): NotificationSettings {
  const callerRules = readNotifyUrlRules(r);
  const { allowHttp } = callerRules;
  const urls = (r.optional('DIALTONE_NOTIFY_URLS') ?? '').split(',').map((u) => u.trim()).filter((u) => u !== '');
  urls.forEach((url, i) => {
    const problem = validateNotifyUrl(url, `DIALTONE_NOTIFY_URLS (URL ${i + 1})`, { allowHttp });
    // The URL itself is not echoed: its query may hold a token.
    if (problem) r.problems.push(problem.message);
  });
  let signingSecret = r.secret('DIALTONE_NOTIFY_SIGNING_SECRET');
  if (signingSecret !== undefined && signingSecret.length < MIN_SIGNING_SECRET_LENGTH) {
    r.problems.push(`DIALTONE_NOTIFY_SIGNING_SECRET is shorter than ${MIN_SIGNING_SECRET_LENGTH} characters: use a long random one, e.g. from \`openssl rand -hex 32\``);
  }
  if (signingSecret === undefined && mode === 'simulator') signingSecret = LOCAL_NOTIFY_SIGNING_SECRET;
  if (signingSecret === undefined && urls.length > 0) {
    r.problems.push(
      'DIALTONE_NOTIFY_URLS is set but DIALTONE_NOTIFY_SIGNING_SECRET is not: events are never sent unsigned; set it ' +
        '(or DIALTONE_NOTIFY_SIGNING_SECRET_FILE) to a long random value, e.g. from `openssl rand -hex 32`, and give it to the receivers',
    );
  }
  return {
    urls,
    callerRules,
    ...(signingSecret !== undefined ? { signingSecret } : {}),
    timeoutMs: r.int('DIALTONE_NOTIFY_TIMEOUT_MS', DEFAULT_NOTIFY_TIMEOUT_MS, 1_000, 120_000),
    retryWindowMs: r.int('DIALTONE_NOTIFY_RETRY_WINDOW_MS', DEFAULT_NOTIFY_RETRY_WINDOW_MS, 60_000, 30 * 24 * 60 * 60 * 1000),
  };
}

/** The settings as the worker logs them: the secret's presence only, URLs without their query. */
export function describeNotifyConfig(settings: NotificationSettings): Record<string, unknown> {
  return {
    urls: settings.urls.map(redactedUrl),
    allowedHosts: settings.callerRules?.allowedHosts ?? 'any',
    signingSecret: settings.signingSecret ? '(set)' : undefined,
    timeoutMs: settings.timeoutMs,
    retryWindowMs: settings.retryWindowMs,
  };
}
