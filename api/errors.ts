/** The API's error type: a stable code, a readable message and, for bad input, the fields to fix. */
import { isGrpcServiceError } from '@temporalio/client';
import type { FieldError } from '../lib/validation';

export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'invalid_state'
  | 'payload_too_large'
  | 'uri_too_long'
  | 'unsupported_media_type'
  | 'misdirected_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'not_implemented'
  | 'worker_unavailable'
  | 'workflow_task_failing'
  | 'temporal_unavailable'
  | 'internal_error';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: FieldError[] };
}

export const GRPC_INVALID_ARGUMENT = 3;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_FAILED_PRECONDITION = 9;
export const GRPC_UNAVAILABLE = 14;

/** The gRPC status code of a Temporal service error, looked for along the cause chain. */
export function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

/** The most of a caller's input that a response or a log line repeats in one stretch. */
export const ECHO_LIMIT = 100;
/** The longest error message (a detail's, or the summary of every problem). */
export const MESSAGE_LIMIT = 1000;
/** The most field problems one error lists; the message says how many more there were. */
export const DETAILS_LIMIT = 50;

/** `text` cut to `limit` characters, saying how many were left out. */
export function truncated(text: string, limit = ECHO_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}…(${text.length - limit} more characters)`;
}

/**
 * A message that quotes input (lib/validation writes `upn "…"`, `got "…"`) with each quoted stretch
 * cut to {@link ECHO_LIMIT} characters, and the whole to `limit`, so neither a response nor a log line
 * repeats a huge bad value.
 */
export function boundedMessage(message: string, limit = MESSAGE_LIMIT): string {
  let out = '';
  let i = 0;
  while (i < message.length) {
    const open = message.indexOf('"', i);
    if (open === -1) break;
    let close = open + 1;
    while (close < message.length && message[close] !== '"') close += message[close] === '\\' ? 2 : 1;
    if (close >= message.length) break;
    out += `${message.slice(i, open)}"${truncated(message.slice(open + 1, close))}"`;
    i = close + 1;
  }
  return truncated(out + message.slice(i), limit);
}
