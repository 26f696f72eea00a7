/**
 * What makes the simulator behave like a busy public cloud rather than a local database: latency, the
 * per-app throttling budget, and random transient failures. Applied to Graph and Teams routes only; the
 * token endpoint and the control API stay dependable so a rehearsal fails where production would.
 *
 * Transient 429 and 503 are decided before the request is processed (nothing changes). A 504 is decided
 * after it: the write is applied and only the answer is lost, as with a real gateway timeout, so
 * clients must make their retries idempotent. Throttling charges resource units and, for writes, the
 * write quota; a 429 names the quota it ran out of, and a share of 429/503s lack `Retry-After`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimulatorContext } from './context';
import { GraphApiError, graphErrorBody } from './errors';
import type { CmdletName } from './options';
import { resourceUnitCost } from './throttle';
import type { ThrottleDecision } from './throttle';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when this request's response will be replaced by a 504 after it has been processed. */
    responseLost: boolean;
  }
}

/** Retry-After the simulated service asks for on transient 429/503, before time scaling. */
const TRANSIENT_RETRY_AFTER = { minMs: 1_000, maxMs: 5_000 };

/** HTTP Retry-After is whole seconds; Microsoft never sends 0, so neither do we. */
function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/** Graph's 429 (Graph throttling, sample response), with the headers of the limit that was hit. */
function tooManyRequests(headers: Record<string, string>): GraphApiError {
  return new GraphApiError(429, 'TooManyRequests', 'Please retry again later.', undefined, headers);
}

/** The highest `x-ms-throttle-limit-percentage` Graph reports (reference notes 6.2: 0.8 to 1.8). */
const MAX_LIMIT_PERCENTAGE = 1.8;

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
/** Identity and access resources, whose 429s Graph documents with Retry-After (Graph throttling). */
const IDENTITY_ROUTE = /^\/v1\.0\/(users|subscribedSkus|directory)\b/;

/** onRequest hook (after authentication): latency, then throttling, then a random transient fault. */
export function cloudBehaviour(context: SimulatorContext) {
  /**
   * Graph documents Retry-After on every 429 of the identity and access resources (users, subscribedSkus,
   * directory); for the Teams routes and for 503s it documents nothing, so there a share of answers,
   * `retryAfterOmissionRate`, come without it and clients must back off on their own.
   */
  const retryHeaders = (request: FastifyRequest, status: 429 | 503, retryAfterMs: number): Record<string, string> => {
    const documented = status === 429 && IDENTITY_ROUTE.test(request.url);
    return !documented && context.random() < context.behaviour.retryAfterOmissionRate ? {} : { 'retry-after': retryAfterSeconds(retryAfterMs) };
  };

  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const { behaviour } = context;
    // The stand-in for pwsh names the cmdlet a request serves; that cmdlet's latency stands for the module's.
    const cmdlet = request.headers['x-dialtone-cmdlet'];
    const cmdletLatency = typeof cmdlet === 'string' && Object.hasOwn(behaviour.cmdletLatency, cmdlet) ? behaviour.cmdletLatency[cmdlet as CmdletName] : undefined;
    const latencyMs = context.scaled(cmdletLatency ?? behaviour.latency);
    if (latencyMs >= 1) await new Promise((resolve) => setTimeout(resolve, latencyMs));

    const appId = request.caller?.appId ?? 'anonymous';
    const { tenantId } = context.options;
    const cost = resourceUnitCost(request.method, request.routeOptions.url, request.query as Record<string, unknown>);
    void reply.header('x-ms-resource-unit', String(cost));
    const now = context.now();
    const decisions: { decision: ThrottleDecision; scope: string; information: string }[] = [];
    if (behaviour.throttle) {
      decisions.push({
        decision: context.throttle.charge(`${tenantId}/${appId}`, cost, behaviour.throttle, behaviour.throttle.windowMs * behaviour.timeScale, now),
        scope: 'ReadWrite',
        information: 'ResourceUnitLimitExceeded',
      });
    }
    if (behaviour.writeQuota && WRITE_METHODS.has(request.method)) {
      const quota = behaviour.writeQuota;
      decisions.push({
        decision: context.throttle.charge(`${tenantId}/${appId}/writes`, 1, { resourceUnits: quota.requests, windowMs: quota.windowMs },
          quota.windowMs * behaviour.timeScale, now),
        scope: 'Write',
        information: 'WriteLimitExceeded',
      });
    }
    const usage = Math.max(0, ...decisions.map(({ decision }) => decision.usage));
    if (usage >= 0.8) void reply.header('x-ms-throttle-limit-percentage', Math.min(usage, MAX_LIMIT_PERCENTAGE).toFixed(1));
    const throttled = decisions.filter(({ decision }) => decision.throttled)
      .sort((a, b) => b.decision.retryAfterMs - a.decision.retryAfterMs)[0];
    if (throttled) {
      throw tooManyRequests({
        ...retryHeaders(request, 429, throttled.decision.retryAfterMs),
        'x-ms-throttle-scope': `Tenant_Application/${throttled.scope}/${appId}/${tenantId}`,
        'x-ms-throttle-information': throttled.information,
      });
    }

    if (behaviour.faultRate > 0 && context.random() < behaviour.faultRate) {
      const kind = context.random();
      const retryAfterMs = context.scaled(TRANSIENT_RETRY_AFTER);
      if (kind < 0.4) {
        throw tooManyRequests({
          ...retryHeaders(request, 429, retryAfterMs),
          'x-ms-throttle-information': 'CPULimitExceeded',
        });
      }
      if (kind < 0.8) {
        throw new GraphApiError(503, 'serviceNotAvailable', 'The service is temporarily unavailable. Retry the request after a delay.', undefined,
          retryHeaders(request, 503, retryAfterMs));
      }
      request.responseLost = true;
    }
  };
}

/** onSend hook: replaces the answer of a request picked for a lost response with a gateway timeout. */
export function loseResponse(context: SimulatorContext) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (!request.responseLost) return payload;
    request.responseLost = false;
    void reply.removeHeader('location');
    void reply.code(504).header('content-type', 'application/json; charset=utf-8');
    return JSON.stringify(graphErrorBody(request, context.now(), 'UnknownError', 'The gateway timed out waiting for the service.'));
  };
}
