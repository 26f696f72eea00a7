/**
 * The one error handler: every error leaves as `{ error: { code, message, details? } }`. Validation
 * errors name each field and its fix; Temporal's not-found and already-started become 404 and 409;
 * a 5xx says only what the caller can act on, and the details go to the log. So do the errors met
 * before a route runs: no route (404), another method (405 with Allow), a path segment too long (414),
 * and what Node's HTTP parser refuses (431, 400, 501). No message repeats more than a bounded prefix
 * of a caller's input.
 */
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Socket } from 'node:net';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import type { FieldError } from '../../lib/validation';
import { ApiError, DETAILS_LIMIT, GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE, boundedMessage, grpcCode, truncated } from '../errors';
import { ID_PARAM_MAX_LENGTH, UPN_MAX_LENGTH } from '../schemas/resource-accounts';
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

const CLIENT_ERROR_CODES: Record<number, ErrorCode> = {
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
};

interface HttpError {
  statusCode: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/** An error body with every echo of the caller's input bounded (see {@link boundedMessage}). */
export function errorBody(code: ErrorCode, message: string, details?: FieldError[]): ErrorBody {
  const listed = (details ?? []).slice(0, DETAILS_LIMIT).map((d) => ({ field: truncated(d.field), message: boundedMessage(d.message) }));
  const more = (details?.length ?? 0) - listed.length;
  return {
    error: {
      code,
      message: boundedMessage(more > 0 ? `${message} (${more} more problems not listed)` : message),
      ...(listed.length > 0 ? { details: listed } : {}),
    },
  };
}

export function toHttpError(err: unknown): HttpError {
  const error = (statusCode: number, code: ErrorCode, message: string, details?: FieldError[]): HttpError => ({
    statusCode,
    body: errorBody(code, message, details),
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
  if (fastifyError.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return error(
      414,
      'uri_too_long',
      `a segment of the URL's path is longer than ${ID_PARAM_MAX_LENGTH} characters; an account id is a user principal name, ` +
        `at most ${UPN_MAX_LENGTH} characters (64 before the "@", 253 after), URL-encoded`,
    );
  }
  if (fastifyError.code === 'FST_ERR_BAD_URL') {
    return error(400, 'invalid_request', 'the URL holds a malformed percent-encoding: encode each special character of the account id as %XX (e.g. encodeURIComponent)');
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return error(415, 'unsupported_media_type', 'the body must be JSON: send it with content-type: application/json');
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

/**
 * Errors Fastify meets before routing (Fastify's `frameworkErrors`): a path segment longer than the
 * router takes (414) and a malformed percent-encoding (400).
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { statusCode, body } = toHttpError(err);
  request.log.info({ code: body.error.code, statusCode }, body.error.message);
  void reply.code(statusCode).send(body);
}

/** What Node's HTTP parser refuses before Fastify sees a request, as status, code and message. */
function clientError(code: string | undefined): [number, ErrorCode, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [
        431,
        'headers_too_large',
        `the request line and headers are larger than ${maxHeaderSize} bytes together: shorten the URL (its query string) or the headers`,
      ];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'the request was not received in time: send it again'];
    case 'HPE_INVALID_METHOD':
      return [501, 'not_implemented', 'unknown HTTP method: this API answers GET, HEAD and POST'];
    default:
      return [400, 'invalid_request', 'the request is not valid HTTP/1.1'];
  }
}

/**
 * Node's `clientError`: requests its HTTP parser refuses (headers too large, an unknown method,
 * malformed HTTP) are answered in the API's error format, and the connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [statusCode, code, message] = clientError(err.code);
  this.log.debug({ code, statusCode, parserError: err.code }, message);
  // A response already under way on this connection is not interrupted by another one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !inFlight) {
    const body = JSON.stringify(errorBody(code, message));
    socket.write(
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** A registered route path as a pattern over request paths: `:id` stands for one segment. */
function routePattern(url: string): RegExp {
  const segments = url.split('/').map((s) => (s.startsWith(':') ? '[^/]+' : s === '*' ? '.*' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}

export default fp(
  async (fastify) => {
    const routes: Array<{ method: string; pattern: RegExp }> = [];
    fastify.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, pattern: routePattern(route.url) });
    });
    const methodsFor = (path: string) => [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();

    // Node would refuse an HTTP/1.1 request with no Host with a bare 400 (the server is created with
    // requireHostHeader off); it gets the error format instead.
    fastify.addHook('onRequest', async (request) => {
      if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
        throw new ApiError(400, 'invalid_request', 'an HTTP/1.1 request needs a Host header');
      }
    });

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
    fastify.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?', 1)[0] ?? '';
      const allowed = methodsFor(path);
      if (allowed.length > 0) {
        return reply
          .code(405)
          .header('allow', allowed.join(', '))
          .send(errorBody('method_not_allowed', `${request.method} is not allowed on ${path}: use ${allowed.join(', ')}`));
      }
      return reply.code(404).send(errorBody('not_found', `no route for ${request.method} ${path}`));
    });
  },
  { name: 'errors', fastify: '5.x' },
);
