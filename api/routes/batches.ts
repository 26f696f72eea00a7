/** /v1/batches: provision many resource accounts from one CSV or JSON file, follow and steer them. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatRowError, rowsFromCsv, validateBatchRows } from '../../lib/batch-rows';
import type { RowFieldError } from '../../lib/batch-rows';
import { validateBatchOptions } from '../../lib/validation';
import type { FieldError } from '../../lib/validation';
import { validateNotify, validateNotifyUrl } from '../../lib/notify-url';
import type { NotifyUrlRules } from '../../lib/notify-url';
import type { BatchOptions, BatchRowRequest } from '../../workflows/provision-batch/definitions';
import { ApiError, boundedMessage, truncated } from '../errors';
import { BEARER_SECURITY, V1_ERRORS, errorResponses } from '../schemas/common';
import {
  BATCH_BODY_LIMIT,
  BATCH_ID_MAX_LENGTH,
  BATCH_ID_PATTERN,
  BatchKeyHeaders,
  BatchParams,
  BatchRowsQuery,
  BatchRowsResponse,
  BatchStatusResponse,
  BatchValidationErrorResponse,
  BulkDecisionBody,
  BulkDecisionResponse,
  CancelBatchBody,
  ControlBody,
  ControlResponse,
  CreateBatchBody,
  CreateBatchCsv,
  CreateBatchQuery,
  DRY_RUN_PREFIX,
  ListBatchesQuery,
  ListBatchesResponse,
  SubmitBatchResponse,
} from '../schemas/batches';
import type { ControlAction } from '../services/batches';

const ACCEPTED_FIELDS = Object.keys(CreateBatchBody.properties);
/** Options a CSV submit takes from the query string; the rest need a JSON body. */
const QUERY_OPTIONS = ['concurrency', 'quarantineRatio', 'quarantineWindow'] as const;
const CSV_TYPE = 'text/csv';

/** A batch problem as the error format lists it: the column as `field`, with the row and column. */
interface BatchProblem extends FieldError {
  row: number;
  column: string;
}

interface ValidatedSubmit {
  rows: BatchRowRequest[];
  options?: BatchOptions;
  batchId?: string;
  notify?: { url: string };
}

function rowProblem(e: RowFieldError): BatchProblem {
  return { field: e.column || (e.row > 0 ? `row ${e.row}` : '(batch)'), row: e.row, column: e.column, message: e.message };
}

function fieldProblem(e: FieldError): BatchProblem {
  return { field: e.field, row: 0, column: e.field, message: e.message };
}

/** A caller's batch id: the body's (JSON) or the query string's (CSV). */
function batchIdProblems(batchId: unknown, field: string): FieldError[] {
  if (batchId === undefined) return [];
  if (typeof batchId !== 'string' || !BATCH_ID_PATTERN.test(batchId)) {
    return [{ field, message: `${field} must be 1 to 64 letters, digits, ".", "_" or "-"; got ${JSON.stringify(batchId)?.slice(0, 80)}` }];
  }
  if (batchId.startsWith(DRY_RUN_PREFIX)) {
    return [{ field, message: `${field} must not start with "${DRY_RUN_PREFIX}": that prefix marks dry runs (submit with ?dryRun=true instead)` }];
  }
  return [];
}

/** A number as written in a query string, or the text itself when it is none (so the message quotes it). */
function queryNumber(raw: string): number | string {
  return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
}

/**
 * Every problem of a submit at once: each row's (lib/batch-rows), the options', the batch id's and
 * unknown fields, before any schema check, so a file with a thousand bad rows is fixed in one go.
 */
