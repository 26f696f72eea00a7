/**
 * Microsoft Graph's error body (`{ error: { code, message, innerError } }`, reference notes 6.5), used by
 * every Graph and Teams route. Domain code throws {@link GraphApiError}; the app's error handler renders it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface GraphErrorDetail {
  code: string;
  target?: string;
  message: string;
}

export class GraphApiError extends Error {
  override name = 'GraphApiError';

  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: GraphErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code = 'Request_BadRequest'): GraphApiError => new GraphApiError(400, code, message);

export const resourceNotFound = (id: string): GraphApiError =>
  new GraphApiError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);

export const insufficientPrivileges = (): GraphApiError =>
  new GraphApiError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');

/** Graph writes `innerError.date` without fraction or zone, e.g. 2025-01-01T00:00:00. */
export function graphDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19);
}

export function graphErrorBody(request: FastifyRequest, now: number, code: string, message: string, details?: GraphErrorDetail[]): object {
  return {
    error: {
      code,
      message,
      ...(details ? { details } : {}),
      innerError: {
        date: graphDate(now),
        'request-id': request.id,
        'client-request-id': clientRequestId(request),
      },
    },
  };
}

export function clientRequestId(request: FastifyRequest): string {
  const header = request.headers['client-request-id'];
  return typeof header === 'string' && header !== '' ? header : request.id;
}

export function sendGraphError(reply: FastifyReply, now: number, error: GraphApiError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers ?? {})) void reply.header(name, value);
  return reply.code(error.statusCode).send(graphErrorBody(reply.request, now, error.code, error.message, error.details));
}
