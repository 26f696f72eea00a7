/**
 * /v1/batches on the product path: the real worker runs provisionBatch and its rows'
 * provisionResourceAccount runs against the tenant simulator (fast profile), on a real Temporal
 * server. Each test uses its own UPNs and its own numbers from the simulator's default inventory
 * (Seattle +120655501NN, toll-free +183355501NN, London +44207946NNNN).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import type { BatchRowsResponse, BatchStatusResponse, SubmitBatchResponse } from '../../api/schemas/batches';
import { AUTH, eventually, testConfig } from './helpers';
import { startApiOverStack } from './with-stack';
import type { ApiOverStack } from './with-stack';

interface ErrorJson {
  error: { code: string; message: string; details?: Array<{ field: string; row?: number; column?: string; message: string }> };
}
interface RequestSummary {
  routes: Array<{ method: string; route: string; count: number }>;
}

const DOMAIN = 'contoso.onmicrosoft.com';
const HEADER = 'upn,displayName,kind,usageLocation,phoneNumber,numberCity,tollFree';
const ENDED = new Set(['completed', 'completed-with-failures', 'cancelled', 'planned']);

interface Row {
  upn: string;
  displayName: string;
  kind: 'autoAttendant' | 'callQueue';
  usageLocation: string;
  phoneNumber: string;
  numberCity?: string;
  tollFree?: boolean;
}

/** Rows with fresh UPNs, one per number ("any" rows take the extra fields). */
function rows(prefix: string, numbers: Array<string | Partial<Row>>): Row[] {
  const id = randomUUID().slice(0, 6);
  return numbers.map((number, i) => ({
    upn: `${prefix}-${id}-${i + 1}@${DOMAIN}`,
    displayName: `${prefix} ${id} ${i + 1}`,
    kind: i % 2 === 0 ? 'autoAttendant' : 'callQueue',
    usageLocation: 'US',
    ...(typeof number === 'string' ? { phoneNumber: number } : { phoneNumber: 'any', ...number }),
  }));
}

function toCsv(list: Row[]): string {
  const cells = (r: Row) => [r.upn, r.displayName, r.kind, r.usageLocation, r.phoneNumber, r.numberCity ?? '', r.tollFree === undefined ? '' : String(r.tollFree)];
  return [HEADER, ...list.map((r) => cells(r).join(','))].join('\n') + '\n';
}

/** Tenant writes so far: any request that may change something, token requests aside. */
function writes(summary: RequestSummary): Record<string, number> {
  return Object.fromEntries(
    summary.routes
      .filter((r) => r.method !== 'GET' && !/oauth2|token|discovery/.test(r.route))
      .map((r) => [`${r.method} ${r.route}`, r.count]),
  );
}