export function submitProblems(
  body: unknown,
  csv: boolean,
  query: Record<string, unknown>,
  notifyRules: NotifyUrlRules = { allowHttp: false },
): { problems: BatchProblem[]; valid?: ValidatedSubmit } {
  const given = (name: string) => typeof query[name] === 'string';
  if (csv) {
    const notifyUrl = typeof query.notifyUrl === 'string' ? query.notifyUrl : undefined;
    const notifyProblem = notifyUrl === undefined ? undefined : validateNotifyUrl(notifyUrl, 'notifyUrl', notifyRules);
    const { rows, errors } = rowsFromCsv(typeof body === 'string' ? body : '');
    const options = Object.fromEntries(QUERY_OPTIONS.filter(given).map((name) => [name, queryNumber(query[name] as string)]));
    const problems = [
      ...errors.map(rowProblem),
      ...validateBatchOptions(options, '').map(fieldProblem),
      ...batchIdProblems(query.batchId, 'batchId').map(fieldProblem),
      ...(notifyProblem ? [fieldProblem(notifyProblem)] : []),
    ];
    const batchId = typeof query.batchId === 'string' ? query.batchId : undefined;
    return {
      problems,
      valid: {
        rows,
        ...(Object.keys(options).length > 0 ? { options: options as BatchOptions } : {}),
        ...(batchId ? { batchId } : {}),
        ...(notifyUrl ? { notify: { url: notifyUrl } } : {}),
      },
    };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const message = `send a JSON object with ${ACCEPTED_FIELDS.join(', ')} (content-type: application/json), or the CSV file with content-type: ${CSV_TYPE}`;
    return { problems: [{ field: '(body)', row: 0, column: '', message }] };
  }
  const fields = body as Record<string, unknown>;
  const { rows, errors } = validateBatchRows(fields.rows);
  const problems = [
    ...Object.keys(fields)
      .filter((key) => !ACCEPTED_FIELDS.includes(key))
      .map((key) => fieldProblem({ field: key, message: `unknown field "${key}": remove it (accepted fields: ${ACCEPTED_FIELDS.join(', ')})` })),
    ...errors.map(rowProblem),
    ...validateBatchOptions(fields.options, 'options.').map(fieldProblem),
    ...batchIdProblems(fields.batchId, 'batchId').map(fieldProblem),
    ...validateNotify(fields.notify, notifyRules).map(fieldProblem),
    ...[...QUERY_OPTIONS, 'batchId'].filter(given).map((name) =>
      fieldProblem({ field: name, message: `${name} in the query string goes with a CSV body; with a JSON body, give it in the body${name === 'batchId' ? '' : "'s options"}` }),
    ),
    ...(given('notifyUrl') ? [fieldProblem({ field: 'notifyUrl', message: 'notifyUrl in the query string goes with a CSV body; with a JSON body, give notify: {"url": …} in the body' })] : []),
  ];
  return {
    problems,
    valid: {
      rows,
      ...(fields.options === undefined ? {} : { options: fields.options as BatchOptions }),
      ...(typeof fields.batchId === 'string' ? { batchId: fields.batchId } : {}),
      ...(isNotify(fields.notify) ? { notify: { url: fields.notify.url } } : {}),
    },
  };
}

function isNotify(value: unknown): value is { url: string } {
  return typeof value === 'object' && value !== null && typeof (value as { url?: unknown }).url === 'string';
}

/**
 * The 400 for a batch with problems, in the error format. Unlike other 400s it lists every problem,
 * however many (a file of 10,000 rows may have as many), each bounded; the message stays one short line.
 */
function sendProblems(request: FastifyRequest, reply: FastifyReply, problems: BatchProblem[]): FastifyReply {
  const rows = new Set(problems.filter((p) => p.row > 0).map((p) => p.row)).size;
  const first = problems[0];
  const where = rows > 0 ? ` in ${rows} row${rows === 1 ? '' : 's'}` : '';
  const message =
    `the batch is not valid: ${problems.length === 1 ? '1 problem' : `${problems.length} problems`}${where}, ` +
    `${problems.length === 1 ? 'in details with its row and column' : 'each in details with its row and column'}` +
    (first ? `; the first: ${truncated(first.row > 0 || first.column === '' ? formatRowError(first) : first.message, 150)}` : '');
  request.log.info({ code: 'invalid_request', statusCode: 400, problems: problems.length }, message);
  const details = problems.map((p) => ({ field: truncated(p.field), row: p.row, column: truncated(p.column), message: boundedMessage(p.message) }));
  return reply.code(400).send({ error: { code: 'invalid_request', message, details } });
}

function invalidId(id: unknown): ApiError {
  return new ApiError(400, 'invalid_request', `the batch id must be 1 to ${BATCH_ID_MAX_LENGTH} letters, digits, ".", "_" or "-"`, [
    { field: 'id', message: `not a batch id: ${JSON.stringify(id)?.slice(0, 80)}; use the batchId a submit answered, or GET /v1/batches` },
  ]);
}

