/**
 * The Entra ID side: OpenID discovery, signing keys and the v2.0 token endpoint (client credentials
 * with a client secret), for two directories: the customer's tenant (Graph, Teams) and the CSP
 * partner's (whose app Partner Center accepts). Each tenant knows only its own apps, as in Entra: an
 * app asked for at the other tenant's endpoint is AADSTS700016. MSAL, inside @azure/identity's ClientSecretCredential, fetches the discovery
 * document from `{authorityHost}/{tenant}/v2.0/.well-known/openid-configuration`, checks that the
 * issuer has the authority's origin, and then posts to the token endpoint it names. Errors use Entra's
 * OAuth shape with its AADSTS codes, which MSAL surfaces in the client's exception message.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GRAPH_RESOURCE, PARTNER_CENTER_RESOURCE, TEAMS_ADMIN_RESOURCE } from '../../lib/microsoft';
import type { Audience } from '../auth';
import { ACCESS_TOKEN_LIFETIME_SECONDS, GRAPH_APP_ID } from '../auth';
import type { SimulatorContext } from '../context';
import { baseUrl } from '../http';
import type { SimulatedApp } from '../options';

interface TenantParams {
  tenant: string;
}

/** Scopes MSAL may add to any request; they do not name a resource. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access']);

const RESOURCES: Record<string, Audience> = {
  [GRAPH_RESOURCE]: GRAPH_RESOURCE,
  [`${GRAPH_RESOURCE}/`]: GRAPH_RESOURCE,
  [GRAPH_APP_ID]: GRAPH_RESOURCE,
  [TEAMS_ADMIN_RESOURCE]: TEAMS_ADMIN_RESOURCE,
  [`api://${TEAMS_ADMIN_RESOURCE}`]: TEAMS_ADMIN_RESOURCE,
  [PARTNER_CENTER_RESOURCE]: PARTNER_CENTER_RESOURCE,
};

class OAuthError {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly code: number,
    readonly description: string,
  ) {}
}

export async function identityRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  const { options } = context;

  interface Directory {
    tenantId: string;
    organizationName: string;
    findApp(clientId: string): SimulatedApp | undefined;
  }
  const customer: Directory = { tenantId: options.tenantId, organizationName: options.organizationName, findApp: (id) => context.findApp(id) };
  const partner: Directory = { tenantId: options.partner.tenantId, organizationName: options.partner.organizationName, findApp: (id) => context.findPartnerApp(id) };

  /** The tenant path segment may be the tenant id or a verified domain, as on login.microsoftonline.com. */
  const resolveTenant = (tenant: string): Directory => {
    const key = tenant.toLowerCase();
    if (key === options.tenantId || options.domains.includes(key)) return customer;
    if (key === options.partner.tenantId || options.partner.domains.includes(key)) return partner;
    throw new OAuthError(400, 'invalid_tenant', 90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. ` +
      'Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.');
  };
  const directoryOf = (request: FastifyRequest): Directory => resolveTenant((request.params as TenantParams).tenant);

  const issuer = (request: FastifyRequest): string => `${baseUrl(request)}/${directoryOf(request).tenantId}/v2.0`;

  const sendOAuthError = (request: FastifyRequest, reply: FastifyReply, error: OAuthError): FastifyReply => {
    const traceId = request.id;
    const correlationId = typeof request.headers['client-request-id'] === 'string' ? request.headers['client-request-id'] : randomUUID();
    const timestamp = new Date(context.now()).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
    return reply.code(error.statusCode).header('cache-control', 'no-store, no-cache').send({
      error: error.error,
      error_description: `AADSTS${error.code}: ${error.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [error.code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${error.code}`,
    });
  };

  /** Every identity route is per tenant and answers failures in the OAuth error shape. */
  const handle = (handler: (request: FastifyRequest, reply: FastifyReply) => unknown) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('x-ms-request-id', request.id);
      try {
        resolveTenant((request.params as TenantParams).tenant);
        return await handler(request, reply);
      } catch (error) {
        if (error instanceof OAuthError) return sendOAuthError(request, reply, error);
        throw error;
      }
    };

  app.get('/:tenant/v2.0/.well-known/openid-configuration', handle((request) => {
    const base = baseUrl(request);
    const tenantBase = `${base}/${directoryOf(request).tenantId}`;
    return {
      token_endpoint: `${tenantBase}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      jwks_uri: `${tenantBase}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: issuer(request),
      request_uri_parameter_supported: false,
      // Present because MSAL requires them in any discovery document; the simulator serves only client credentials.
      authorization_endpoint: `${tenantBase}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${tenantBase}/oauth2/v2.0/logout`,
      tenant_region_scope: 'NA',
      cloud_instance_name: 'microsoftonline.com',
      msgraph_host: request.host,
    };
  }));

  app.get('/:tenant/discovery/v2.0/keys', handle(() => context.tokens.jwks()));

  app.post('/:tenant/oauth2/v2.0/token', handle((request, reply) => {
    const form = (request.body ?? {}) as Record<string, string | undefined>;
    if (form.grant_type !== 'client_credentials') {
      if (form.grant_type === undefined) throw missingParameter('grant_type');
      throw new OAuthError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${form.grant_type}'.`);
    }
    const basic = parseBasicAuthorization(request.headers.authorization);
    const clientId = form.client_id ?? basic?.clientId;
    const clientSecret = form.client_secret ?? basic?.clientSecret;
    if (!clientId) throw missingParameter('client_id');
    const directory = directoryOf(request);
    const application = directory.findApp(clientId);
    if (!application) {
      throw new OAuthError(400, 'unauthorized_client', 700016,
        `Application with identifier '${clientId}' was not found in the directory '${directory.organizationName}'. ` +
        'This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. ' +
        'You may have sent your authentication request to the wrong tenant.');
    }
    if (!clientSecret) {
      throw new OAuthError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    if (clientSecret !== application.clientSecret) {
      throw new OAuthError(401, 'invalid_client', 7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${application.clientId}'.`);
    }
    const audience = resolveAudience(form.scope, directory.organizationName);
    return reply.header('cache-control', 'no-store, no-cache').send({
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
      ext_expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
      access_token: context.tokens.issue(application, audience, directory.tenantId),
    });
  }));
}

