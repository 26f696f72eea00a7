/** `fastify.batches`: the verbs the /v1/batches routes call. */
import fp from 'fastify-plugin';
import { BatchService } from '../services/batches';
import type { BatchServiceOptions } from '../services/batches';

declare module 'fastify' {
  interface FastifyInstance {
    batches: BatchService;
  }
}

export type BatchesPluginOptions = Omit<BatchServiceOptions, 'client'>;

export default fp<BatchesPluginOptions>(
  async (fastify, options) => {
    fastify.decorate('batches', new BatchService({ ...options, client: fastify.temporal }));
  },
  { name: 'batches', dependencies: ['temporal'], fastify: '5.x' },
);