export interface BatchRoutesOptions {
  /** What a caller's callback URL may be (DIALTONE_NOTIFY_ALLOW_HTTP, DIALTONE_NOTIFY_ALLOWED_HOSTS); default https to any host, http only for loopback hosts. */
  notifyRules?: NotifyUrlRules;
}

const batchRoutes: FastifyPluginAsyncTypebox<BatchRoutesOptions> = async (fastify, routeOptions) => {
  const tags = ['batches'];
  const notifyRules: NotifyUrlRules = routeOptions.notifyRules ?? { allowHttp: false };
  const validated = new WeakMap<FastifyRequest, ValidatedSubmit>();

  // The CSV file as text; only this plugin's routes take it.
  fastify.addContentTypeParser(CSV_TYPE, { parseAs: 'string' }, (_request, body, done) => {
    done(null, body);
  });

  fastify.addHook('preValidation', async (request) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (id === undefined) return;
    if (!(typeof id === 'string' && /^[A-Za-z0-9._-]+$/.test(id) && id.length <= BATCH_ID_MAX_LENGTH)) throw invalidId(id);
    // Every field of a control is optional, so `curl -X POST …/pause` with no body is a pause.
    if (request.method === 'POST' && request.body === undefined) request.body = {};
  });

  fastify.post(
    '/batches',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Submit a batch of resource accounts (JSON or CSV), or plan it with dryRun',
        description:
          `Every row and option is checked first: a 400 lists every problem with its row and column. Then the batch starts and the answer is 202 ` +
          'with where to follow it. The batch id is batchId (JSON body, or query string with CSV), else derived from the Idempotency-Key header, ' +
          'else new; submitting the same id or key with the same rows and options answers with that batch (existing: true; 200 once it has ended), ' +
          `with other rows or options it is a 409. With dryRun=true nothing is changed: the batch is planned under the id "${DRY_RUN_PREFIX}<id>" and the ` +
          'answer is 200 with the plan and progress, or 202 if planning takes longer than API_DRY_RUN_WAIT_MS (GET the statusUrl for the plan). ' +
          `A body may be up to ${BATCH_BODY_LIMIT / 1024 / 1024} MiB.`,
        security: BEARER_SECURITY,
        headers: BatchKeyHeaders,
        querystring: CreateBatchQuery,
        body: { content: { 'application/json': { schema: CreateBatchBody }, [CSV_TYPE]: { schema: CreateBatchCsv } } },
        response: { 200: SubmitBatchResponse, 202: SubmitBatchResponse, 400: BatchValidationErrorResponse, ...errorResponses(409, 413, 415, ...V1_ERRORS) },
      },
      preValidation: async (request, reply) => {
        const csv = (request.headers['content-type'] ?? '').toLowerCase().startsWith(CSV_TYPE);
        const { problems, valid } = submitProblems(request.body, csv, request.query as Record<string, unknown>, notifyRules);
        if (problems.length > 0) return sendProblems(request, reply, problems);
        if (valid) validated.set(request, valid);
        return undefined;
      },
    },
    async (request, reply) => {
      const valid = validated.get(request);
      if (!valid) throw new Error('the batch was not validated');
      const { httpStatus, body } = await fastify.batches.submit({
        ...valid,
        dryRun: request.query.dryRun === true,
        idempotencyKey: request.headers['idempotency-key'],
        submittedBy: request.apiCaller,
      });
      return reply.code(httpStatus).header('location', body.statusUrl).send(body);
    },
  );

  fastify.get(
    '/batches',
    {
      schema: {
        tags,
        summary: 'Recent batches and dry runs',
        description: 'From Temporal visibility, which trails the batches by a moment. Page with nextPageToken.',
        security: BEARER_SECURITY,
        querystring: ListBatchesQuery,
        response: { 200: ListBatchesResponse, ...errorResponses(400, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.batches.list(request.query),
  );

  fastify.get(
    '/batches/:id',
    {
      schema: {
        tags,
        summary: "A batch's progress: state, counts per row state, rate and ETA, rows waiting for a decision, pause and controls",
        description: "A dry run's answer also holds the plan. Works for ended batches too.",
        security: BEARER_SECURITY,
        params: BatchParams,
        response: { 200: BatchStatusResponse, ...errorResponses(400, 404, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.batches.status(request.params.id),
  );

  fastify.get(
    '/batches/:id/rows',
    {
      schema: {
        tags,
        summary: "A batch's rows, page by page, optionally those in one state",
        description:
          "Each row's state, number, account, error and outcome, in file order. Page with nextPageToken; rows change state as the batch runs, " +
          'so with a state filter a row may move between pages while you read.',
        security: BEARER_SECURITY,
        params: BatchParams,
        querystring: BatchRowsQuery,
        response: { 200: BatchRowsResponse, ...errorResponses(400, 404, ...V1_ERRORS) },
      },
    },
    async (request) => fastify.batches.rows(request.params.id, request.query),
  );

  fastify.get(
    '/batches/:id/report.csv',
    {
      schema: {
        tags,
        summary: 'Every row of the batch as CSV: row, upn, accountId, phoneNumber, state, errorType, error, outcome',
        description:
          'RFC 4180. Cells of the free-text columns (upn, errorType, error, outcome) that a spreadsheet would take for a formula ' +
          "(starting with =, +, -, @, tab or carriage return) start with an apostrophe; phone numbers are left as they are.",
        security: BEARER_SECURITY,
        params: BatchParams,
        produces: ['text/csv'],
        response: { 200: { type: 'string', description: 'The CSV report' }, ...errorResponses(400, 404, ...V1_ERRORS) },
      },
    },
    async (request, reply) => {
      const csv = await fastify.batches.report(request.params.id);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="batch-${request.params.id}.csv"`)
        .send(csv);
    },
  );

  const controls: Array<[ControlAction, string]> = [
    ['pause', 'Pause the batch: no new row starts; rows already going carry on'],
    ['resume', 'Resume a paused (or quarantined) batch'],
    ['retry-failed', 'Start again every row that ended without completing (failed, rolled back, abandoned, cancelled, skipped)'],
  ];
  for (const [action, summary] of controls) {
    fastify.post(
      `/batches/:id/${action}`,
      {
        schema: {
          tags,
          summary,
          description: 'A 409 with the batch\'s reason when it refuses (e.g. already paused, or ended). With an Idempotency-Key a repeat answers as the first did.',
          security: BEARER_SECURITY,
          params: BatchParams,
          headers: BatchKeyHeaders,
          body: ControlBody,
          response: { 200: ControlResponse, ...errorResponses(400, 404, 409, ...V1_ERRORS) },
        },
      },
      async (request) =>
        fastify.batches.control(request.params.id, action, { ...request.body, by: request.body.by ?? request.apiCaller }, request.headers['idempotency-key']),
    );
  }

  fastify.post(
    '/batches/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel the batch: rows not started are skipped; with inFlight, rows going are cancelled too',
        description: 'Rows already going finish unless inFlight is true. A 409 with the batch\'s reason when it refuses (e.g. it has ended).',
        security: BEARER_SECURITY,
        params: BatchParams,
        headers: BatchKeyHeaders,
        body: CancelBatchBody,
        response: { 200: ControlResponse, ...errorResponses(400, 404, 409, ...V1_ERRORS) },
      },
    },
    async (request) =>
      fastify.batches.control(request.params.id, 'cancel', { ...request.body, by: request.body.by ?? request.apiCaller }, request.headers['idempotency-key']),
  );

  fastify.post(
    '/batches/:id/decision',
    {
      schema: {
        tags,
        summary: 'One decision (retry, rollback or abandon) for every row waiting for one, or those of an error type, or named UPNs',
        description:
          "Sent to each row's run as its own decision, recorded with by (default: the caller) and reason. A row whose run refuses " +
          '(e.g. rollback where it is not allowed) is listed in refused; the others in decided. With an Idempotency-Key each row takes the decision once for that key.',
        security: BEARER_SECURITY,
        params: BatchParams,
        headers: BatchKeyHeaders,
        body: BulkDecisionBody,
        response: { 200: BulkDecisionResponse, ...errorResponses(400, 404, ...V1_ERRORS) },
      },
    },
    async (request) =>
      fastify.batches.decide(request.params.id, { ...request.body, by: request.body.by ?? request.apiCaller }, request.headers['idempotency-key']),
  );
};

export default batchRoutes;
