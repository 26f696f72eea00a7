/**
 * Microsoft Graph v1.0, directory side: subscriptions, domains, users (list, create, read, update, soft-delete),
 * deleted items (list, read, restore, permanent delete), license assignment and license details. A user
 * still inside the replication window is a 404 on every route, as when a request lands on a replica
 * that has not seen the new object yet (reference notes 7).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PERMISSIONS } from '../auth';
import type { SimulatorContext } from '../context';
import { GraphApiError, badRequest, resourceNotFound } from '../errors';
import { baseUrl } from '../http';
import { isGuid } from '../ids';
import type { FilterClause } from '../odata';
import { directoryPage, matchesFilter, parseFilter, refuseOtherOptions, selectContext, selectProperties } from '../odata';
import type { DirectoryUser, LicenseChange } from '../state';
import { DEFAULT_USER_PROPERTIES, deletedUserView, licenseDetailsView, subscribedSkuView, userProperties } from '../views';

interface UserRoute {
  Params: { id: string };
  Querystring: { $select?: string };
}

type ListQuery = Record<string, string | undefined>;

/** Graph's user list: 100 a page by default, at most 999 (Graph: list users). */
const USERS_PAGE = { defaultTop: 100, maxTop: 999 };
/** Properties the simulator can filter users on; UPN also with startsWith and (advanced) endsWith. */
const USER_FILTER = {
  properties: ['userPrincipalName', 'id', 'displayName', 'department', 'accountEnabled', 'mailNickname'],
  functions: ['userPrincipalName', 'displayName'],
  // `userPrincipalName in (...)`: microsoftgraph/microsoft-graph-docs issue 21098 (answered up to 15 values); `id in (...)`: the user resource's property table.
  lists: ['userPrincipalName', 'id'],
};
/** Directory strings compare case-insensitively on Graph. */
const CASE_INSENSITIVE = ['userPrincipalName', 'displayName', 'department', 'mailNickname', 'id'];
const DELETED_ITEMS = '/v1.0/directory/deletedItems';
/** List and get domains, least privileged first (https://learn.microsoft.com/graph/api/domain-list). */
const READ_DOMAINS = ['Domain.Read.All', 'Domain.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];

/**
 * Advanced queries (Graph: advanced query capabilities) need `ConsistencyLevel: eventual` and
 * `$count=true`; without them `endsWith` is refused with Microsoft's message, and `$count=true` is
 * silently ignored.
 */
function advancedQuery(request: FastifyRequest, query: ListQuery, clauses: readonly FilterClause[]): { count: boolean } {
  const eventual = String(request.headers.consistencylevel ?? '').toLowerCase() === 'eventual';
  const advanced = eventual && query.$count === 'true';
  if (!advanced && clauses.some((clause) => clause.operator === 'endsWith')) {
    throw badRequest("Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and " +
      'ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information', 'Request_UnsupportedQuery');
  }
  if (query.$search !== undefined) {
    throw badRequest(eventual
      ? 'The tenant simulator does not support $search; use $filter.'
      : "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'", 'Request_UnsupportedQuery');
  }
  return { count: advanced };
}

function userListResponse(
  request: FastifyRequest,
  context: SimulatorContext,
  path: string,
  users: DirectoryUser[],
  view: (user: DirectoryUser) => Record<string, unknown>,
  defaults: readonly string[],
  typeName: string,
): Record<string, unknown> {
  const query = request.query as ListQuery;
  refuseOtherOptions(query, ['$filter', '$select', '$top', '$skiptoken', '$count', '$search']);
  const clauses = query.$filter === undefined || query.$filter.trim() === '' ? [] : parseFilter(query.$filter, USER_FILTER);
  const { count } = advancedQuery(request, query, clauses);
  const matching = users.map(view).filter((entity) => matchesFilter(entity, clauses, CASE_INSENSITIVE));
  const base = baseUrl(request);
  const page = directoryPage(matching, query, { base, path }, USERS_PAGE);
  return {
    '@odata.context': `${base}/v1.0/$metadata#${path.slice('/v1.0/'.length)}${selectContext(query.$select)}`,
    ...(count ? { '@odata.count': matching.length } : {}),
    ...(page.nextLink ? { '@odata.nextLink': page.nextLink } : {}),
    value: page.value.map((entity) => selectProperties(entity, query.$select, defaults, typeName)),
  };
}

export async function graphDirectoryRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  const now = () => context.now();

  app.get<{ Querystring: ListQuery }>('/v1.0/subscribedSkus', {
    config: { graphPermissions: PERMISSIONS.readSubscribedSkus },
  }, async (request) => {
    // subscribedSkus is read-only and supports only $select (Graph: list subscribedSkus).
    refuseOtherOptions(request.query, ['$select']);
    const { state } = context;
    const value = [...state.skus.values()].map((sku) => {
      const view = subscribedSkuView(state, sku, context.options.organizationName, now());
      return request.query.$select === undefined ? view : selectProperties(view, request.query.$select, [], 'microsoft.graph.subscribedSku');
    });
    return { '@odata.context': `${baseUrl(request)}/v1.0/$metadata#subscribedSkus${selectContext(request.query.$select)}`, value };
  });

  app.get<{ Querystring: ListQuery }>('/v1.0/organization', {
    config: { graphPermissions: PERMISSIONS.readOrganization },
  }, async (request) => {
    // One organization object; supports $select only (Graph: list organization, verifiedDomain).
    refuseOtherOptions(request.query, ['$select']);
    const { tenantId, organizationName, domains } = context.options;
    const view = {
      id: tenantId,
      displayName: organizationName,
      verifiedDomains: domains.map((name, index) => ({
        capabilities: name.endsWith('.onmicrosoft.com') ? 'Email, OfficeCommunicationsOnline' : 'Email, OfficeCommunicationsOnline, Intune',
        isDefault: index === 0,
        isInitial: name.endsWith('.onmicrosoft.com'),
        name,
        type: 'Managed',
      })),
    };
    const value = [request.query.$select === undefined ? view : selectProperties(view, request.query.$select, [], 'microsoft.graph.organization')];
    return { '@odata.context': `${baseUrl(request)}/v1.0/$metadata#organization${selectContext(request.query.$select)}`, value };
  });

  /**
   * The tenant's domains, all verified (Graph: list domains, get domain, domain resource type:
   * https://learn.microsoft.com/graph/api/domain-list, least privileged permission Domain.Read.All).
   * Only `$select` is accepted; Graph documents no other query option for these two.
   */
  const domainView = (name: string, index: number): Record<string, unknown> => {
    const initial = name.endsWith('.onmicrosoft.com');
    return {
      authenticationType: 'Managed',
      availabilityStatus: null,
      id: name,
      isAdminManaged: true,
      isDefault: index === 0,
      isInitial: initial,
      isRoot: true,
      isVerified: true,
      passwordNotificationWindowInDays: 14,
      passwordValidityPeriodInDays: 2147483647,
      supportedServices: initial ? ['Email', 'OfficeCommunicationsOnline'] : ['Email', 'OfficeCommunicationsOnline', 'Intune'],
      state: null,
    };
  };

  app.get<{ Querystring: ListQuery }>('/v1.0/domains', {
    config: { graphPermissions: READ_DOMAINS },
  }, async (request) => {
    refuseOtherOptions(request.query, ['$select']);
    const value = context.options.domains.map((name, index) => {
      const view = domainView(name, index);
      return request.query.$select === undefined ? view : selectProperties(view, request.query.$select, [], 'microsoft.graph.domain');
    });
    return { '@odata.context': `${baseUrl(request)}/v1.0/$metadata#domains${selectContext(request.query.$select)}`, value };
  });

  app.get<{ Params: { id: string }; Querystring: ListQuery }>('/v1.0/domains/:id', {
    config: { graphPermissions: READ_DOMAINS },
  }, async (request) => {
    refuseOtherOptions(request.query, ['$select']);
    const index = context.options.domains.indexOf(request.params.id.toLowerCase());
    if (index < 0) throw resourceNotFound(request.params.id);
    const view = domainView(context.options.domains[index] as string, index);
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#domains${selectContext(request.query.$select)}/$entity`,
      ...(request.query.$select === undefined ? view : selectProperties(view, request.query.$select, [], 'microsoft.graph.domain')),
    };
  });

  app.get<{ Querystring: ListQuery }>('/v1.0/users', {
    config: { graphPermissions: PERMISSIONS.readUser },
  }, async (request) => userListResponse(request, context, '/v1.0/users', context.state.visibleUsers(),
    (user) => userProperties(context.state, user, now()), DEFAULT_USER_PROPERTIES, 'microsoft.graph.user'));

  app.post<{ Body: unknown }>('/v1.0/users', {
    config: { graphPermissions: PERMISSIONS.writeUser },
  }, async (request, reply) => {
    const user = context.state.addUser(parseCreateUserBody(request.body), { replicated: false });
    return reply.code(201).send({
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#users/$entity`,
      ...selectProperties(userProperties(context.state, user, now()), undefined, DEFAULT_USER_PROPERTIES, 'microsoft.graph.user'),
    });
  });

  app.get<UserRoute>('/v1.0/users/:id', {
    config: { graphPermissions: PERMISSIONS.readUser },
  }, async (request) => {
    refuseOtherOptions(request.query, ['$select']);
    const user = context.state.requireVisibleUser(request.params.id);
    const properties = userProperties(context.state, user, now());
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#users${selectContext(request.query.$select)}/$entity`,
      ...selectProperties(properties, request.query.$select, DEFAULT_USER_PROPERTIES, 'microsoft.graph.user'),
    };
  });

  app.patch<UserRoute & { Body: unknown }>('/v1.0/users/:id', {
    config: { graphPermissions: PERMISSIONS.writeUser },
  }, async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object of user properties.');
    context.state.updateUser(request.params.id, body as Record<string, unknown>);
    return reply.code(204).send();
  });

  app.delete<UserRoute>('/v1.0/users/:id', {
    config: { graphPermissions: PERMISSIONS.writeUser },
  }, async (request, reply) => {
    context.state.deleteUser(request.params.id);
    return reply.code(204).send();
  });

  app.post<UserRoute & { Body: unknown }>('/v1.0/users/:id/assignLicense', {
    config: { graphPermissions: PERMISSIONS.assignLicense },
  }, async (request) => {
    const user = context.state.assignLicense(request.params.id, parseAssignLicenseBody(request.body));
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#users/$entity`,
      ...selectProperties(userProperties(context.state, user, now()), undefined, DEFAULT_USER_PROPERTIES, 'microsoft.graph.user'),
    };
  });

  app.get<UserRoute>('/v1.0/users/:id/licenseDetails', {
    config: { graphPermissions: PERMISSIONS.readLicenseDetails },
  }, async (request) => {
    const user = context.state.requireVisibleUser(request.params.id);
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#users('${user.id}')/licenseDetails`,
      value: licenseDetailsView(context.state, user, now()),
    };
  });

  // Deleted items need the type cast: "calling GET /directory/deletedItems without a type is not supported".
  app.get(DELETED_ITEMS, { config: { graphPermissions: PERMISSIONS.readUser } }, async () => {
    throw badRequest('Searches against this resource are not supported. Only specific instances can be queried.', 'Request_UnsupportedQuery');
  });

  app.get<{ Querystring: ListQuery }>(`${DELETED_ITEMS}/microsoft.graph.user`, {
    config: { graphPermissions: PERMISSIONS.readUser },
  }, async (request) => userListResponse(request, context, `${DELETED_ITEMS}/microsoft.graph.user`, context.state.deletedUsers(),
    (user) => deletedUserView(context.state, user, now()), [...DEFAULT_USER_PROPERTIES, 'deletedDateTime'], 'microsoft.graph.user'));

  app.get<UserRoute>(`${DELETED_ITEMS}/:id`, {
    config: { graphPermissions: PERMISSIONS.readUser },
  }, async (request) => {
    const user = context.state.findDeletedUser(request.params.id);
    if (!user) throw resourceNotFound(request.params.id);
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#directoryObjects/$entity`,
      ...selectProperties(deletedUserView(context.state, user, now()), request.query.$select,
        ['@odata.type', ...DEFAULT_USER_PROPERTIES, 'deletedDateTime'], 'microsoft.graph.user'),
    };
  });

  app.post<{ Params: { id: string }; Body: unknown }>(`${DELETED_ITEMS}/:id/restore`, {
    config: { graphPermissions: PERMISSIONS.restoreUser },
  }, async (request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a JSON object.');
    const unknown = Object.keys(body).find((name) => !['autoReconcileProxyConflict', 'newUserPrincipalName'].includes(name));
    if (unknown !== undefined) throw badRequest(`The property '${unknown}' does not exist on the action 'restore'.`);
    if (body.newUserPrincipalName !== undefined) {
      throw new GraphApiError(400, 'Request_BadRequest', 'The tenant simulator does not support newUserPrincipalName; restore under the original UPN.');
    }
    const user = context.state.restoreUser(request.params.id);
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#directoryObjects/$entity`,
      '@odata.type': '#microsoft.graph.user',
      ...selectProperties(userProperties(context.state, user, now()), undefined, DEFAULT_USER_PROPERTIES, 'microsoft.graph.user'),
    };
  });

  app.delete<{ Params: { id: string } }>(`${DELETED_ITEMS}/:id`, {
    config: { graphPermissions: PERMISSIONS.restoreUser },
  }, async (request, reply) => {
    context.state.purgeUser(request.params.id);
    return reply.code(204).send();
  });
}

