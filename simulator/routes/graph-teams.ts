/**
 * Microsoft Graph v1.0, Teams administration: user configurations, the telephone-number inventory and
 * number assignment as long-running operations (reference notes 3.4, 4). `assignNumber` and
 * `unassignNumber` only validate the body; whether the assignment works is decided when the operation
 * runs, against the tenant as it is then — as in Teams, where a request accepted now can fail later.
 */
import type { FastifyInstance } from 'fastify';
import { PERMISSIONS } from '../auth';
import { NUMBER_TYPES } from '../catalog';
import type { SimulatorContext } from '../context';
import { GraphApiError, resourceNotFound } from '../errors';
import { baseUrl } from '../http';
import { isGuid } from '../ids';
import { matchesFilter, parseFilter, parsePaging, refuseOtherOptions } from '../odata';
import type { AssignmentCategory } from '../state';
import { ASSIGNMENT_CATEGORIES, isNumberType, normalizeTelephoneNumber } from '../state';
import { TELEPHONE_NUMBER_MANAGEMENT_PATH, numberAssignmentView, operationView, teamsUserConfigurationView } from '../views';

const NUMBER_ASSIGNMENTS = `${TELEPHONE_NUMBER_MANAGEMENT_PATH}/numberAssignments`;
const OPERATIONS = `${TELEPHONE_NUMBER_MANAGEMENT_PATH}/operations`;
const DEFAULT_TOP = 500;
const MAX_TOP = 1000;

const FILTERABLE = ['telephoneNumber', 'assignmentStatus', 'assignmentTargetId', 'numberType', 'activationState', 'isoCountryCode'] as const;

interface NumberAssignmentsQuery {
  $filter?: string;
  $top?: string;
  $skip?: string;
}

export async function graphTeamsRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  // Graph's samples wrap a single teamsAdministration entity in "value" (numberAssignment get, operation
  // get, userConfiguration get); the simulator answers as documented, so clients must accept that shape.
  const wrapped = (contextUrl: string, entity: Record<string, unknown>) => ({ '@odata.context': contextUrl, value: entity });

  app.get<{ Params: { id: string } }>('/v1.0/admin/teams/userConfigurations/:id', {
    config: { graphPermissions: PERMISSIONS.readTeamsUserConfiguration },
  }, async (request) => {
    const user = context.state.requireVisibleUser(request.params.id);
    // Whether resource accounts appear here is undocumented and doubted (reference notes 3.4): the
    // simulator takes the least convenient reading and does not surface them at all.
    if (context.state.isResourceAccount(user)) throw resourceNotFound(request.params.id);
    return wrapped(`${baseUrl(request)}/v1.0/$metadata#admin/teams/userConfigurations/$entity`,
      teamsUserConfigurationView(context.state, user, context.now()));
  });

  app.get<{ Querystring: NumberAssignmentsQuery }>(NUMBER_ASSIGNMENTS, {
    config: { graphPermissions: PERMISSIONS.readTelephoneNumbers },
  }, async (request) => {
    refuseOtherOptions(request.query as Record<string, unknown>, ['$filter', '$top', '$skip']);
    const { $filter } = request.query;
    const clauses = $filter === undefined || $filter.trim() === '' ? [] : parseFilter($filter, { properties: FILTERABLE, collections: ['capabilities'] });
    const { top, skip } = parsePaging(request.query, DEFAULT_TOP, MAX_TOP);
    const pending = context.state.pendingAssignmentNumbers();
    // telephoneNumber compares exactly: "+1206…" sent unencoded arrives as " 1206…" and matches nothing.
    const matching = [...context.state.numbers.values()]
      .map((number) => numberAssignmentView(context.state, number, pending))
      .filter((view) => matchesFilter(view, clauses, CASE_INSENSITIVE_NUMBER_FIELDS));
    // No @odata.nextLink: the docs page this list with $top and $skip only.
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#admin/teams/telephoneNumberManagement/numberAssignments`,
      value: matching.slice(skip, skip + top),
    };
  });

  app.get<{ Params: { id: string } }>(`${NUMBER_ASSIGNMENTS}/:id`, {
    config: { graphPermissions: PERMISSIONS.readTelephoneNumbers },
  }, async (request) => {
    const number = [...context.state.numbers.values()].find((candidate) => candidate.id === request.params.id);
    if (!number) throw new GraphApiError(404, 'NotFound', `Number assignment '${request.params.id}' was not found.`);
    return wrapped(`${baseUrl(request)}/v1.0/$metadata#admin/teams/telephoneNumberManagement/numberAssignments/$entity`, {
      '@odata.type': '#microsoft.graph.teamsAdministration.numberAssignment',
      ...numberAssignmentView(context.state, number),
    });
  });

  app.post<{ Body: unknown }>(`${NUMBER_ASSIGNMENTS}/assignNumber`, {
    config: { graphPermissions: PERMISSIONS.writeTelephoneNumbers },
  }, async (request, reply) => {
    const body = parseNumberRequest(request.body, true);
    const operation = context.state.startNumberOperation({ kind: 'assign', ...body, baseUrl: baseUrl(request) });
    return reply.code(202).header('location', `${baseUrl(request)}${OPERATIONS}('${operation.id}')`).send();
  });

  app.post<{ Body: unknown }>(`${NUMBER_ASSIGNMENTS}/unassignNumber`, {
    config: { graphPermissions: PERMISSIONS.writeTelephoneNumbers },
  }, async (request, reply) => {
    const body = parseNumberRequest(request.body, false);
    const operation = context.state.startNumberOperation({ kind: 'unassign', ...body, baseUrl: baseUrl(request) });
    return reply.code(202).header('location', `${baseUrl(request)}${OPERATIONS}('${operation.id}')`).send();
  });

  // `operations('<id>')` (the Location form) reaches this route too: the app rewrites OData key syntax to a segment.
  app.get<{ Params: { id: string } }>(`${OPERATIONS}/:id`, {
    config: { graphPermissions: PERMISSIONS.readTelephoneNumbers },
  }, async (request) => {
    const operation = context.state.operations.get(request.params.id);
    if (!operation) throw resourceNotFound(request.params.id);
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#admin/teams/telephoneNumberManagement/operations/$entity`,
      ...operationView(context.state, operation, context.now()),
    };
  });
}

