/**
 * The rule for a callback URL (a caller's notify.url, an operator's DIALTONE_NOTIFY_URLS): one place,
 * used by the API and the worker's config.
 */
import type { FieldError } from './validation';
import { NOTIFY_URL_MAX_LENGTH } from '../workflows/notification/definitions';

export interface NotifyUrlRules {
  /** Accept http for any host (the API's or worker's DIALTONE_NOTIFY_ALLOW_HTTP); otherwise only for loopback hosts. */
  allowHttp: boolean;
}

/** localhost, 127.0.0.0/8 and ::1: a receiver on the same machine (the local stack, tests). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The problem with `value` as a callback URL, naming `field` and the fix; undefined when it is fine. */
export function validateNotifyUrl(value: unknown, field: string, rules: NotifyUrlRules, allowHttpName = 'DIALTONE_NOTIFY_ALLOW_HTTP'): FieldError | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    return { field, message: `${field} must be an absolute https URL, like https://hooks.example.com/dialtone` };
  }
  if (value.length > NOTIFY_URL_MAX_LENGTH) {
    return { field, message: `${field} is ${value.length} characters long: at most ${NOTIFY_URL_MAX_LENGTH} are accepted` };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { field, message: `${field} is not an absolute URL: write it in full, like https://hooks.example.com/dialtone` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { field, message: `${field} must be an https URL (got ${url.protocol.replace(/:$/, '')})` };
  }
  if (url.protocol === 'http:' && !rules.allowHttp && !isLoopbackHost(url.hostname)) {
    return {
      field,
      message: `${field} must be an https URL: events are sent in the clear over http, which is accepted only for a loopback host ` +
        `(localhost, 127.0.0.1, ::1) unless the operator sets ${allowHttpName}=true`,
    };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      field,
      message: `${field} must not carry user:password: the URL is kept in workflow history and shown in statuses; ` +
        'verify the Dialtone-Signature header of each event instead',
    };
  }
  return undefined;
}

/** A request's `notify` ({ url }): absent is fine; anything else must be that object with a good URL. */
export function validateNotify(value: unknown, rules: NotifyUrlRules, field = 'notify'): FieldError[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ field, message: `${field} must be an object like {"url": "https://hooks.example.com/dialtone"}` }];
  }
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => key !== 'url')
    .map((key) => ({ field: `${field}.${key}`, message: `unknown field "${field}.${key}": remove it (${field} takes only url)` }));
  const problem = validateNotifyUrl(fields.url, `${field}.url`, rules);
  return [...(problem ? [problem] : []), ...unknown];
}
