/**
 * Turns Graph / Teams admin / credential errors into ApplicationFailures with a stable type, an
 * actionable message and, for throttling and 5xx answers, the server's Retry-After as the next retry delay.
 * Messages carry Microsoft's text and request id, never tokens or secrets.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../lib/error-types';
import type { ErrorTypeName } from '../../lib/error-types';
import { isTeamsAdminError } from '../teams-admin/teams-admin';
import type { TeamsAdminError } from '../teams-admin/teams-admin';

/** The parts of an HTTP error every mapper needs, whatever client produced it. */
export interface ServiceError {
  status: number;
  code: string;
  message: string;
  /** Codes of `error.details[]`, e.g. `ObjectConflict`, when the body had any. */
  detailCodes?: string[];
  requestId?: string;
  retryAfterMs?: number;
}

/** What the failing call was doing, for messages a person can act on. */
export interface CallContext {
  /** e.g. "assign the license to aa-main@contoso.com". */
  action: string;
  /** Permission(s) the call needs, named in 403 messages. */
  permission: string;
  /** Map a 400/404/409 to a domain error before the generic mapping; return undefined to fall through. */
  classify?: (err: ServiceError) => ApplicationFailure | undefined;
  /** The same for a TeamsAdmin port failure (its domain kinds), before the generic mapping. */
  classifyTeams?: (err: TeamsAdminError) => ApplicationFailure | undefined;
}

export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Normalises a GraphError (SDK), a fetch failure or a credential error to a ServiceError. */
export function toServiceError(err: unknown): ServiceError {
  const e = err as {
    statusCode?: number;
    status?: number;
    code?: string | null;
    name?: string;
    message?: string;
    requestId?: string | null;
    headers?: { get(name: string): string | null };
    body?: unknown;
    detailCodes?: string[];
  };
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : -1;
  return {
    status,
    code: e.code ?? e.name ?? 'Error',
    message: e.message ?? String(err),
    detailCodes: e.detailCodes ?? detailCodesOf(e.body),
    requestId: e.requestId ?? e.headers?.get('request-id') ?? undefined,
    retryAfterMs: parseRetryAfter(e.headers?.get('retry-after')),
  };
}

/** An HTTP failure in the shape {@link toServiceError} reads, from a raw response's status and body. */
export interface HttpFailure {
  statusCode: number;
  code: string;
  message: string;
  detailCodes?: string[];
  requestId?: string;
  headers: Headers;
}

interface ErrorBody {
  code?: string;
  message?: string;
  details?: { code?: string }[];
  innerError?: { 'request-id'?: string };
}

/** `error.details[].code` of a Graph error body given as text (the SDK's GraphError keeps the body as a string). */
function detailCodesOf(body: unknown): string[] | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as ErrorBody & { error?: ErrorBody };
    const details = (parsed.error ?? parsed).details;
    return Array.isArray(details) ? details.map((detail) => detail.code).filter((code): code is string => typeof code === 'string') : undefined;
  } catch {
    return undefined;
  }
}

/** Reads Microsoft's error body (`{ error: { code, message, details, innerError } }`) from a failed response's text. */
export function httpFailure(response: Pick<Response, 'status' | 'statusText' | 'headers'>, text: string): HttpFailure {
  let error: ErrorBody | undefined;
  try {
    error = (JSON.parse(text) as { error?: ErrorBody }).error;
  } catch {
    // Non-JSON error bodies (proxies, gateways) keep the status alone.
  }
  return {
    statusCode: response.status,
    code: error?.code ?? `HTTP${response.status}`,
    message: error?.message ?? (text.slice(0, 300) || response.statusText),
    detailCodes: error?.details?.map((detail) => detail.code).filter((code): code is string => typeof code === 'string'),
    requestId: error?.innerError?.['request-id'] ?? response.headers.get('request-id') ?? undefined,
    headers: response.headers,
  };
}

/**
 * Another directory object already has the UPN. Graph answers 400 `Request_BadRequest` with detail
 * `ObjectConflict` and "Another object with the same value for property userPrincipalName already
 * exists." (a Microsoft engineer's answer in microsoft-graph-docs#1508); some services answer 409.
 */
export function isUpnConflict(e: ServiceError): boolean {
  if (e.status !== 400 && e.status !== 409) return false;
  if ((e.detailCodes ?? []).includes('ObjectConflict') || /same value for property userPrincipalName/i.test(e.message)) return true;
  // A 409 that is not a directory concurrency clash (retried elsewhere) means "it exists".
  return e.status === 409 && e.code !== 'Directory_ConcurrencyViolation';
}

/** Reason phrases of the 5xx statuses Graph documents (https://learn.microsoft.com/graph/errors). */
const STATUS_NAMES: Record<number, string> = {
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  507: 'Insufficient Storage',
  509: 'Bandwidth Limit Exceeded',
};

function failure(type: ErrorTypeName, message: string, retryable: boolean, nextRetryDelayMs?: number): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: !retryable,
    ...(nextRetryDelayMs !== undefined ? { nextRetryDelay: nextRetryDelayMs } : {}),
  });
}

