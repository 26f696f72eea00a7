/** `fastify.resourceAccounts`: the verbs the /v1/resource-accounts routes call. */
import fp from 'fastify-plugin';
import { ResourceAccountService } from '../services/resource-accounts';
import type { ResourceAccountServiceOptions } from '../services/resource-accounts';

declare module 'fastify' {
  interface FastifyInstance {
    resourceAccounts: ResourceAccountService;
  }
}

export type ResourceAccountsPluginOptions = Omit<ResourceAccountServiceOptions, 'client'>;

export default fp<ResourceAccountsPluginOptions>(
  async (fastify, options) => {
    fastify.decorate('resourceAccounts', new ResourceAccountService({ ...options, client: fastify.temporal }));
  },
  { name: 'resource-accounts', dependencies: ['temporal'], fastify: '5.x' },
);