function missingParameter(name: string): OAuthError {
  return new OAuthError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`);
}

function parseBasicAuthorization(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const encoded = /^Basic\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString();
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { clientId: decodeURIComponent(decoded.slice(0, colon)), clientSecret: decodeURIComponent(decoded.slice(colon + 1)) };
}

/** Client credentials need exactly one resource, written `<resource>/.default`. */
function resolveAudience(scope: string | undefined, organizationName: string): Audience {
  const scopes = (scope ?? '').split(' ').filter((entry) => entry !== '' && !OIDC_SCOPES.has(entry));
  if (scopes.length === 0) throw missingParameter('scope');
  const invalid = scopes.find((entry) => !entry.endsWith('/.default'));
  if (invalid !== undefined) {
    throw new OAuthError(400, 'invalid_scope', 1002012,
      `The provided value for scope ${invalid} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
  }
  const resources = new Set(scopes.map((entry) => entry.slice(0, -'/.default'.length)));
  if (resources.size > 1) {
    throw new OAuthError(400, 'invalid_scope', 28000,
      `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scopes.join(' ')} is not valid.`);
  }
  const [resource = ''] = resources;
  const audience = RESOURCES[resource] ?? RESOURCES[resource.toLowerCase()];
  if (!audience) {
    throw new OAuthError(400, 'invalid_resource', 500011,
      `The resource principal named ${resource} was not found in the tenant named ${organizationName}. ` +
      'This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. ' +
      'You might have sent your authentication request to the wrong tenant.');
  }
  return audience;
}
