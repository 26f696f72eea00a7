/**
 * Bearer-token authentication on every /v1 route. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, against every configured token, so neither a token's length nor which token
 * matched shows in the response time. `request.apiCaller` names who called, for audit trails, without
 * the token itself.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiAuthConfig } from '../config';
import { ApiError } from '../errors';

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
      fastify.log.warn('API authentication is disabled (API_AUTH_DISABLED=true): anyone who can reach the API can use it');
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
