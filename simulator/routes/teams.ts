/**
 * Teams admin API ("ConfigAPI", token audience 48ac35b8-…), modelled on the application-instance
 * endpoints behind New-/Get-CsOnlineApplicationInstance (reference notes 2.2). Creating an instance
 * creates the disabled directory user that Graph will only see after the replication window; Teams
 * itself reads its own writes, so lookups here find the instance at once.
 */
import type { FastifyInstance } from 'fastify';
import { RESOURCE_ACCOUNT_APP_IDS, kindForApplicationId } from '../../lib/microsoft';
import type { SimulatorContext } from '../context';
import { GraphApiError } from '../errors';
import { applicationInstanceView } from '../views';

const APPLICATION_INSTANCES = '/Teams.PlatformService/v2/ApplicationInstances';
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 500;

interface ListQuery {
  userPrincipalName?: string;
  pageSize?: string;
  skipToken?: string;
}

export async function teamsRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  const invalid = (message: string) => new GraphApiError(400, 'BadRequest', message);
  // The user map keeps creation order, which makes skipToken offsets stable across pages.
  const instances = () => [...context.state.users.values()].filter((user) => user.applicationId !== null);

  app.get<{ Querystring: ListQuery }>(APPLICATION_INSTANCES, async (request) => {
    const { userPrincipalName, pageSize, skipToken } = request.query;
    if (userPrincipalName !== undefined) {
      const wanted = userPrincipalName.toLowerCase();
      const found = instances().filter((user) => user.userPrincipalName.toLowerCase() === wanted);
      return { applicationInstances: found.map((user) => applicationInstanceView(context.state, user)), skipToken: null };
    }
    const size = pageSize === undefined ? DEFAULT_PAGE_SIZE : Number(pageSize);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalid(`pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
    const offset = skipToken === undefined ? 0 : decodeSkipToken(skipToken);
    if (offset === undefined) throw invalid('skipToken is not one this service issued; start again without it.');
    const all = instances();
    const page = all.slice(offset, offset + size);
    return {
      applicationInstances: page.map((user) => applicationInstanceView(context.state, user)),
      skipToken: offset + size < all.length ? encodeSkipToken(offset + size) : null,
    };
  });

  app.get<{ Params: { objectId: string } }>(`${APPLICATION_INSTANCES}/:objectId`, async (request) => {
    const user = context.state.users.get(request.params.objectId.toLowerCase());
    if (!user || user.applicationId === null) {
      throw new GraphApiError(404, 'NotFound', `Application instance '${request.params.objectId}' was not found.`);
    }
    return applicationInstanceView(context.state, user);
  });

  app.post<{ Body: unknown }>(APPLICATION_INSTANCES, async (request, reply) => {
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
    return reply.code(201).send(applicationInstanceView(context.state, user));
  });
}

function encodeSkipToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

function decodeSkipToken(token: string): number | undefined {
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString()) as { offset?: unknown };
    return Number.isInteger(offset) && (offset as number) >= 0 ? (offset as number) : undefined;
  } catch {
    return undefined;
  }
}
