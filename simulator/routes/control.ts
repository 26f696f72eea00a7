/**
 * Control API under `/_simulator`: inspect and shape the simulated tenant. It has NO authentication —
 * it is for the person or test driving a rehearsal on their own machine, and it never exists on a real
 * tenant — so never expose the simulator's port beyond the machine or the Compose network.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { kindForApplicationId } from '../../lib/microsoft';
import type { ConfigurationType } from '../../lib/microsoft';
import { isIsoCountryCode } from '../../lib/validation';
import type { CapabilityStatus, LicenseSeed, NumberSeed, UserSeed } from '../catalog';
import { CAPABILITY_STATUSES, SKU_CATALOG, catalogSku } from '../catalog';
import type { SimulatorContext } from '../context';
import { GraphApiError } from '../errors';
import { baseUrl } from '../http';
import { isGuid } from '../ids';
import type { DirectoryRoleName, SimulatedApp } from '../options';
import { directoryRoleProblems, graphRoleProblems, mergeBehaviour, numberSeedProblems } from '../options';
import { HELD_ACTIVATION_STATES, assignableUnits } from '../state';
import type { HeldActivationState } from '../state';
import { numberAssignmentView, operationView, subscribedSkuView, userStateView } from '../views';

export const CONTROL_PREFIX = '/_simulator';

interface SeedBody {
  licenses?: LicenseSeed[];
  numbers?: NumberSeed[];
  users?: (UserSeed & { replicated?: boolean })[];
}

const invalid = (problems: string[]) => new GraphApiError(400, 'BadRequest', problems.join('; '));

export async function controlRoutes(app: FastifyInstance, { context }: { context: SimulatorContext }): Promise<void> {
  app.get(`${CONTROL_PREFIX}/healthz`, async () => ({ status: 'ok' }));

  app.get(`${CONTROL_PREFIX}/state`, async (request) => {
    const { state, options } = context;
    const now = context.now();
    const pending = state.pendingAssignmentNumbers();
    return {
      now: new Date(now).toISOString(),
      seed: options.seed,
      tenant: { id: options.tenantId, organizationName: options.organizationName, domains: options.domains },
      apps: context.apps.map(appView),
      behaviour: context.behaviour,
      licenses: [...state.skus.values()].map((sku) => {
        const consumed = state.consumedUnits(sku.definition.skuId);
        return {
          skuId: sku.definition.skuId,
          skuPartNumber: sku.definition.skuPartNumber,
          capabilityStatus: sku.capabilityStatus,
          enabled: sku.enabled,
          consumed,
          reportedConsumed: state.reportedConsumedUnits(sku.definition.skuId, now),
          available: Math.max(0, assignableUnits(sku) - consumed),
        };
      }),
      users: [...state.users.values()].map((user) => userStateView(state, user, now)),
      numbers: [...state.numbers.values()].map((number) => ({
        ...numberAssignmentView(state, number, pending),
        stuckDateTime: number.stuckSince === null ? null : new Date(number.stuckSince).toISOString(),
        failNextAssignment: number.failNextActivation,
      })),
      operations: [...state.operations.values()].map((operation) => ({
        ...operationView(state, operation, now),
        kind: operation.kind,
        assignmentTargetId: operation.assignmentTargetId,
        completesDateTime: new Date(operation.completesAt).toISOString(),
      })),
      voiceApps: [...state.voiceApps.values()],
      associations: [...state.associations.values()].map(({ createdAt, ...association }) => ({ ...association, createdDateTime: new Date(createdAt).toISOString() })),
      requests: context.requests.summary().total,
      baseUrl: baseUrl(request),
    };
  });

  app.post(`${CONTROL_PREFIX}/reset`, async (_request, reply) => {
    context.reset();
    return reply.code(204).send();
  });

  app.get(`${CONTROL_PREFIX}/config`, async () => context.behaviour);

  app.put<{ Body: unknown }>(`${CONTROL_PREFIX}/config`, async (request) => {
    const result = mergeBehaviour(context.behaviour, request.body);
    if ('problems' in result) throw invalid(result.problems);
    context.behaviour = result.behaviour;
    return context.behaviour;
  });

  app.post<{ Body: unknown }>(`${CONTROL_PREFIX}/licenses/purchase`, async (request) => {
    const { skuPartNumber, units } = (request.body ?? {}) as { skuPartNumber?: unknown; units?: unknown };
    const problems = licenseProblems({ skuPartNumber, units }, '', 1);
    if (problems.length > 0) throw invalid(problems);
    const sku = context.state.purchase(skuPartNumber as string, units as number);
    return subscribedSkuView(context.state, sku, context.options.organizationName, context.now());
  });

  app.post<{ Body: unknown }>(`${CONTROL_PREFIX}/seed`, async (request, reply) => {
    const body = (request.body ?? {}) as SeedBody;
    const problems = seedProblems(body);
    if (problems.length > 0) throw invalid(problems);
    const { state } = context;
    // Applied in order (licenses, numbers, users) and stops at the first conflict.
    const licenses = (body.licenses ?? []).map((license) => state.purchase(license.skuPartNumber, license.units, license.capabilityStatus));
    const numbers = (body.numbers ?? []).map((number) => state.addNumber(number));
    const users = (body.users ?? []).map(({ replicated = true, ...seed }) => state.addUser(seed, { replicated }));
    return reply.code(201).send({
      licenses: licenses.map((sku) => ({ skuPartNumber: sku.definition.skuPartNumber, enabled: sku.enabled })),
      numbers: numbers.map((number) => numberAssignmentView(state, number)),
      users: users.map((user) => ({ id: user.id, userPrincipalName: user.userPrincipalName })),
    });
  });

  /** Adds an auto attendant or call queue (as New-CsAutoAttendant / New-CsCallQueue would), to associate accounts with. */
  app.post<{ Body: unknown }>(`${CONTROL_PREFIX}/voice-apps`, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const problems: string[] = [];
    if (typeof body.name !== 'string' || body.name.trim() === '') problems.push('name is required, e.g. "Main line"');
    if (body.configurationType !== 'AutoAttendant' && body.configurationType !== 'CallQueue') problems.push('configurationType must be AutoAttendant or CallQueue');
    if (body.identity !== undefined && (typeof body.identity !== 'string' || !isGuid(body.identity))) problems.push('identity, when given, must be a GUID');
    if (problems.length > 0) throw invalid(problems);
    const identity = typeof body.identity === 'string' ? body.identity.toLowerCase() : randomUUID();
    const app = { identity, name: String(body.name), configurationType: body.configurationType as ConfigurationType };
    context.state.voiceApps.set(identity, app);
    return reply.code(201).send(app);
  });

  /** Deletes an auto attendant or call queue (Remove-CsAutoAttendant / Remove-CsCallQueue); associations to it stay, dangling. */
  app.delete<{ Params: { identity: string } }>(`${CONTROL_PREFIX}/voice-apps/:identity`, async (request, reply) => {
    if (!context.state.voiceApps.delete(request.params.identity.toLowerCase())) {
      throw new GraphApiError(404, 'NotFound', `no auto attendant or call queue with identity ${request.params.identity}`);
    }
    return reply.code(204).send();
  });

  app.get(`${CONTROL_PREFIX}/requests`, async () => context.requests.summary());

  app.get(`${CONTROL_PREFIX}/apps`, async () => context.apps.map(appView));

  // An emergency signing-key rollover (or a restarted simulator): every token issued so far is refused from now on.
  app.post(`${CONTROL_PREFIX}/keys/rotate`, async () => ({ kid: context.tokens.rotate() }));

  // Changes what the app is granted; tokens issued before keep their claims until they expire, as in Entra.
  app.put<{ Params: { clientId: string }; Body: unknown }>(`${CONTROL_PREFIX}/apps/:clientId`, async (request) => {
    const app = context.findApp(request.params.clientId);
    if (!app) throw new GraphApiError(404, 'NotFound', `No app registration ${request.params.clientId}; GET ${CONTROL_PREFIX}/apps lists them.`);
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw invalid(['body must be a JSON object with graphRoles and/or directoryRoles']);
    const problems = Object.keys(body).filter((key) => !['graphRoles', 'directoryRoles'].includes(key))
      .map((key) => `${key} is not a setting (use graphRoles, directoryRoles)`);
    if (body.graphRoles !== undefined) problems.push(...graphRoleProblems(body.graphRoles, 'graphRoles'));
    if (body.directoryRoles !== undefined) problems.push(...directoryRoleProblems(body.directoryRoles, 'directoryRoles'));
    if (problems.length > 0) throw invalid(problems);
    if (body.graphRoles !== undefined) app.graphRoles = [...(body.graphRoles as string[])];
    if (body.directoryRoles !== undefined) app.directoryRoles = [...(body.directoryRoles as DirectoryRoleName[])];
    return appView(app);
  });

  // Sets a subscription's status (Enabled, Warning, Suspended, LockedOut, Deleted) and/or its units.
  app.put<{ Params: { skuPartNumber: string }; Body: unknown }>(`${CONTROL_PREFIX}/licenses/:skuPartNumber`, async (request) => {
    const definition = catalogSku(request.params.skuPartNumber);
    const sku = definition && context.state.findSku(definition.skuId);
    if (!definition || !sku) {
      throw new GraphApiError(404, 'NotFound', `The tenant has no ${request.params.skuPartNumber} subscription; POST ${CONTROL_PREFIX}/licenses/purchase adds one.`);
    }
    const body = (request.body ?? {}) as Record<string, unknown>;
    const problems = Object.keys(body).filter((key) => !['capabilityStatus', 'units'].includes(key))
      .map((key) => `${key} is not a setting (use capabilityStatus, units)`);
    if (body.capabilityStatus !== undefined && !CAPABILITY_STATUSES.includes(body.capabilityStatus as CapabilityStatus)) {
      problems.push(`capabilityStatus must be one of ${CAPABILITY_STATUSES.join(', ')}`);
    }
    if (body.units !== undefined && (!Number.isInteger(body.units) || (body.units as number) < 0 || (body.units as number) > 1_000_000)) {
      problems.push('units must be a whole number from 0 to 1000000');
    }
    if (problems.length > 0) throw invalid(problems);
    if (body.capabilityStatus !== undefined) sku.capabilityStatus = body.capabilityStatus as CapabilityStatus;
    if (body.units !== undefined) sku.enabled = body.units as number;
    return subscribedSkuView(context.state, sku, context.options.organizationName, context.now());
  });

  // Rehearses a number stuck in pending mode (as after deleting the account that held it): operations on it fail.
  app.post<{ Params: { telephoneNumber: string } }>(`${CONTROL_PREFIX}/numbers/:telephoneNumber/stuck`, async (request) => {
    const number = context.state.stickNumber(request.params.telephoneNumber);
    return numberAssignmentView(context.state, number);
  });

  // Rehearses a failed or pending activation: at once (`state`), or on the next assignment that succeeds (`failNextAssignment`).
  app.post<{ Params: { telephoneNumber: string }; Body: unknown }>(`${CONTROL_PREFIX}/numbers/:telephoneNumber/activation`, async (request) => {
    const body = (request.body ?? {}) as { state?: unknown; failNextAssignment?: unknown };
    const states = ['activated', ...HELD_ACTIVATION_STATES];
    const problems: string[] = [];
    if (typeof body !== 'object' || Array.isArray(body) || (body.state === undefined && body.failNextAssignment === undefined)) {
      problems.push('body must be a JSON object with state and/or failNextAssignment');
    } else {
      if (body.state !== undefined && !states.includes(body.state as string)) problems.push(`state must be one of ${states.join(', ')}`);
      if (body.failNextAssignment !== undefined && typeof body.failNextAssignment !== 'boolean') problems.push('failNextAssignment must be true or false');
    }
    if (problems.length > 0) throw invalid(problems);
    const { state } = context;
    if (body.state !== undefined) state.setActivation(request.params.telephoneNumber, body.state as 'activated' | HeldActivationState);
    const number = body.failNextAssignment !== undefined
      ? state.failNextActivationOf(request.params.telephoneNumber, body.failNextAssignment as boolean)
      : state.requireNumber(request.params.telephoneNumber);
    return { ...numberAssignmentView(state, number), failNextAssignment: number.failNextActivation };
  });

  // What Microsoft support does for a number stuck in pending after its account was deleted.
  app.post<{ Params: { telephoneNumber: string } }>(`${CONTROL_PREFIX}/numbers/:telephoneNumber/release`, async (request) => {
    const number = context.state.releaseStuckNumber(request.params.telephoneNumber);
    return numberAssignmentView(context.state, number);
  });
}

