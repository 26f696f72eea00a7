/**
 * Control API under `/_simulator`: inspect and shape the simulated tenant. It has NO authentication —
 * it is for the person or test driving a rehearsal on their own machine, and it never exists on a real
 * tenant — so never expose the simulator's port beyond the machine or the Compose network.
 */
import type { FastifyInstance } from 'fastify';
import { kindForApplicationId } from '../../lib/microsoft';
import { isIsoCountryCode } from '../../lib/validation';
import type { LicenseSeed, NumberSeed, UserSeed } from '../catalog';
import { SKU_CATALOG, catalogSku } from '../catalog';
import type { SimulatorContext } from '../context';
import { GraphApiError } from '../errors';
import { baseUrl } from '../http';
import { mergeBehaviour, numberSeedProblems } from '../options';
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
    return {
      now: new Date(now).toISOString(),
      seed: options.seed,
      tenant: { id: options.tenantId, organizationName: options.organizationName, domains: options.domains },
      apps: options.apps.map(({ clientId, displayName, graphRoles, teamsAdministrator }) => ({ clientId, displayName, graphRoles, teamsAdministrator })),
      behaviour: context.behaviour,
      licenses: [...state.skus.values()].map((sku) => {
        const consumed = state.consumedUnits(sku.definition.skuId);
        return { skuId: sku.definition.skuId, skuPartNumber: sku.definition.skuPartNumber, enabled: sku.enabled, consumed, available: sku.enabled - consumed };
      }),
      users: [...state.users.values()].map((user) => userStateView(state, user, now)),
      numbers: [...state.numbers.values()].map(numberAssignmentView),
      operations: [...state.operations.values()].map((operation) => ({
        ...operationView(state, operation, now),
        kind: operation.kind,
        assignmentTargetId: operation.assignmentTargetId,
        completesDateTime: new Date(operation.completesAt).toISOString(),
      })),
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
    return subscribedSkuView(context.state, sku, context.options.organizationName);
  });

  app.post<{ Body: unknown }>(`${CONTROL_PREFIX}/seed`, async (request, reply) => {
    const body = (request.body ?? {}) as SeedBody;
    const problems = seedProblems(body);
    if (problems.length > 0) throw invalid(problems);
    const { state } = context;
    // Applied in order (licenses, numbers, users) and stops at the first conflict.
    const licenses = (body.licenses ?? []).map((license) => state.purchase(license.skuPartNumber, license.units));
    const numbers = (body.numbers ?? []).map((number) => state.addNumber(number));
    const users = (body.users ?? []).map(({ replicated = true, ...seed }) => state.addUser(seed, { replicated }));
    return reply.code(201).send({
      licenses: licenses.map((sku) => ({ skuPartNumber: sku.definition.skuPartNumber, enabled: sku.enabled })),
      numbers: numbers.map(numberAssignmentView),
      users: users.map((user) => ({ id: user.id, userPrincipalName: user.userPrincipalName })),
    });
  });

  app.get(`${CONTROL_PREFIX}/requests`, async () => context.requests.summary());
}

function licenseProblems(license: { skuPartNumber?: unknown; units?: unknown }, path: string, minUnits: number): string[] {
  const problems: string[] = [];
  if (typeof license.skuPartNumber !== 'string' || !catalogSku(license.skuPartNumber)) {
    problems.push(`${path}skuPartNumber must be one of ${SKU_CATALOG.map((sku) => sku.skuPartNumber).join(', ')}`);
  }
  if (!Number.isInteger(license.units) || (license.units as number) < minUnits || (license.units as number) > 1_000_000) {
    problems.push(`${path}units must be a whole number from ${minUnits} to 1000000`);
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
