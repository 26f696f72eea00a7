/** Request helpers shared by the route modules. */
import type { FastifyRequest } from 'fastify';

/**
 * The simulator's own origin as the client addressed it (`https://localhost:8443`,
 * `https://simulator:8443`…), so discovery documents, `Location` headers and next links point back to
 * wherever the client can reach it.
 */
export function baseUrl(request: FastifyRequest): string {
  return `https://${request.host}`;
}