/** Enumeration values compare case-insensitively; the telephone number does not. */
const CASE_INSENSITIVE_NUMBER_FIELDS = ['assignmentStatus', 'assignmentTargetId', 'numberType', 'activationState', 'isoCountryCode'];

interface NumberRequest {
  telephoneNumber: string;
  numberType: (typeof NUMBER_TYPES)[number];
  assignmentTargetId: string | null;
  assignmentCategory: AssignmentCategory;
  locationId: string | null;
}

/** Validates an assign/unassign body synchronously, as Graph does before accepting the operation. */
function parseNumberRequest(body: unknown, assign: boolean): NumberRequest {
  const invalid = (message: string) => new GraphApiError(400, 'BadRequest', message);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The request body must be a JSON object.');
  const fields = body as Record<string, unknown>;
  const telephoneNumber = typeof fields.telephoneNumber === 'string' ? normalizeTelephoneNumber(fields.telephoneNumber) : undefined;
  if (telephoneNumber === undefined) {
    throw invalid(`Invalid value for 'telephoneNumber': give the number in E.164 form, "+" optional (got ${JSON.stringify(fields.telephoneNumber ?? null)}).`);
  }
  if (!isNumberType(fields.numberType)) {
    throw invalid(`Invalid value for 'numberType': use one of ${NUMBER_TYPES.join(', ')} (got ${JSON.stringify(fields.numberType ?? null)}).`);
  }
  if (!assign) return { telephoneNumber, numberType: fields.numberType, assignmentTargetId: null, assignmentCategory: 'primary', locationId: null };

  const target = fields.assignmentTargetId;
  if (typeof target !== 'string' || !isGuid(target)) {
    throw invalid(`Invalid value for 'assignmentTargetId': give the object id of the user or resource account (got ${JSON.stringify(target ?? null)}).`);
  }
  const category = fields.assignmentCategory ?? 'primary';
  if (!ASSIGNMENT_CATEGORIES.includes(category as AssignmentCategory)) {
    throw invalid(`Invalid value for 'assignmentCategory': use one of ${ASSIGNMENT_CATEGORIES.join(', ')}.`);
  }
  const locationId = fields.locationId ?? null;
  if (locationId !== null && typeof locationId !== 'string') throw invalid("Invalid value for 'locationId': give an emergency location id or omit it.");
  return {
    telephoneNumber,
    numberType: fields.numberType,
    assignmentTargetId: target.toLowerCase(),
    assignmentCategory: category as AssignmentCategory,
    locationId: locationId === '' ? null : locationId,
  };
}