function isCredentialError(err: ServiceError): boolean {
  return /AuthenticationError|CredentialUnavailableError|AuthenticationRequiredError/.test(err.code) || /AADSTS\d+/.test(err.message);
}

/** Maps any error from a Microsoft call to an ApplicationFailure. Already-mapped failures pass through. */
export function toActivityFailure(err: unknown, ctx: CallContext): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (isTeamsAdminError(err)) return teamsAdminActivityFailure(err, ctx);
  const e = toServiceError(err);
  const ref = e.requestId ? ` (request-id ${e.requestId})` : '';
  const said = `${e.code}: ${e.message}`;

  if (isCredentialError(e)) {
    return failure(
      ErrorType.AuthenticationFailed,
      `Could not get a token to ${ctx.action}: ${firstLine(e.message)}. Check the tenant id, client id and secret or certificate of the app registration.`,
      false,
    );
  }
  if (e.status === 429) {
    return failure(ErrorType.Throttled, `Throttled while trying to ${ctx.action}: ${said}${ref}`, true, e.retryAfterMs);
  }
  // 503 is an unavailable or overloaded service and 504 a gateway that got no answer in time (Graph's
  // HTTP status codes, https://learn.microsoft.com/graph/errors): neither is throttling, and after a 504
  // the request may have been carried out. A 503's Retry-After is honoured as Graph asks.
  if (e.status >= 500 || e.status === -1 || e.status === 0) {
    const what = STATUS_NAMES[e.status] ? `${e.status} ${STATUS_NAMES[e.status]}` : e.status > 0 ? `HTTP ${e.status}` : 'No answer';
    return failure(ErrorType.TransientServiceError, `${what} while trying to ${ctx.action}: ${said}${ref}`, true, e.retryAfterMs);
  }
  const classified = ctx.classify?.(e);
  if (classified) return classified;
  if (e.status === 401) {
    // The clients already fetched a new token and repeated the request once (RenewableTokenCredential).
    return failure(
      ErrorType.AuthenticationFailed,
      `The service rejected the app's token when trying to ${ctx.action}, also a newly issued one: ${said}${ref}. ` +
        'Check that the app registration belongs to this tenant and that its tenant id and client id are the ones configured.',
      false,
    );
  }
  if (e.status === 403) {
    return failure(
      ErrorType.PermissionDenied,
      `Permission denied when trying to ${ctx.action}: ${said}${ref}. Grant the app registration ${ctx.permission} (with admin consent) and retry.`,
      false,
    );
  }
  if (e.status === 409 && e.code === 'Directory_ConcurrencyViolation') {
    return failure(ErrorType.TransientServiceError, `Directory concurrency conflict while trying to ${ctx.action}${ref}`, true);
  }
  return failure(ErrorType.InvalidRequest, `Could not ${ctx.action}: HTTP ${e.status} ${said}${ref}`, false);
}

/** Maps a TeamsAdmin port failure by its domain kind; the adapter (PowerShell or REST) does not matter here. */
function teamsAdminActivityFailure(err: TeamsAdminError, ctx: CallContext): ApplicationFailure {
  const ref = err.details.requestId ? ` (request-id ${err.details.requestId})` : '';
  switch (err.kind) {
    case 'throttled':
      return failure(ErrorType.Throttled, `Throttled while trying to ${ctx.action}: ${err.message}${ref}`, true, err.details.retryAfterMs);
    case 'transient':
      return failure(ErrorType.TransientServiceError, `Teams did not complete "${ctx.action}": ${err.message}${ref}`, true, err.details.retryAfterMs);
    case 'notInstalled':
      return failure(ErrorType.TeamsAdminNotInstalled, `Cannot ${ctx.action}: ${err.message}`, false);
    default:
      break;
  }
  const classified = ctx.classifyTeams?.(err);
  if (classified) return classified;
  switch (err.kind) {
    case 'unauthenticated':
      return failure(
        ErrorType.AuthenticationFailed,
        `Teams rejected the app's token when trying to ${ctx.action}, also a newly issued one: ${err.message}${ref}. ` +
          'Check that the app registration belongs to this tenant and that its tenant id and client id are the ones configured.',
        false,
      );
    case 'forbidden':
      return failure(
        ErrorType.PermissionDenied,
        `Permission denied when trying to ${ctx.action}: ${err.message}${ref}. Give the app registration ${ctx.permission} and retry.`,
        false,
      );
    case 'domainNotVerified':
      return failure(ErrorType.DomainNotVerified, `Could not ${ctx.action}: ${err.message}`, false);
    default:
      return failure(ErrorType.InvalidRequest, `Could not ${ctx.action}: ${err.message}${ref}`, false);
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? text;
}

/**
 * Runs one call where a 404 is an answer, not a failure (the object never existed or is already
 * gone): it resolves to `undefined` then; anything else is mapped as by {@link call}.
 */
export async function callUnlessMissing<T>(ctx: CallContext, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404 || (isTeamsAdminError(err) && err.kind === 'notFound')) return undefined;
    throw toActivityFailure(err, ctx);
  }
}

/** Runs one call and maps whatever it throws. */
export async function call<T>(ctx: CallContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err, ctx);
  }
}