describe('/v1/batches over the real worker and the tenant simulator', () => {
  let api: ApiOverStack;
  let app: ApiApp;

  before(async () => {
    api = await startApiOverStack();
    app = api.app;
  });
  after(async () => {
    await api?.close();
  });

  async function submit(payload: unknown, options: { expected?: number; csv?: boolean; query?: string; key?: string } = {}) {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/batches${options.query ?? ''}`,
      headers: {
        ...AUTH,
        ...(options.csv ? { 'content-type': 'text/csv' } : {}),
        ...(options.key ? { 'idempotency-key': options.key } : {}),
      },
      payload: payload as string,
    });
    assert.equal(res.statusCode, options.expected ?? 202, res.body);
    return res;
  }

  async function status(batchId: string): Promise<BatchStatusResponse> {
    const res = await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: AUTH });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<BatchStatusResponse>();
  }

  async function untilEnded(batchId: string): Promise<BatchStatusResponse> {
    return eventually(() => status(batchId), (s) => ENDED.has(s.state), `batch ${batchId} ending`, 1200);
  }

  test('a dry run answers the plan (action, number, problems per row, totals) and writes nothing to the tenant', async () => {
    const before = writes((await api.stack.simulator.app.inject({ method: 'GET', url: '/_simulator/requests' })).json<RequestSummary>());
    const batch = rows('dry', ['+12065550120', '+12065550121', { usageLocation: 'GB', numberCity: 'London' }]);
    const res = await submit({ rows: batch }, { query: '?dryRun=true', expected: 200 });
    const body = res.json<SubmitBatchResponse>();
    assert.match(body.batchId, /^dry-b-\d{8}-[0-9a-f]{6}$/);
    assert.equal(body.dryRun, true);
    assert.equal(body.progress?.state, 'planned');
    const plan = body.plan;
    assert.ok(plan, 'the plan is in the answer');
    assert.deepEqual(plan.rows.map((r) => [r.row, r.upn, r.action]), batch.map((r, i) => [i + 1, r.upn, 'create']));
    assert.deepEqual(plan.rows.slice(0, 2).map((r) => r.phoneNumber), ['+12065550120', '+12065550121']);
    assert.match(plan.rows[2]?.phoneNumber ?? '', /^\+44207946\d{4}$/, 'the "any" row is given a London number');
    assert.equal(plan.rows[2]?.allocated, true);
    assert.deepEqual(plan.rows.map((r) => r.problems), [[], [], []]);
    assert.equal(plan.totals.rows, 3);
    assert.equal(plan.totals.byAction.create, 3);
    assert.equal(plan.totals.licenses.needed, 3);

    const after = writes((await api.stack.simulator.app.inject({ method: 'GET', url: '/_simulator/requests' })).json<RequestSummary>());
    assert.deepEqual(after, before, 'no POST, PATCH, PUT or DELETE reached the tenant');

    // The plan stays readable at the status URL, from the ended workflow's result.
    const read = await status(body.batchId);
    assert.equal(read.source, 'result');
    assert.equal(read.dryRun, true);
    assert.deepEqual(read.plan?.rows.map((r) => r.phoneNumber), plan.rows.map((r) => r.phoneNumber));
  });

  test('a CSV batch with an "any" row runs to completed, and report.csv has one line per row', async () => {
    const batch = rows('csv', ['+12065550100', '+12065550101', '+12065550102', '+12065550103', { tollFree: true }]);
    const res = await submit(toCsv(batch), { csv: true, query: '?concurrency=3' });
    const body = res.json<SubmitBatchResponse>();
    assert.equal(res.headers.location, body.statusUrl);
    assert.deepEqual(
      [body.statusUrl, body.rowsUrl, body.reportUrl],
      [`/v1/batches/${body.batchId}`, `/v1/batches/${body.batchId}/rows`, `/v1/batches/${body.batchId}/report.csv`],
    );
    assert.equal(body.existing, false);

    const done = await untilEnded(body.batchId);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.counts.completed, 5);
    assert.equal(done.rows, 5);
    assert.match(done.submittedBy ?? '', /^api-token:[0-9a-f]{8}$/, 'the caller is recorded as the submitter');

    const report = await app.inject({ method: 'GET', url: body.reportUrl, headers: AUTH });
    assert.equal(report.statusCode, 200, report.body);
    assert.match(String(report.headers['content-type']), /^text\/csv/);
    const lines = report.body.trimEnd().split('\r\n');
    assert.equal(lines[0], 'row,upn,accountId,phoneNumber,state,errorType,error,outcome');
    assert.equal(lines.length, 1 + batch.length);
    lines.slice(1).forEach((line, i) => {
      const [row, upn, accountId, phoneNumber, state] = line.split(',');
      assert.equal(row, String(i + 1));
      assert.equal(upn, batch[i]?.upn);
      assert.ok(accountId, `row ${i + 1} has its account id`);
      assert.equal(state, 'completed');
      assert.equal(phoneNumber, i < 4 ? batch[i]?.phoneNumber : phoneNumber, 'phone numbers are written as they are');
    });
    assert.match(lines[5]?.split(',')[3] ?? '', /^\+18335550\d{3}$/, 'the toll-free "any" row got a toll-free number, no apostrophe');
  });

  test('a JSON batch: resubmitting with the same Idempotency-Key answers the same batch, another body under it is a 409; rows page by page', async () => {
    const batch = rows('json', ['+12065550110', '+12065550111', '+12065550112', { usageLocation: 'GB' }]);
    const key = randomUUID();
    const first = (await submit({ rows: batch, options: { concurrency: 2 } }, { key })).json<SubmitBatchResponse>();
    assert.match(first.batchId, /^k-[0-9a-f]{24}$/);

    const again = await app.inject({ method: 'POST', url: '/v1/batches', headers: { ...AUTH, 'idempotency-key': key }, payload: { rows: batch, options: { concurrency: 2 } } });
    assert.ok([200, 202].includes(again.statusCode), again.body);
    assert.equal(again.json<SubmitBatchResponse>().batchId, first.batchId);
    assert.equal(again.json<SubmitBatchResponse>().existing, true);

    const other = await submit({ rows: batch.slice(0, 3), options: { concurrency: 2 } }, { key, expected: 409 });
    assert.equal(other.json<ErrorJson>().error.code, 'conflict');
    assert.match(other.json<ErrorJson>().error.message, /other rows/);

    const done = await untilEnded(first.batchId);
    assert.equal(done.state, 'completed', JSON.stringify(done));

    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await app.inject({
        method: 'GET',
        url: `/v1/batches/${first.batchId}/rows?pageSize=3${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`,
        headers: AUTH,
      });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<BatchRowsResponse>();
      assert.equal(page.total, 4);
      seen.push(...page.items.map((item) => item.upn));
      for (const item of page.items) assert.equal(item.statusUrl, `/v1/resource-accounts/${encodeURIComponent(item.upn.toLowerCase())}`);
      token = page.nextPageToken;
      pages += 1;
    } while (token);
    assert.equal(pages, 2);
    assert.deepEqual(seen, batch.map((r) => r.upn));

    const filtered = await app.inject({ method: 'GET', url: `/v1/batches/${first.batchId}/rows?state=failed`, headers: AUTH });
    assert.deepEqual([filtered.json<BatchRowsResponse>().total, filtered.json<BatchRowsResponse>().items], [0, []]);
    const forged = await app.inject({ method: 'GET', url: `/v1/batches/${first.batchId}/rows?nextPageToken=MTA.AAAAAAAAAAAAAAAA`, headers: AUTH });
    assert.equal(forged.statusCode, 400, forged.body);

    const listed = await eventually(
      async () => (await app.inject({ method: 'GET', url: '/v1/batches?pageSize=100', headers: AUTH })).json<{ items: Array<{ batchId: string; state?: string }> }>(),
      (list) => list.items.some((item) => item.batchId === first.batchId && item.state === 'completed'),
      'the batch listed as completed',
    );
    assert.ok(listed.items.length >= 1);
  });

  test('every problem of every row at once, each with its row and column (400), for thousands of rows too', async () => {
    const good = rows('bad', ['+12065550129'])[0] as Row;
    const csv = [
      HEADER,
      `${good.upn},Main,autoAttendant,US,+12065550129,,`,
      'not-a-upn,,autoattendant,USA,12065550100,,',
      `${good.upn},Dup,callQueue,US,any,Seattle,maybe`,
    ].join('\n');
    const res = await submit(csv, { csv: true, query: '?concurrency=0', expected: 400 });
    const error = res.json<ErrorJson>().error;
    assert.equal(error.code, 'invalid_request');
    const found = (error.details ?? []).map((d) => `${d.row}:${d.column}`);
    assert.deepEqual(found, ['2:upn', '2:displayName', '2:kind', '2:usageLocation', '2:phoneNumber', '3:upn', '3:tollFree', '0:concurrency']);
    for (const d of error.details ?? []) assert.ok(d.message.length > 10, d.message);
    assert.match(error.message, /8 problems in 2 rows/);

    const many = [HEADER, ...Array.from({ length: 10_000 }, (_, i) => `aa-${i}@${DOMAIN},Row ${i},autoAttendant,US,+1206,,`)].join('\n');
    const big = await submit(many, { csv: true, expected: 400 });
    const bigError = big.json<ErrorJson>().error;
    assert.equal(bigError.details?.length, 10_000, 'every problem is listed');
    assert.deepEqual([bigError.details?.[9999]?.row, bigError.details?.[9999]?.column], [10_000, 'phoneNumber']);
    assert.ok(bigError.message.length < 400, `the message stays one short line: ${bigError.message}`);

    const json = await submit({ rows: [{ ...good, phoneNumber: 'nope', extra: 1 }], options: { quarantineWindow: 1 }, batchId: 'has space' }, { expected: 400 });
    const jsonFound = (json.json<ErrorJson>().error.details ?? []).map((d) => `${d.row}:${d.column}`);
    assert.deepEqual(jsonFound, ['1:extra', '1:phoneNumber', '0:options.quarantineWindow', '0:batchId']);
  });

  test('pause answers 200 and a second pause 409 with the batch\'s reason; resume lets it finish; bulk decision and errors on an ended batch', async () => {
    const batch = rows('pause', ['+12065550125', '+12065550126', '+12065550127']);
    const { batchId } = (await submit({ rows: batch, options: { concurrency: 1 } })).json<SubmitBatchResponse>();

    const pause = await app.inject({ method: 'POST', url: `/v1/batches/${batchId}/pause`, headers: AUTH, payload: { reason: 'checking the numbers' } });
    assert.equal(pause.statusCode, 200, pause.body);
    assert.equal(pause.json<{ state: string }>().state, 'paused');
    const paused = await status(batchId);
    assert.equal(paused.pause?.reason, 'checking the numbers');
    assert.match(paused.pause?.by ?? '', /^api-token:/);

    const again = await app.inject({ method: 'POST', url: `/v1/batches/${batchId}/pause`, headers: AUTH });
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json<ErrorJson>().error.code, 'invalid_state');
    assert.match(again.json<ErrorJson>().error.message, /paused already/);

    const resume = await app.inject({ method: 'POST', url: `/v1/batches/${batchId}/resume`, headers: { ...AUTH, 'idempotency-key': randomUUID() }, payload: { by: 'operator-1' } });
    assert.equal(resume.statusCode, 200, resume.body);
    const done = await untilEnded(batchId);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.deepEqual(done.controls.map((c) => [c.action, c.by]).slice(0, 2), [['pause', paused.pause?.by], ['resume', 'operator-1']]);

    const decision = await app.inject({
      method: 'POST',
      url: `/v1/batches/${batchId}/decision`,
      headers: AUTH,
      payload: { decision: 'retry', upns: [batch[0]?.upn] },
    });
    assert.equal(decision.statusCode, 200, decision.body);
    assert.deepEqual(decision.json(), { batchId, decided: [], refused: [{ upn: batch[0]?.upn, message: 'not among the rows of this batch waiting for a decision' }] });

    const cancel = await app.inject({ method: 'POST', url: `/v1/batches/${batchId}/cancel`, headers: AUTH, payload: { inFlight: true } });
    assert.equal(cancel.statusCode, 409, cancel.body);

    const missing = await app.inject({ method: 'GET', url: '/v1/batches/no-such-batch', headers: AUTH });
    assert.equal(missing.statusCode, 404, missing.body);
    assert.match(missing.json<ErrorJson>().error.message, /no batch no-such-batch/);
  });

  test('a dry run that takes longer than API_DRY_RUN_WAIT_MS answers 202; its status URL then holds the plan', async () => {
    const impatient = await buildApp(testConfig({ TEMPORAL_TASK_QUEUE: api.stack.taskQueue, API_DRY_RUN_WAIT_MS: '0' }), { temporalClient: api.stack.temporal.client });
    try {
      const batch = rows('drylater', ['+12065550123', { tollFree: false, numberCity: 'Seattle' }]);
      const res = await impatient.inject({ method: 'POST', url: '/v1/batches?dryRun=true', headers: AUTH, payload: { rows: batch, batchId: 'plan-later' } });
      assert.equal(res.statusCode, 202, res.body);
      const body = res.json<SubmitBatchResponse>();
      assert.equal(body.batchId, 'dry-plan-later');
      assert.equal(body.plan, undefined);
      const planned = await untilEnded(body.batchId);
      assert.equal(planned.state, 'planned');
      assert.deepEqual(planned.plan?.rows.map((r) => [r.row, r.action]), [[1, 'create'], [2, 'create']]);
      assert.match(planned.plan?.rows[1]?.phoneNumber ?? '', /^\+120655501\d\d$/);
    } finally {
      await impatient.close();
    }
  });

  test('one decision for every row waiting: a decision a row does not allow is listed as refused, the allowed one is taken by each', async () => {
    // User (subscriber) numbers: each row's pre-flight stops it for a decision.
    const batch = rows('attn', ['+14255550150', '+14255550151']);
    const { batchId } = (await submit({ rows: batch })).json<SubmitBatchResponse>();
    const waiting = await eventually(
      async () => (await app.inject({ method: 'GET', url: `/v1/batches/${batchId}/rows?state=needs-attention`, headers: AUTH })).json<BatchRowsResponse>(),
      (page) => page.total === 2,
      'both rows waiting for a decision',
      600,
    );
    assert.deepEqual(waiting.items.map((r) => r.error?.type), ['PreflightFailed', 'PreflightFailed']);

    const rollback = await app.inject({ method: 'POST', url: `/v1/batches/${batchId}/decision`, headers: AUTH, payload: { decision: 'rollback', reason: 'undo' } });
    assert.equal(rollback.statusCode, 200, rollback.body);
    const refused = rollback.json<{ decided: string[]; refused: Array<{ upn: string; message: string }> }>();
    assert.deepEqual(refused.decided, []);
    assert.deepEqual(refused.refused.map((r) => r.upn).sort(), batch.map((r) => r.upn).sort());
    for (const r of refused.refused) assert.match(r.message, /^decision refused: decision must be one of retry, abandon/);

    const key = randomUUID();
    const abandon = await app.inject({
      method: 'POST',
      url: `/v1/batches/${batchId}/decision`,
      headers: { ...AUTH, 'idempotency-key': key },
      payload: { decision: 'abandon', reason: 'wrong numbers', by: 'operator-2', errorType: 'PreflightFailed' },
    });
    assert.equal(abandon.statusCode, 200, abandon.body);
    assert.deepEqual(abandon.json<{ decided: string[] }>().decided.sort(), batch.map((r) => r.upn).sort());

    const ended = await eventually(() => status(batchId), (s) => s.counts.abandoned === 2, 'both rows abandoned', 600);
    assert.equal(ended.state, 'completed-with-failures');
    const account = await app.inject({ method: 'GET', url: `/v1/resource-accounts/${encodeURIComponent(batch[0]?.upn ?? '')}`, headers: AUTH });
    const decisions = account.json<{ decisions: Array<{ decision: string; by?: string; reason?: string }> }>().decisions;
    assert.deepEqual(decisions.map((d) => [d.decision, d.by, d.reason]), [['abandon', 'operator-2', 'wrong numbers']]);

    const report = await app.inject({ method: 'GET', url: `/v1/batches/${batchId}/report.csv`, headers: AUTH });
    const lines = report.body.trimEnd().split('\r\n');
    assert.equal(lines.length, 3);
    for (const line of lines.slice(1)) assert.match(line, /,abandoned,PreflightFailed,/);
  });

  test('every /v1/batches route needs the bearer token', async () => {
    for (const [method, url] of [['GET', '/v1/batches'], ['POST', '/v1/batches'], ['GET', '/v1/batches/x'], ['GET', '/v1/batches/x/report.csv'], ['POST', '/v1/batches/x/pause']] as const) {
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 401, `${method} ${url}`);
    }
  });
});
