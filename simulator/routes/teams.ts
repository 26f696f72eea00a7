/**
 * Teams admin API ("ConfigAPI", token audience 48ac35b8-…), modelled on the application-instance
 * endpoints behind New-/Get-CsOnlineApplicationInstance (reference notes 2.2). Only the paged read is
 * known from public code (`GET …/ApplicationInstances?pageSize=&skipToken=`, with the headers
 * `x-authz-scope: tenant`, `x-ms-correlation-id` and `X-Requested-With`); everything else is unknown, so
 * the simulator takes the least convenient plausible reading (simulator README):
 * - unknown query parameters are ignored (no lookup by UPN: a client must page);
 * - pages hold at most 100 instances, whatever `pageSize` asks for;
 * - a new instance is neither listed nor found until the listing delay has passed (no read-your-writes);
 * - creating answers 200 with the instance; a UPN in use is Graph's 400 `ObjectConflict`;
 * - requests without the three headers are refused.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RESOURCE_ACCOUNT_APP_IDS, kindForApplicationId } from '../../lib/microsoft';
import { TEAMS_ADMIN_ROLES, USER_ADMIN_ROLES } from '../auth';
import type { SimulatorContext } from '../context';
import { GraphApiError } from '../errors';
import { isGuid } from '../ids';
import { decodeSkipToken, encodeSkipToken } from '../odata';
import { applicationInstanceView } from '../views';

export const APPLICATION_INSTANCES = '/Teams.PlatformService/v2/ApplicationInstances';
const MAX_PAGE_SIZE = 100;

interface ListQuery {
  pageSize?: string;
  skipToken?: string;
}

const invalid = (message: string) => new GraphApiError(400, 'BadRequest', message);

/** The headers public clients of the service always send; the simulator requires them. */
async function requireClientHeaders(request: FastifyRequest): Promise<void> {
  const { headers } = request;
  if (String(headers['x-authz-scope'] ?? '').toLowerCase() !== 'tenant') throw invalid("The header 'x-authz-scope: tenant' is required.");
  if (!isGuid(String(headers['x-ms-correlation-id'] ?? ''))) throw invalid("The header 'x-ms-correlation-id' must be a GUID.");
  if (headers['x-requested-with'] === undefined) throw invalid("The header 'X-Requested-With' is required.");
}

export async function teamsRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  app.addHook('preHandler', requireClientHeaders);

  app.get<{ Querystring: ListQuery }>(APPLICATION_INSTANCES, async (request) => {
    const { pageSize, skipToken } = request.query;
    const asked = pageSize === undefined ? MAX_PAGE_SIZE : Number(pageSize);
    if (!Number.isInteger(asked) || asked < 1) throw invalid('pageSize must be a whole number of at least 1.');
    const size = Math.min(asked, MAX_PAGE_SIZE);
    const offset = skipToken === undefined ? 0 : decodeSkipToken(skipToken);
    if (offset === undefined) throw invalid('skipToken is not one this service issued; start again without it.');
    const all = context.state.listedApplicationInstances();
    return {
      applicationInstances: all.slice(offset, offset + size).map((user) => applicationInstanceView(context.state, user)),
      skipToken: offset + size < all.length ? encodeSkipToken(offset + size) : null,
    };
  });

  app.get<{ Params: { objectId: string } }>(`${APPLICATION_INSTANCES}/:objectId`, async (request) => {
    const wanted = request.params.objectId.toLowerCase();
    const user = context.state.listedApplicationInstances().find((instance) => instance.id === wanted);
    if (!user) throw new GraphApiError(404, 'NotFound', `Application instance '${request.params.objectId}' was not found.`);
    return applicationInstanceView(context.state, user);
  });

  app.post<{ Body: unknown }>(APPLICATION_INSTANCES, {
    config: { directoryRoles: [TEAMS_ADMIN_ROLES, USER_ADMIN_ROLES] },
  }, async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalid('The request body must be a JSON object with userPrincipalName, displayName and applicationId.');
    }
    const { userPrincipalName, displayName, applicationId } = body as Record<string, unknown>;
    if (typeof userPrincipalName !== 'string' || userPrincipalName === '') throw invalid('userPrincipalName is required.');
    if (typeof displayName !== 'string' || displayName.trim() === '') throw invalid('displayName is required.');
    if (typeof applicationId !== 'string' || kindForApplicationId(applicationId) === undefined) {
      throw invalid(`applicationId ${JSON.stringify(applicationId ?? null)} is not a supported application: use the auto attendant ` +
        `(${RESOURCE_ACCOUNT_APP_IDS.autoAttendant}) or call queue (${RESOURCE_ACCOUNT_APP_IDS.callQueue}) application id.`);
    }
    const user = context.state.createApplicationInstance({ userPrincipalName, displayName, applicationId });
    return reply.code(200).send(applicationInstanceView(context.state, user));
  });
}
