/**
 * What the API's request log says about a request: never its query string (a caller may put a
 * token or a secret there, even though the API refuses it) and never more than a bounded stretch of
 * a path or Host a caller chose.
 */
import type { FastifyRequest } from 'fastify';
import { truncated } from './errors';

/** The longest path a log line repeats. */
const LOGGED_PATH_LIMIT = 200;

/** `/v1/resource-accounts?access_token=…` → `/v1/resource-accounts?…`. */
export function loggedUrl(url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return `${truncated(path, LOGGED_PATH_LIMIT)}${query === -1 ? '' : '?…'}`;
}

/** Fastify's request serializer, with the URL as {@link loggedUrl} says and the Host bounded. */
export function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: loggedUrl(request.url),
    ...(request.headers.host === undefined ? {} : { host: truncated(request.headers.host) }),
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
