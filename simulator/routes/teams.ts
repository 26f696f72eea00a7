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
 *
 * Associations with auto attendants and call queues follow the paths in the module's cmdlet synopses
 * (`POST/GET Teams.VoiceApps/applicationinstanceassociations`, reference notes 5.1); the body field names
 * and the error codes `AppEndpointAlreadyAssociated`, `AppEndpointNotFound` and
 * `AppEndpointMissingProvisioning` are from the module's metadata, statuses are the least convenient reading:
 * - any existing association is a 409, even to the same auto attendant (a retry must read first);
 * - the account must hold a license that has reached Teams ("an internal check will cause a failure" on
 *   association without a valid license, manage-resource-accounts);
 * - an auto-attendant account only goes to an auto attendant, a call-queue account to a call queue.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RESOURCE_ACCOUNT_APP_IDS, kindForApplicationId } from '../../lib/microsoft';
import { TEAMS_ADMIN_ROLES, USER_ADMIN_ROLES } from '../auth';
import type { SimulatorContext } from '../context';
import { GraphApiError } from '../errors';
import { isGuid } from '../ids';
import { decodeSkipToken, encodeSkipToken } from '../odata';
import type { AssociationRecord } from '../state';
import { applicationInstanceView } from '../views';

export const APPLICATION_INSTANCES = '/Teams.PlatformService/v2/ApplicationInstances';
export const ASSOCIATIONS = '/Teams.VoiceApps/applicationinstanceassociations';
/** The stand-in's route for lookups by identity (the module's own is UNKNOWN). */
export const APPLICATION_INSTANCE_LOOKUP = `${APPLICATION_INSTANCES}/lookup`;
const VOICE_APP_PATHS = { AutoAttendant: '/Teams.VoiceApps/auto-attendants', CallQueue: '/Teams.VoiceApps/callqueues' } as const;
const CONFIGURATION_TYPES = Object.keys(VOICE_APP_PATHS) as (keyof typeof VOICE_APP_PATHS)[];
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

  // What the module calls for `Get-CsOnlineApplicationInstance -Identity/-Identities` is not public; the
  // simulator serves that lookup here for its stand-in (teams-powershell-host.ts), one request per
  // cmdlet: the instances among the named UPNs or object ids that are listed (the listing delay holds).
  app.get<{ Querystring: { identities?: string } }>(APPLICATION_INSTANCE_LOOKUP, async (request) => {
    const wanted = (request.query.identities ?? '').split(',').map((identity) => identity.trim().toLowerCase()).filter(Boolean);
    if (wanted.length === 0) throw invalid('identities must name at least one UPN or object id, separated with commas.');
    const found = context.state.listedApplicationInstances()
      .filter((user) => wanted.includes(user.id) || wanted.includes(user.userPrincipalName.toLowerCase()));
    return { applicationInstances: found.map((user) => applicationInstanceView(context.state, user)) };
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

  for (const configurationType of CONFIGURATION_TYPES) {
    app.get<{ Params: { identity: string } }>(`${VOICE_APP_PATHS[configurationType]}/:identity`, async (request) => {
      const found = context.state.voiceApps.get(request.params.identity.toLowerCase());
      if (!found || found.configurationType !== configurationType) {
        throw new GraphApiError(404, 'NotFound', `No ${configurationType === 'AutoAttendant' ? 'auto attendant' : 'call queue'} with identity '${request.params.identity}' was found.`);
      }
      return { identity: found.identity, name: found.name };
    });
  }

  app.get<{ Params: { objectId: string } }>(`${ASSOCIATIONS}/:objectId`, async (request) => {
    const found = context.state.associations.get(request.params.objectId.toLowerCase());
    if (!found) throw new GraphApiError(404, 'NotFound', `Application instance '${request.params.objectId}' has no association.`);
    return associationView(found);
  });

  app.delete<{ Params: { objectId: string } }>(`${ASSOCIATIONS}/:objectId`, async (request, reply) => {
    const key = request.params.objectId.toLowerCase();
    if (!context.state.associations.has(key)) throw new GraphApiError(404, 'NotFound', `Application instance '${request.params.objectId}' has no association.`);
    context.state.associations.delete(key);
    return reply.code(204).send();
  });

  app.post<{ Body: unknown }>(ASSOCIATIONS, async (request) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalid('The request body must be a JSON object with configurationId, configurationType, callPriority and endpointsId.');
    }
    const { configurationId, configurationType, callPriority, endpointsId } = body as Record<string, unknown>;
    if (typeof configurationId !== 'string' || configurationId === '') throw invalid('configurationId is required.');
    if (typeof configurationType !== 'string' || !(CONFIGURATION_TYPES as string[]).includes(configurationType)) {
      throw invalid(`configurationType must be one of ${CONFIGURATION_TYPES.join(', ')}.`);
    }
    const priority = callPriority === undefined ? 3 : callPriority;
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 1 || priority > 5) throw invalid('callPriority must be a whole number from 1 to 5.');
    if (!Array.isArray(endpointsId) || endpointsId.length === 0 || !endpointsId.every((id) => typeof id === 'string')) {
      throw invalid('endpointsId must list the object ids of the resource accounts to associate.');
    }
    const type = configurationType as keyof typeof VOICE_APP_PATHS;
    const target = context.state.voiceApps.get(configurationId.toLowerCase());
    if (!target || target.configurationType !== type) {
      throw new GraphApiError(404, 'ConfigurationNotFound', `No ${type === 'AutoAttendant' ? 'auto attendant' : 'call queue'} with identity '${configurationId}' was found.`);
    }
    const listed = context.state.listedApplicationInstances();
    const endpoints = (endpointsId as string[]).map((id) => {
      const user = listed.find((instance) => instance.id === id.toLowerCase());
      if (!user || user.applicationId === null) throw new GraphApiError(404, 'AppEndpointNotFound', `Application instance '${id}' was not found.`);
      const kind = kindForApplicationId(user.applicationId);
      if ((kind === 'autoAttendant') !== (type === 'AutoAttendant')) {
        throw new GraphApiError(400, 'ConfigurationTypeMismatch',
          `Application instance '${id}' is ${kind === 'autoAttendant' ? 'an auto attendant' : 'a call queue'} resource account and cannot be associated with ${type === 'AutoAttendant' ? 'an auto attendant' : 'a call queue'}.`);
      }
      if (!context.state.teamsFeatures(user).includes('PhoneSystemVirtualUser')) {
        throw new GraphApiError(400, 'AppEndpointMissingProvisioning',
          `Application instance '${id}' is not provisioned for this operation yet: it needs a Teams Phone Resource Account license that has reached Teams.`);
      }
      if (context.state.associations.has(user.id)) {
        throw new GraphApiError(409, 'AppEndpointAlreadyAssociated', `Application instance '${id}' is already associated with a configuration.`);
      }
      return user;
    });
    const now = context.now();
    const associations = endpoints.map((user) => {
      const record = { objectId: user.id, configurationId: target.identity, configurationType: type, callPriority: priority, createdAt: now };
      context.state.associations.set(user.id, record);
      return associationView(record);
    });
    return { associations };
  });
}

function associationView(record: AssociationRecord) {
  return { objectId: record.objectId, configurationId: record.configurationId, configurationType: record.configurationType, callPriority: record.callPriority };
}
