/**
 * The one error handler: every error leaves as `{ error: { code, message, details? } }`. Validation
 * errors name each field and its fix; Temporal's not-found and already-started become 404 and 409;
 * a 5xx says only what the caller can act on, and the details go to the log.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyError, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import type { FieldError } from '../../lib/validation';
import { ApiError, GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE, grpcCode } from '../errors';
import type { ErrorBody, ErrorCode } from '../errors';

/** `/options/propagationTimeoutMs` → `options.propagationTimeoutMs`; `/rows/3/upn` → `rows[3].upn`; the root is ''. */
function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .filter((p) => p !== '')
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** Ajv's errors rewritten as one line per field saying what to send instead. */
export function describeValidation(errors: FastifySchemaValidationError[], context: string | undefined): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const at = fieldPath(e.instancePath);
    const child = (name: unknown) => (at ? `${at}.${String(name)}` : String(name));
    // Errors about the whole body or query string name it, e.g. "(querystring)".
    const subject = at || `(${context ?? 'request'})`;
    const params = e.params as Record<string, unknown>;
    let detail: FieldError;
    switch (e.keyword) {
      case 'required': {
        const field = child(params.missingProperty);
        detail = { field, message: `${field} is required` };
        break;
      }
      case 'additionalProperties': {
        const field = child(params.additionalProperty);
        const allowed = allowedProperties(e);
        detail = {
          field,
          message: `unknown field "${field}": remove it${allowed ? ` (accepted fields: ${allowed.join(', ')})` : ''}`,
        };
        break;
      }
      case 'enum':
        detail = { field: subject, message: `${subject} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}` };
        break;
      case 'type':
        detail = { field: subject, message: `${subject} must be ${article(String(params.type))} ${String(params.type)}` };
        break;
      default:
        detail = { field: subject, message: `${subject} ${e.message ?? 'is not valid'}` };
    }
    if (!out.some((d) => d.field === detail.field && d.message === detail.message)) out.push(detail);
  }
  return out;
}

function allowedProperties(e: FastifySchemaValidationError): string[] | undefined {
  const parent = (e as { parentSchema?: { properties?: Record<string, unknown> } }).parentSchema;
  return parent?.properties ? Object.keys(parent.properties) : undefined;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

const CLIENT_ERROR_CODES: Record<number, ErrorCode> = { 413: 'payload_too_large', 415: 'unsupported_media_type' };

interface HttpError {
  statusCode: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

export function toHttpError(err: unknown): HttpError {
  const error = (statusCode: number, code: ErrorCode, message: string, details?: FieldError[]): HttpError => ({
    statusCode,
    body: { error: { code, message, ...(details && details.length > 0 ? { details } : {}) } },
  });
  if (err instanceof ApiError) return { ...error(err.statusCode, err.code, err.message, err.details), headers: err.headers };
  if (err instanceof WorkflowNotFoundError) {
    return error(404, 'not_found', `no provisioning run exists for ${err.workflowId || 'this account'}`);
  }
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return error(409, 'conflict', `a run with workflow id ${err.workflowId} already exists`);
  }
  const fastifyError = err as Partial<FastifyError>;
  if (fastifyError.validation) {
    const details = describeValidation(fastifyError.validation, fastifyError.validationContext);
    return error(400, 'invalid_request', `the request is not valid: ${details.map((d) => d.message).join('; ')}`, details);
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's own 4xx (bad JSON, wrong content type, body too large) carry safe messages.
    return error(status, CLIENT_ERROR_CODES[status] ?? 'invalid_request', fastifyError.message ?? 'bad request');
  }
  const code = grpcCode(err);
  if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) {
    return error(503, 'temporal_unavailable', 'Temporal is not reachable right now; try again shortly');
  }
  return error(500, 'internal_error', 'internal error; the API log has the details');
}

export default fp(
  async (fastify) => {
    fastify.setErrorHandler((err, request, reply) => {
      const { statusCode, body, headers } = toHttpError(err);
      if (statusCode >= 500) {
        request.log.error({ err }, 'request failed');
        body.error.message += ` (request id ${request.id})`;
      } else request.log.info({ code: body.error.code, statusCode }, body.error.message);
      return reply
        .code(statusCode)
        .headers(headers ?? {})
        .send(body);
    });
    fastify.setNotFoundHandler((request, reply) =>
      reply.code(404).send({ error: { code: 'not_found', message: `no route for ${request.method} ${request.url.split('?', 1)[0] ?? ''}` } }),
    );
  },
  { name: 'errors', fastify: '5.x' },
);
