/**
 * Bearer-token authentication on every /v1 route. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, against every configured token, so neither a token's length nor which token
 * matched shows in the response time. `request.apiCaller` names who called, for audit trails, without
 * the token itself.
 *
 * With authentication disabled (the local stack), the API answers only requests addressed to a
 * loopback name: a web page the operator opens cannot reach it by pointing a name of its own at
 * 127.0.0.1 (DNS rebinding), because the browser sends that name as the Host.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiAuthConfig } from '../config';
import { ApiError, truncated } from '../errors';

export const PROTECTED_PREFIX = '/v1';

/** Who made a request when authentication is disabled. */
export const ANONYMOUS_CALLER = 'anonymous';

declare module 'fastify' {
  interface FastifyRequest {
    /** `api-token:<first 8 hex digits of the token's SHA-256>`, or `anonymous` when authentication is disabled. */
    apiCaller: string;
  }
}

export type AuthPluginOptions = ApiAuthConfig;

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Whether a Host header names this machine: localhost, 127.x.x.x or [::1], with any port or none. */
export function isLoopbackHost(host: string): boolean {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(host);
  if (!match) return false;
  const [, ipv6, name = ''] = match;
  if (ipv6 !== undefined) return isIP(ipv6) === 6 && LOOPBACK.check(ipv6, 'ipv6');
  const hostname = name.toLowerCase().replace(/\.$/, '');
  if (hostname === 'localhost') return true;
  return isIP(hostname) === 4 && LOOPBACK.check(hostname, 'ipv4');
}

function misdirected(host: string): ApiError {
  return new ApiError(
    421,
    'misdirected_request',
    `this API runs without authentication (API_AUTH_DISABLED=true), so it answers only requests addressed to localhost, 127.0.0.1 or [::1]; ` +
      `this one was addressed to "${truncated(host)}". Call it at http://127.0.0.1:<port>, or set API_AUTH_TOKENS (and not API_AUTH_DISABLED) to serve it under other names`,
  );
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function isProtected(request: FastifyRequest): boolean {
  const path = request.url.split('?', 1)[0] ?? '';
  const route = request.routeOptions.url ?? '';
  const under = (p: string) => p === PROTECTED_PREFIX || p.startsWith(`${PROTECTED_PREFIX}/`);
  return under(path) || under(route);
}

function unauthorized(message: string, tokenGiven: boolean): ApiError {
  const challenge = tokenGiven ? 'Bearer realm="dialtone", error="invalid_token"' : 'Bearer realm="dialtone"';
  return new ApiError(401, 'unauthorized', message, undefined, { 'www-authenticate': challenge });
}

export default fp<AuthPluginOptions>(
  async (fastify, { tokens, disabled }) => {
    fastify.decorateRequest('apiCaller', ANONYMOUS_CALLER);
    if (disabled) {
      fastify.log.warn('API authentication is disabled (API_AUTH_DISABLED=true): anyone who can reach the API can use it; it answers only loopback Host names');
      fastify.addHook('onRequest', async (request) => {
        const host = request.headers.host;
        if (host !== undefined && !isLoopbackHost(host)) throw misdirected(host);
      });
      return;
    }
    const digests = tokens.map(digest);
    fastify.addHook('onRequest', async (request) => {
      if (!isProtected(request)) return;
      const header = request.headers.authorization;
      const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
      if (!match?.[1]) {
        throw unauthorized('missing bearer token: send the header "Authorization: Bearer <token>" with one of the API tokens', header !== undefined);
      }
      const given = digest(match[1]);
      let ok = false;
      for (const expected of digests) ok = timingSafeEqual(given, expected) || ok;
      if (!ok) throw unauthorized('the bearer token is not valid for this API', true);
      // Eight hex digits tell the configured tokens apart in an audit trail; they are no use for guessing one.
      request.apiCaller = `api-token:${given.toString('hex').slice(0, 8)}`;
    });
  },
  { name: 'auth', fastify: '5.x' },
);
