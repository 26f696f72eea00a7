/**
 * The rule for a callback URL (a caller's notify.url, an operator's DIALTONE_NOTIFY_URLS): one place,
 * used by the API and the worker's config.
 */
import type { EnvReader } from './config';
import type { FieldError } from './validation';
import { NOTIFY_URL_MAX_LENGTH } from '../workflows/notification/definitions';

export interface NotifyUrlRules {
  /** Accept http for any host (the API's or worker's DIALTONE_NOTIFY_ALLOW_HTTP); otherwise only for loopback hosts. */
  allowHttp: boolean;
  /**
   * The hosts a caller's URL may name (DIALTONE_NOTIFY_ALLOWED_HOSTS): `hooks.example.com` that host,
   * `.example.com` any host under it. Unset: any host. The operator's own URLs are not held to it.
   */
  allowedHosts?: readonly string[];
}

/** The variables of the rule, read the same way by the API (callers' URLs) and the worker. */
export function readNotifyUrlRules(r: EnvReader): NotifyUrlRules {
  const allowHttp = r.bool('DIALTONE_NOTIFY_ALLOW_HTTP', false);
  const listed = r.optional('DIALTONE_NOTIFY_ALLOWED_HOSTS');
  if (listed === undefined) return { allowHttp };
  const allowedHosts = listed.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  const bad = allowedHosts.filter((h) => !/^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(h) && !/^\[[0-9a-f:.]+\]$/.test(h));
  if (bad.length > 0 || allowedHosts.length === 0) {
    r.problems.push(
      `DIALTONE_NOTIFY_ALLOWED_HOSTS must list host names, comma-separated: hooks.example.com for that host, .example.com for any host under it` +
        (bad.length > 0 ? ` (not a host name: ${bad.slice(0, 3).map((h) => `"${h.slice(0, 60)}"`).join(', ')})` : ''),
    );
  }
  return { allowHttp, allowedHosts };
}

/** Whether `hostname` is one of `allowed` (exact, or under a `.domain` entry). */
export function isAllowedHost(hostname: string, allowed: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return allowed.some((entry) => (entry.startsWith('.') ? host.endsWith(entry) || host === entry.slice(1) : host === entry));
}

/**
 * 169.254.0.0/16 and fe80::/10: link-local addresses, where clouds serve instance metadata and
 * credentials (169.254.169.254 on Azure, AWS and GCP). No receiver lives there, and a caller must not
 * make the worker post to one.
 */
export function isLinkLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return /^169\.254\.\d{1,3}\.\d{1,3}$/.test(host) || /^fe[89ab][0-9a-f]:/.test(host);
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
  if (isLinkLocalHost(url.hostname)) {
    return { field, message: `${field} names a link-local address (169.254.0.0/16, fe80::/10), where clouds serve instance metadata: give the receiver's own host` };
  }
  if (rules.allowedHosts && !isAllowedHost(url.hostname, rules.allowedHosts)) {
    return {
      field,
      message: `${field}: the host ${url.hostname.slice(0, 100)} is not one this Dialtone sends events to (DIALTONE_NOTIFY_ALLOWED_HOSTS lists ` +
        `${rules.allowedHosts.slice(0, 5).join(', ')}${rules.allowedHosts.length > 5 ? ', …' : ''}): use a receiver there, or ask the operator to add the host`,
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
