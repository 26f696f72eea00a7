/** OpenAPI 3 built from the route schemas, served as JSON at GET /openapi.json. */
import swagger from '@fastify/swagger';
import fp from 'fastify-plugin';

export default fp(
  async (fastify) => {
    await fastify.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Dialtone API',
          version: '1.0.0',
          description: 'Durable provisioning of Microsoft Teams Phone resource accounts (auto attendants and call queues).',
        },
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'One of the tokens in API_AUTH_TOKENS' } },
        },
        tags: [
          { name: 'resource-accounts', description: 'Provision one resource account and follow it' },
          { name: 'batches', description: 'Provision many resource accounts from one CSV or JSON file, follow and steer them' },
          { name: 'operations', description: 'Health, readiness and metrics' },
        ],
      },
    });
    fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());
  },
  { name: 'swagger', fastify: '5.x' },
);