/** Graph's create-user body: accountEnabled, displayName, mailNickname, userPrincipalName and passwordProfile are required. */
function parseCreateUserBody(body: unknown): { userPrincipalName: string; displayName: string; usageLocation?: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object of user properties.');
  const fields = body as Record<string, unknown>;
  const missing = ['accountEnabled', 'displayName', 'mailNickname', 'userPrincipalName', 'passwordProfile'].filter((name) => fields[name] === undefined);
  if (missing.length > 0) throw badRequest(`Property '${missing[0]}' is required when creating the entity.`);
  if (typeof fields.userPrincipalName !== 'string' || typeof fields.displayName !== 'string') {
    throw badRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.");
  }
  if (fields.usageLocation !== undefined && typeof fields.usageLocation !== 'string') {
    throw badRequest("Invalid value specified for property 'usageLocation' of resource 'User'.");
  }
  return {
    userPrincipalName: fields.userPrincipalName,
    displayName: fields.displayName,
    ...(fields.usageLocation === undefined ? {} : { usageLocation: fields.usageLocation as string }),
  };
}

/** Validates the assignLicense body; Graph requires both arrays, even when empty. */
function parseAssignLicenseBody(body: unknown): LicenseChange {
  if (typeof body !== 'object' || body === null) throw badRequest('The request body must be a JSON object with addLicenses and removeLicenses.');
  const { addLicenses, removeLicenses } = body as { addLicenses?: unknown; removeLicenses?: unknown };
  const missing = [addLicenses === undefined ? 'addLicenses' : '', removeLicenses === undefined ? 'removeLicenses' : ''].filter(Boolean);
  if (missing.length > 0) {
    throw badRequest(`One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: ${missing.join(', ')}.`);
  }
  if (!Array.isArray(addLicenses) || !Array.isArray(removeLicenses)) {
    throw badRequest("Invalid value for the parameters 'addLicenses' and 'removeLicenses': both must be arrays.");
  }
  const add = addLicenses.map((entry: unknown) => {
    const { skuId, disabledPlans = [] } = (entry ?? {}) as { skuId?: unknown; disabledPlans?: unknown };
    if (typeof skuId !== 'string' || !isGuid(skuId)) throw badRequest(`Invalid value specified for property 'skuId' of resource 'AssignedLicense'.`);
    if (!Array.isArray(disabledPlans) || !disabledPlans.every((plan): plan is string => typeof plan === 'string' && isGuid(plan))) {
      throw badRequest(`Invalid value specified for property 'disabledPlans' of resource 'AssignedLicense'.`);
    }
    return { skuId, disabledPlans };
  });
  const remove = removeLicenses.map((skuId: unknown) => {
    if (typeof skuId !== 'string' || !isGuid(skuId)) throw badRequest(`Invalid value specified for parameter 'removeLicenses': each entry must be a skuId.`);
    return skuId;
  });
  return { add, remove };
}
