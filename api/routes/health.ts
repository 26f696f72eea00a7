/** Liveness and readiness for orchestrators; outside /v1, so no token is needed. */
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** How long /readyz waits for Temporal before calling the API not ready. */
export const READINESS_TIMEOUT_MS = 3000;

const Ready = Type.Object({ status: Type.Literal('ready') });
const NotReady = Type.Object({ status: Type.Literal('not-ready'), reason: Type.String() });

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The process is alive',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  fastify.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Temporal is reachable, so requests can be served',
        response: { 200: Ready, 503: NotReady },
      },
    },
    async (request, reply) => {
      try {
        await fastify.temporal.withDeadline(Date.now() + READINESS_TIMEOUT_MS, () => fastify.temporal.workflowService.getSystemInfo({}));
        return reply.code(200).send({ status: 'ready' });
      } catch (err) {
        request.log.warn({ err }, 'readiness check: Temporal is not reachable');
        return reply.code(503).send({ status: 'not-ready', reason: 'Temporal is not reachable' });
      }
    },
  );
};

export default healthRoutes;
