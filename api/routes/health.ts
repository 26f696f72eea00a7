/** Liveness and readiness for orchestrators; outside /v1, so no token is needed. */
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

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
        description: 'Answers within about 2 seconds; ready again within about a second of Temporal answering after an outage.',
        response: { 200: Ready, 503: NotReady },
      },
    },
    async (_request, reply) => {
      const readiness = await fastify.temporalReadiness();
      return readiness.ready
        ? reply.code(200).send({ status: 'ready' })
        : reply.code(503).send({ status: 'not-ready', reason: readiness.reason });
    },
  );
};

export default healthRoutes;
