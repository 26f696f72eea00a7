/**
 * `fastify.temporal`: the process's one Temporal client. The connection is lazy, so the API starts
 * (and /readyz says 503) while Temporal is still coming up; it is closed with the app. An injected
 * client belongs to the caller and is left open.
 */
import { Client, Connection } from '@temporalio/client';
import fp from 'fastify-plugin';
import type { TemporalConfig } from '../../lib/config';
import { temporalConnectionOptions } from '../../lib/temporal-connection';

declare module 'fastify' {
  interface FastifyInstance {
    temporal: Client;
  }
}

export interface TemporalPluginOptions {
  config: TemporalConfig;
  client?: Client;
}

export default fp<TemporalPluginOptions>(
  async (fastify, { config, client }) => {
    if (client) {
      fastify.decorate('temporal', client);
      return;
    }
    const connection = Connection.lazy(temporalConnectionOptions(config));
    fastify.decorate('temporal', new Client({ connection, namespace: config.namespace }));
    fastify.addHook('onClose', async () => {
      await connection.close();
    });
  },
  { name: 'temporal', fastify: '5.x' },
);
