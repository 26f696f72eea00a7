/**
 * Microsoft Graph v1.0, directory side: subscriptions, users (read, update, delete), license assignment
 * and license details. A user still inside the replication window is a 404 on every route, as when a
 * request lands on a replica that has not seen the new object yet (reference notes 7).
 */
import type { FastifyInstance } from 'fastify';
import { PERMISSIONS } from '../auth';
import type { SimulatorContext } from '../context';
import { badRequest } from '../errors';
import { baseUrl } from '../http';
import { isGuid } from '../ids';
import { selectContext, selectProperties } from '../odata';
import type { LicenseChange } from '../state';
import { DEFAULT_USER_PROPERTIES, licenseDetailsView, subscribedSkuView, userProperties } from '../views';

interface UserRoute {
  Params: { id: string };
  Querystring: { $select?: string };
}

export async function graphDirectoryRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  app.get<{ Querystring: { $select?: string } }>('/v1.0/subscribedSkus', {
    config: { graphPermissions: PERMISSIONS.readSubscribedSkus },
  }, async (request) => {
    const { state } = context;
    const value = [...state.skus.values()].map((sku) => {
      const view = subscribedSkuView(state, sku, context.options.organizationName);
      return request.query.$select === undefined ? view : selectProperties(view, request.query.$select, [], 'microsoft.graph.subscribedSku');
    });
    return { '@odata.context': `${baseUrl(request)}/v1.0/$metadata#subscribedSkus${selectContext(request.query.$select)}`, value };
  });

  app.get<UserRoute>('/v1.0/users/:id', {
    config: { graphPermissions: PERMISSIONS.readUser },
  }, async (request) => {
    const user = context.state.requireVisibleUser(request.params.id);
    const properties = userProperties(context.state, user, context.now());
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
      ...selectProperties(userProperties(context.state, user, context.now()), undefined, DEFAULT_USER_PROPERTIES, 'microsoft.graph.user'),
    };
  });

  app.get<UserRoute>('/v1.0/users/:id/licenseDetails', {
    config: { graphPermissions: PERMISSIONS.readLicenseDetails },
  }, async (request) => {
    const user = context.state.requireVisibleUser(request.params.id);
    return {
      '@odata.context': `${baseUrl(request)}/v1.0/$metadata#users('${user.id}')/licenseDetails`,
      value: licenseDetailsView(context.state, user, context.now()),
    };
  });
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
