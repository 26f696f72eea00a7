/** /v1/resource-accounts: provision one Teams Phone resource account and follow it. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { validateAssociation, validateProvisionOptions, validateResourceAccountRequest, validateUpn } from '../../lib/validation';
import type { FieldError } from '../../lib/validation';
import { validateNotify } from '../../lib/notify-url';
import type { NotifyUrlRules } from '../../lib/notify-url';
import { ApiError } from '../errors';
import { BEARER_SECURITY, V1_ERRORS, errorResponses } from '../schemas/common';
import {
  AccountStatusResponse,
  CancelResponse,
  CreateResourceAccountBody,
  DecisionBody,
  DecisionHeaders,
  DecisionResponse,
  ListQuery,
  ListResponse,
  ResourceAccountParams,
  RunsQuery,
  RunsResponse,
  StatusQuery,
  SubmitResponse,
} from '../schemas/resource-accounts';

const ACCEPTED_FIELDS = Object.keys(CreateResourceAccountBody.properties);

/**
 * Runs before schema validation so every field gets the domain rule's message ("not an E.164
 * number: write +, the country code…", "options.attentionTimeoutMs must be … between 1 minute and
 * 90 days"), all at once, unknown fields and options included.
 */
export function createBodyProblems(body: unknown, notifyRules: NotifyUrlRules = { allowHttp: false }): FieldError[] {
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
    ...validateAssociation(fields.association, fields.kind),
    ...validateProvisionOptions(fields.options),
    ...validateNotify(fields.notify, notifyRules),
    ...unknown,
  ];
}

function invalid(problems: FieldError[]): ApiError {
  return new ApiError(400, 'invalid_request', `the request is not valid: ${problems.map((p) => p.message).join('; ')}`, problems);
}

export interface ResourceAccountRoutesOptions {
  /** What a caller's callback URL may be (DIALTONE_NOTIFY_ALLOW_HTTP, DIALTONE_NOTIFY_ALLOWED_HOSTS); default https to any host, http only for loopback hosts. */
  notifyRules?: NotifyUrlRules;
}

const resourceAccountRoutes: FastifyPluginAsyncTypebox<ResourceAccountRoutesOptions> = async (fastify, options) => {
  const notifyRules: NotifyUrlRules = options.notifyRules ?? { allowHttp: false };
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
          '(same runId, existing: true). An account already provisioned answers 200 with its run. A request for the same UPN ' +
          'with different values is a 409 while a run is open or once the account is provisioned. An account whose latest run ' +
          'was rolled back, abandoned, cancelled, failed, terminated or timed out is provisioned afresh by a new run.',
        security: BEARER_SECURITY,
        body: CreateResourceAccountBody,
        response: { 200: SubmitResponse, 202: SubmitResponse, ...errorResponses(400, 409, ...V1_ERRORS) },
      },
      preValidation: async (request) => {
        const problems = createBodyProblems(request.body, notifyRules);
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
        summary: 'List accounts, one item each for its latest run',
        description:
          "One item per account: its latest run, whose state the state filter matches; open runs first, then the most recently closed. " +
          'From Temporal visibility, which trails the runs by a moment. ' +
          'Page with nextPageToken: runs an account has since superseded are left out, so a page may hold fewer items than pageSize, ' +
          'even none; keep reading while nextPageToken is given. Earlier runs of an account are at /v1/resource-accounts/{id}/runs.',
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
        description: "The account's latest run, or with runId one of its earlier runs (a 404 if that run is not one of this account's).",
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        querystring: StatusQuery,
        response: { 200: AccountStatusResponse, ...errorResponses(400, 404, 414, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.resourceAccounts.status(request.params.id, request.query.runId),
  );

  fastify.get(
    '/resource-accounts/:id/runs',
    {
      schema: {
        tags,
        summary: "Every run of an account, newest first",
        description:
          'From Temporal visibility, which trails the runs by a moment. Each statusUrl reads that run. Page with nextPageToken.',
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        querystring: RunsQuery,
        response: { 200: RunsResponse, ...errorResponses(400, 404, 414, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.resourceAccounts.runs(request.params.id, request.query),
  );

  fastify.post(
    '/resource-accounts/:id/decision',
    {
      schema: {
        tags,
        summary: 'Decide how a run waiting in needs-attention goes on: retry, rollback or abandon',
        description:
          'Taken at most once per Idempotency-Key: a retried request with the same key answers as the first did. ' +
          'The decision is recorded with by (default: the caller) and reason.',
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        headers: DecisionHeaders,
        body: DecisionBody,
        response: { 200: DecisionResponse, ...errorResponses(400, 404, 409, 414, ...V1_ERRORS) },
      },
    },
    async (request) =>
      fastify.resourceAccounts.decide(request.params.id, { ...request.body, by: request.body.by ?? request.apiCaller }, request.headers['idempotency-key']),
  );

  fastify.post(
    '/resource-accounts/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a run in progress',
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        response: { 202: CancelResponse, ...errorResponses(400, 404, 409, 414, ...V1_ERRORS) },
      },
    },
    async (request, reply) => reply.code(202).send(await fastify.resourceAccounts.cancel(request.params.id)),
  );
};

export default resourceAccountRoutes;
