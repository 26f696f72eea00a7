/**
 * What makes the simulator behave like a busy public cloud rather than a local database: latency, the
 * per-app throttling budget, and random transient failures. Applied to Graph and Teams routes only; the
 * token endpoint and the control API stay dependable so a rehearsal fails where production would.
 *
 * Transient 429 and 503 are decided before the request is processed (nothing changes). A 504 is decided
 * after it: the write is applied and only the answer is lost, as with a real gateway timeout, so
 * clients must make their retries idempotent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimulatorContext } from './context';
import { GraphApiError, graphErrorBody } from './errors';
import { resourceUnitCost } from './throttle';

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

/** onRequest hook (after authentication): latency, then throttling, then a random transient fault. */
export function cloudBehaviour(context: SimulatorContext) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const { behaviour } = context;
    const latencyMs = context.scaled(behaviour.latency);
    if (latencyMs >= 1) await new Promise((resolve) => setTimeout(resolve, latencyMs));

    const appId = request.caller?.appId ?? 'anonymous';
    const cost = resourceUnitCost(request.method, request.routeOptions.url, request.query as Record<string, unknown>);
    void reply.header('x-ms-resource-unit', String(cost));
    if (behaviour.throttle) {
      const { tenantId } = context.options;
      const decision = context.throttle.charge(
        `${tenantId}/${appId}`, cost, behaviour.throttle, behaviour.throttle.windowMs * behaviour.timeScale, context.now());
      if (decision.usage >= 0.8) void reply.header('x-ms-throttle-limit-percentage', decision.usage.toFixed(1));
      if (decision.throttled) {
        throw new GraphApiError(429, 'activityLimitReached', 'The app or user has been throttled.', undefined, {
          'retry-after': retryAfterSeconds(decision.retryAfterMs),
          'x-ms-throttle-scope': `Tenant_Application/ReadWrite/${appId}/${tenantId}`,
          'x-ms-throttle-information': 'ResourceUnitLimitExceeded',
        });
      }
    }

    if (behaviour.faultRate > 0 && context.random() < behaviour.faultRate) {
      const kind = context.random();
      const retryAfter = retryAfterSeconds(context.scaled(TRANSIENT_RETRY_AFTER));
      if (kind < 0.4) {
        throw new GraphApiError(429, 'activityLimitReached', 'The app or user has been throttled.', undefined, {
          'retry-after': retryAfter,
          'x-ms-throttle-information': 'CPULimitExceeded',
        });
      }
      if (kind < 0.8) {
        throw new GraphApiError(503, 'serviceNotAvailable', 'The service is temporarily unavailable. Retry the request after a delay.', undefined, {
          'retry-after': retryAfter,
        });
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
