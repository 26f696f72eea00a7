/**
 * OpenAPI 3 built from the route schemas, served as JSON at GET /openapi.json, and, when `docsUi` is on,
 * as an interactive page for people at GET /docs (Swagger UI: try a request with a bearer token).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';

export default fp<{ docsUi?: boolean }>(
  async (fastify, { docsUi = false }) => {
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
    if (docsUi) {
      await fastify.register(swaggerUi, {
        routePrefix: '/docs',
        // Assets are served from the package with a strict Content-Security-Policy; nothing is fetched from a CDN.
        staticCSP: true,
        uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false },
      });
    }
  },
  { name: 'swagger', fastify: '5.x' },
);
