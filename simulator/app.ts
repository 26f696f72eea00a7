/**
 * The tenant simulator: one HTTPS server that answers as Microsoft Entra ID (token endpoint, for the
 * tenant and for its CSP partner's tenant), Microsoft Graph, the Teams admin API and Partner Center would
 * for one tenant, so the product's real clients run against it unchanged (DESIGN.md section 4). Surfaces:
 * - `/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/oauth2/v2.0/token`, `/{tenant}/discovery/v2.0/keys`
 * - `/v1.0/…` Graph (token audience https://graph.microsoft.com, permission per route)
 * - `/Teams.PlatformService/…` Teams admin API (audience 48ac35b8-…, Teams Administrator role)
 * - `/v1/…` Partner Center (audience https://api.partnercenter.microsoft.com, tokens of the partner's tenant, app registered for CSP)
 * - `/_simulator/…` control API (no authentication)
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:https';
import Fastify, { LogController } from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import { GRAPH_RESOURCE, TEAMS_ADMIN_RESOURCE } from '../lib/microsoft';
import { authenticate, requireGraphPermission, requireDirectoryRoles } from './auth';
import { SimulatorContext } from './context';
import { GraphApiError, clientRequestId, graphErrorBody, sendGraphError } from './errors';
import { cloudBehaviour, loseResponse } from './faults';
import type { ResolvedOptions, SimulatorOptions, SimulatorTlsOptions } from './options';
import { CMDLET_NAMES, SimulatorConfigError, resolveOptions } from './options';
import { CONTROL_PREFIX, controlRoutes } from './routes/control';
import { graphDirectoryRoutes } from './routes/graph-directory';
import { graphTeamsRoutes } from './routes/graph-teams';
import { identityRoutes } from './routes/identity';
import { advancePartnerCenter, partnerCenterRoutes } from './routes/partner-center';
import { teamsRoutes } from './routes/teams';

export type { SimulatorOptions } from './options';

/** The simulator's Fastify instance (an HTTPS server). */
export type SimulatorInstance = FastifyInstance<Server>;

export async function buildSimulator(options: SimulatorOptions): Promise<SimulatorInstance> {
  const context = createContext(resolveOptions(options));
  const app = Fastify({
    https: await loadTls(options.tls),
    logger: options.logger ?? false,
    // Per-request lines would drown a rehearsal of thousands of calls; /_simulator/requests counts them instead.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    rewriteUrl: (request) => rewriteODataKeys(request.url ?? '/'),
  });

  app.decorateRequest('caller', null);
  app.decorateRequest('responseLost', false);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('request-id', request.id).header('client-request-id', clientRequestId(request));
    // Background work (number operations) completes here, before the request can observe its effects.
    context.state.advance();
    advancePartnerCenter(context);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (!request.url.startsWith(CONTROL_PREFIX)) {
      const information = reply.getHeader('x-ms-throttle-information');
      // Only the stand-in's known cmdlets are kept apart, so a client cannot grow the counts at will.
      const cmdlet = request.headers['x-dialtone-cmdlet'];
      const known = typeof cmdlet === 'string' && (CMDLET_NAMES as readonly string[]).includes(cmdlet) ? cmdlet : undefined;
      context.requests.record(request.method, request.routeOptions.url, reply.statusCode, typeof information === 'string' ? information : undefined, known);
    }
    // Any request may have changed the tenant (including advance() above); the store writes only if it did.
    context.store?.schedule();
  });

  const { store } = context;
  if (store) {
    store.useLogger(app.log);
    app.log.info(context.restored
      ? `Tenant state loaded from ${store.path} (seed options ignored until POST ${CONTROL_PREFIX}/reset)`
      : `Tenant state seeded from the options; it is kept in ${store.path}`);
    // A write is on disk before its answer leaves: Microsoft does not forget what it confirmed, so a
    // killed simulator must not either. Reads save on the schedule (what they change, advance() recomputes).
    app.addHook('onSend', async (request, _reply, payload) => {
      if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method)) store.saveOrLog();
      return payload;
    });
    app.addHook('onClose', async () => store.saveOrLog());
  }

  app.setErrorHandler((error: FastifyError | GraphApiError, request, reply) => {
    if (error instanceof GraphApiError) return sendGraphError(reply, context.now(), error);
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send(graphErrorBody(request, context.now(), 'BadRequest', error.message));
    request.log.error({ err: error }, 'tenant simulator failed to answer');
    return reply.code(500).send(graphErrorBody(request, context.now(), 'UnknownError', 'The tenant simulator failed to process the request.'));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (path.startsWith('/v1.0/')) {
      const segment = decodeURIComponent(path.split('/').filter(Boolean).pop() ?? '');
      return reply.code(400).send(graphErrorBody(request, context.now(), 'BadRequest', `Resource not found for the segment '${segment}'.`));
    }
    return reply.code(404).send(graphErrorBody(request, context.now(), 'NotFound',
      `The tenant simulator has no endpoint ${request.method} ${path}.`));
  });

  await app.register(identityRoutes, { context });

  await app.register(async (graph) => {
    graph.addHook('onRequest', authenticate(context.tokens, GRAPH_RESOURCE));
    graph.addHook('onRequest', cloudBehaviour(context));
    graph.addHook('preHandler', requireGraphPermission);
    graph.addHook('onSend', loseResponse(context));
    await graph.register(graphDirectoryRoutes, { context });
    await graph.register(graphTeamsRoutes, { context });
  });

  await app.register(async (teams) => {
    teams.addHook('onRequest', authenticate(context.tokens, TEAMS_ADMIN_RESOURCE));
    teams.addHook('onRequest', cloudBehaviour(context));
    teams.addHook('preHandler', requireDirectoryRoles);
    teams.addHook('onSend', loseResponse(context));
    await teams.register(teamsRoutes, { context });
  });

  await app.register(partnerCenterRoutes, { context });
  await app.register(controlRoutes, { context });
  return app;
}

/**
 * The URL clients should use for a listening simulator (`https://localhost:<port>`): the certificate
 * names localhost, and MSAL compares the issuer's origin with the authority's.
 */
export function simulatorUrl(app: SimulatorInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('The simulator is not listening on a TCP port yet');
  return `https://localhost:${address.port}`;
}

/** Seeding applies the tenant's own rules (verified domains, free units…); a seed that breaks them is an options error. */
function createContext(options: ResolvedOptions): SimulatorContext {
  try {
    return new SimulatorContext(options);
  } catch (error) {
    if (error instanceof GraphApiError) throw new SimulatorConfigError(`Invalid simulator options: the seed cannot be applied: ${error.message}`);
    throw error;
  }
}

async function loadTls(tls: SimulatorTlsOptions): Promise<{ cert: string | Buffer; key: string | Buffer }> {
  const cert = tls.cert ?? (tls.certPath === undefined ? undefined : await readFile(tls.certPath));
  const key = tls.key ?? (tls.keyPath === undefined ? undefined : await readFile(tls.keyPath));
  if (cert === undefined || key === undefined) {
    throw new Error('Simulator options: tls needs cert and key (PEM) or certPath and keyPath; ensureSimulatorTls(dir) returns the paths');
  }
  return { cert, key };
}

/** OData addresses an entity as `collection('key')` or `collection/key`; route both the same way. */
function rewriteODataKeys(url: string): string {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  const rewritten = path.replace(/\/([A-Za-z]+)\((?:'|%27)([^'%()/]+)(?:'|%27)\)/g, '/$1/$2');
  return query < 0 ? rewritten : rewritten + url.slice(query);
}