/** An app registration without its secret. */
function appView({ clientId, displayName, graphRoles, directoryRoles }: SimulatedApp): Record<string, unknown> {
  return { clientId, displayName, graphRoles, directoryRoles };
}

function licenseProblems(license: { skuPartNumber?: unknown; units?: unknown; capabilityStatus?: unknown }, path: string, minUnits: number): string[] {
  const problems: string[] = [];
  if (typeof license.skuPartNumber !== 'string' || !catalogSku(license.skuPartNumber)) {
    problems.push(`${path}skuPartNumber must be one of ${SKU_CATALOG.map((sku) => sku.skuPartNumber).join(', ')}`);
  }
  if (!Number.isInteger(license.units) || (license.units as number) < minUnits || (license.units as number) > 1_000_000) {
    problems.push(`${path}units must be a whole number from ${minUnits} to 1000000`);
  }
  if (license.capabilityStatus !== undefined && !CAPABILITY_STATUSES.includes(license.capabilityStatus as CapabilityStatus)) {
    problems.push(`${path}capabilityStatus must be one of ${CAPABILITY_STATUSES.join(', ')}`);
  }
  return problems;
}

function seedProblems(body: SeedBody): string[] {
  if (typeof body !== 'object' || Array.isArray(body)) return ['body must be a JSON object with any of licenses, numbers, users'];
  const problems: string[] = [];
  const list = <T>(value: T[] | undefined, name: string): T[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      problems.push(`${name} must be an array`);
      return [];
    }
    return value;
  };
  list(body.licenses, 'licenses').forEach((license, index) => problems.push(...licenseProblems(license, `licenses[${index}].`, 0)));
  list(body.numbers, 'numbers').forEach((number, index) => problems.push(...numberSeedProblems(number, `numbers[${index}]`)));
  list(body.users, 'users').forEach((user, index) => {
    const path = `users[${index}]`;
    if (typeof user.userPrincipalName !== 'string') problems.push(`${path}.userPrincipalName is required`);
    if (typeof user.displayName !== 'string' || user.displayName.trim() === '') problems.push(`${path}.displayName is required`);
    if (user.applicationId !== undefined && (typeof user.applicationId !== 'string' || !kindForApplicationId(user.applicationId))) {
      problems.push(`${path}.applicationId must be the auto attendant or call queue application id`);
    }
    if (user.usageLocation !== undefined && (typeof user.usageLocation !== 'string' || !isIsoCountryCode(user.usageLocation))) {
      problems.push(`${path}.usageLocation must be an ISO 3166 alpha-2 code in capitals`);
    }
    if (user.licenses !== undefined && (!Array.isArray(user.licenses) || !user.licenses.every((sku) => typeof sku === 'string'))) {
      problems.push(`${path}.licenses must be a list of SKU part numbers`);
    }
    if (user.replicated !== undefined && typeof user.replicated !== 'boolean') problems.push(`${path}.replicated must be true or false`);
  });
  return problems;
}
