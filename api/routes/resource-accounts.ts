/** /v1/resource-accounts: provision one Teams Phone resource account and follow it. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { validateResourceAccountRequest, validateUpn } from '../../lib/validation';
import type { FieldError } from '../../lib/validation';
import { ApiError } from '../errors';
import { BEARER_SECURITY, V1_ERRORS, errorResponses } from '../schemas/common';
import {
  AccountStatusResponse,
  CancelResponse,
  CreateResourceAccountBody,
  DecisionBody,
  DecisionResponse,
  ListQuery,
  ListResponse,
  ResourceAccountParams,
  SubmitResponse,
} from '../schemas/resource-accounts';

const ACCEPTED_FIELDS = Object.keys(CreateResourceAccountBody.properties);

/**
 * Runs before schema validation so every field gets the domain rule's message ("not an E.164
 * number: write +, the country code…"), all at once, unknown fields included.
 */
export function createBodyProblems(body: unknown): FieldError[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ field: '(body)', message: `send a JSON object with ${ACCEPTED_FIELDS.join(', ')}` }];
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields)
    .filter((key) => !ACCEPTED_FIELDS.includes(key))
    .map((key) => ({ field: key, message: `unknown field "${key}": remove it (accepted fields: ${ACCEPTED_FIELDS.join(', ')})` }));
  return [
    ...validateResourceAccountRequest({
      upn: fields.upn,
      displayName: fields.displayName,
      kind: fields.kind,
      usageLocation: fields.usageLocation,
      phoneNumber: fields.phoneNumber,
    }),
    ...unknown,
  ];
}

function invalid(problems: FieldError[]): ApiError {
  return new ApiError(400, 'invalid_request', `the request is not valid: ${problems.map((p) => p.message).join('; ')}`, problems);
}

const resourceAccountRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const tags = ['resource-accounts'];

  // Every :id is a UPN; a malformed one is a 400 naming the problem rather than a puzzling 404.
  fastify.addHook('preValidation', async (request) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (id === undefined) return;
    const problem = validateUpn(id, 'id');
    if (problem) throw invalid([problem]);
  });

  fastify.post(
    '/resource-accounts',
    {
      schema: {
        tags,
        summary: 'Provision a resource account (idempotent by tenant and UPN)',
        description:
          'Starts provisioning and answers 202 with where to follow it. Repeating the request joins the same run ' +
          '(same runId, existing: true); a request for the same UPN with different values is a 409. An account ' +
          'already provisioned answers 200 with its run; one whose run failed, was cancelled or rolled back is provisioned afresh.',
        security: BEARER_SECURITY,
        body: CreateResourceAccountBody,
        response: { 200: SubmitResponse, 202: SubmitResponse, ...errorResponses(400, 409, ...V1_ERRORS) },
      },
      preValidation: async (request) => {
        const problems = createBodyProblems(request.body);
        if (problems.length > 0) throw invalid(problems);
      },
    },
    async (request, reply) => {
      const { httpStatus, body } = await fastify.resourceAccounts.submit(request.body);
      return reply.code(httpStatus).header('location', body.statusUrl).send(body);
    },
  );

  fastify.get(
    '/resource-accounts',
    {
      schema: {
        tags,
        summary: 'List provisioning runs, newest first',
        description: 'From Temporal visibility, which trails the runs by a moment. Filter by state; page with nextPageToken.',
        security: BEARER_SECURITY,
        querystring: ListQuery,
        response: { 200: ListResponse, ...errorResponses(400, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.resourceAccounts.list(request.query),
  );

  fastify.get(
    '/resource-accounts/:id',
    {
      schema: {
        tags,
        summary: "A run's status: state, steps, pending activity retries",
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        response: { 200: AccountStatusResponse, ...errorResponses(400, 404, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.resourceAccounts.status(request.params.id),
  );

  fastify.post(
    '/resource-accounts/:id/decision',
    {
      schema: {
        tags,
        summary: 'Decide how a run waiting in needs-attention goes on: retry, rollback or abandon',
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        body: DecisionBody,
        response: { 200: DecisionResponse, ...errorResponses(400, 404, 409, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.resourceAccounts.decide(request.params.id, request.body),
  );

  fastify.post(
    '/resource-accounts/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a run in progress',
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        response: { 202: CancelResponse, ...errorResponses(400, 404, 409, ...V1_ERRORS) },
      },
    },
    async (request, reply) => reply.code(202).send(await fastify.resourceAccounts.cancel(request.params.id)),
  );
};

export default resourceAccountRoutes;
