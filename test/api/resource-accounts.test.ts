/**
 * /v1/resource-accounts through app.inject, on a real Temporal dev server. These cases need no
 * worker: validation, auth, starting and joining runs, conflicts, listing, not-found.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import type { ApiConfig } from '../../api/config';
import { resourceAccountWorkflowId, searchAttributes } from '../../workflows/provision-resource-account/definitions';
import { OPTION_RANGES } from '../../lib/validation';
import type { ProvisionResourceAccountInput } from '../../workflows/provision-resource-account/definitions';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { AUTH, TOKEN, accountBody, eventually, logCollector, longestUpn, statusPath, testConfig } from './helpers';

interface ErrorJson {
  error: { code: string; message: string; details?: Array<{ field: string; message: string }> };
}

describe('/v1/resource-accounts on a real Temporal dev server (no worker)', () => {
  let temporal: TestTemporal;
  let config: ApiConfig;
  let app: ApiApp;

  before(async () => {
    temporal = await startTestTemporal();
    // A short worker timeout: nothing polls this task queue, and the fallback is what is tested.
    config = testConfig({ API_WORKER_TIMEOUT_MS: '300', TEMPORAL_UI_URL: 'http://localhost:8233', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
    app = await buildApp(config, { temporalClient: temporal.client });
  });
  after(async () => {
    await app?.close();
    await temporal?.teardown();
  });

  function post(payload: unknown, headers: Record<string, string> = AUTH) {
    return app.inject({ method: 'POST', url: '/v1/resource-accounts', headers, payload: payload as Record<string, unknown> });
  }

  describe('validation', () => {
    async function detailsOf(payload: unknown): Promise<Array<{ field: string; message: string }>> {
      const res = await post(payload);
      assert.equal(res.statusCode, 400, res.body);
      const body = res.json<ErrorJson>();
      assert.equal(body.error.code, 'invalid_request');
      assert.ok(body.error.details, 'details are given');
      return body.error.details;
    }

    test('a bad UPN is named with how to fix it', async () => {
      const details = await detailsOf(accountBody('aa', { upn: 'not-an-upn' }));
      assert.deepEqual(details.map((d) => d.field), ['upn']);
      assert.match(details[0]?.message ?? '', /use exactly one "@", as in aa-main@contoso\.onmicrosoft\.com/);
    });

    test('a number that is not E.164 is named with the expected form', async () => {
      const details = await detailsOf(accountBody('aa', { phoneNumber: '(206) 555-0100' }));
      assert.deepEqual(details.map((d) => d.field), ['phoneNumber']);
      assert.match(details[0]?.message ?? '', /is not an E\.164 number: write "\+", the country code/);
    });

    test('an unknown kind lists the accepted kinds', async () => {
      const details = await detailsOf({ ...accountBody(), kind: 'voicemail' });
      assert.deepEqual(details.map((d) => d.field), ['kind']);
      assert.match(details[0]?.message ?? '', /kind must be one of autoAttendant, callQueue \(got "voicemail"\)/);
    });

    test('a usage location in lower case is refused with the capitalised code', async () => {
      const details = await detailsOf(accountBody('aa', { usageLocation: 'us' }));
      assert.deepEqual(details.map((d) => d.field), ['usageLocation']);
      assert.match(details[0]?.message ?? '', /write it in capitals: US/);
    });

    test('an unknown field is refused by name, listing the accepted fields', async () => {
      const details = await detailsOf({ ...accountBody(), tenantId: 'other-tenant' });
      assert.deepEqual(details.map((d) => d.field), ['tenantId']);
      assert.match(details[0]?.message ?? '', /unknown field "tenantId": remove it \(accepted fields: upn, displayName, kind, usageLocation, phoneNumber, association, options, notify\)/);
    });

    test('an association is checked field by field: a GUID identity, a type that fits the kind, a priority from 1 to 5', async () => {
      const details = await detailsOf(accountBody('aa', { association: { configurationId: 'Main line', configurationType: 'CallQueue', callPriority: 9, queue: 1 } }));
      assert.deepEqual(details.map((d) => d.field).sort(), ['association.callPriority', 'association.configurationId', 'association.configurationType', 'association.queue']);
      assert.match(details.find((d) => d.field === 'association.configurationId')?.message ?? '', /identity \(a GUID\) of an existing auto attendant or call queue: Get-CsAutoAttendant/);
      assert.match(details.find((d) => d.field === 'association.configurationType')?.message ?? '', /a autoAttendant resource account can only be associated with an auto attendant \(AutoAttendant\): change kind or configurationType/);
      assert.match(details.find((d) => d.field === 'association.callPriority')?.message ?? '', /from 1 \(highest\) to 5 \(lowest\)/);
    });

    test('every problem is reported at once, missing fields included', async () => {
      const details = await detailsOf({ upn: 'x@y', kind: 'queue', color: 'blue' });
      assert.deepEqual(details.map((d) => d.field).sort(), ['color', 'displayName', 'kind', 'phoneNumber', 'upn', 'usageLocation']);
      assert.match(details.find((d) => d.field === 'displayName')?.message ?? '', /displayName is required/);
    });

    test('options are checked, naming the nested field and the accepted options', async () => {
      const details = await detailsOf(accountBody('aa', { options: { propagationTimeoutMs: 'soon', retries: 3 } }));
      const fields = details.map((d) => d.field).sort();
      assert.deepEqual(fields, ['options.propagationTimeoutMs', 'options.retries']);
      assert.match(
        details.find((d) => d.field === 'options.retries')?.message ?? '',
        /unknown option "retries": remove it \(accepted: propagationTimeoutMs, attentionTimeoutMs, licenseRecheckIntervalMs, onDeletedAccount\)/,
      );
    });

    test('an option out of its range is named with the range, all at once with the other fields', async () => {
      const details = await detailsOf(
        accountBody('aa', { phoneNumber: '12065550100', options: { attentionTimeoutMs: 9e15, licenseRecheckIntervalMs: 1000, onDeletedAccount: 'keep' } }),
      );
      assert.deepEqual(details.map((d) => d.field).sort(), [
        'options.attentionTimeoutMs',
        'options.licenseRecheckIntervalMs',
        'options.onDeletedAccount',
        'phoneNumber',
      ]);
      assert.match(
        details.find((d) => d.field === 'options.attentionTimeoutMs')?.message ?? '',
        /^options\.attentionTimeoutMs must be a whole number of milliseconds between 1 minute and 90 days \(60000–7776000000\); got 9000000000000000$/,
      );
      assert.match(details.find((d) => d.field === 'options.licenseRecheckIntervalMs')?.message ?? '', /between 10 seconds and 1 day/);
    });

    test('each option at the ends of its range is accepted', async () => {
      const options = Object.fromEntries(Object.entries(OPTION_RANGES).map(([name, range]) => [name, range.max]));
      assert.equal((await post(accountBody('aa', { options }))).statusCode, 202);
      const lowest = Object.fromEntries(Object.entries(OPTION_RANGES).map(([name, range]) => [name, range.min]));
      assert.equal((await post(accountBody('aa', { options: lowest }))).statusCode, 202);
    });

    test('a body that is not a JSON object is refused', async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '[1,2]' });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json<ErrorJson>().error.details?.[0]?.field, '(body)');
    });

    test('malformed JSON is a 400 in the error format', async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{"upn":' });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json<ErrorJson>().error.code, 'invalid_request');
    });

    test('a huge bad value is echoed only as a bounded prefix, in the response and in the log', async () => {
      const log = logCollector();
      const logged = await buildApp(testConfig({ LOG_LEVEL: 'info' }), { temporalClient: temporal.client, logStream: log.stream });
      try {
        const upn = 'x'.repeat(900_000);
        const unknownField = 'y'.repeat(50_000);
        const res = await logged.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: { ...accountBody(), upn, [unknownField]: 1 } });
        assert.equal(res.statusCode, 400);
        assert.ok(res.body.length < 3000, `the response is ${res.body.length} characters`);
        const { error } = res.json<ErrorJson>();
        assert.match(error.message, /upn "x{100}…\(899900 more characters\)" is not a user principal name: use exactly one "@"/);
        assert.deepEqual(error.details?.map((d) => d.field), ['upn', `${'y'.repeat(100)}…(49900 more characters)`]);
        assert.match(error.details?.[0]?.message ?? '', /^upn "x{100}…\(899900 more characters\)" is not a user principal name/);
        assert.ok(log.text().length < 10_000, `the log is ${log.text().length} characters`);
        assert.doesNotMatch(log.text(), /x{101}|y{101}/);
      } finally {
        await logged.close();
      }
    });

    test('the request log never holds a query string', async () => {
      const log = logCollector();
      const logged = await buildApp(testConfig({ LOG_LEVEL: 'info' }), { temporalClient: temporal.client, logStream: log.stream });
      try {
        const res = await logged.inject({ method: 'GET', url: '/v1/resource-accounts?access_token=s3cr3t-token-value&pageSize=5', headers: AUTH });
        assert.equal(res.statusCode, 400, 'a token in the query string is refused');
        assert.match(log.text(), /"url":"\/v1\/resource-accounts\?…"/);
        assert.doesNotMatch(log.text(), /s3cr3t|pageSize=5/);
      } finally {
        await logged.close();
      }
    });

    test('an id that is not a UPN is a 400 naming id', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/resource-accounts/nobody', headers: AUTH });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json<ErrorJson>().error.details?.[0]?.field, 'id');
    });

    test('a bad list filter is a 400 naming each parameter', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/resource-accounts?state=done&pageSize=0&sort=asc', headers: AUTH });
      assert.equal(res.statusCode, 400, res.body);
      const details = res.json<ErrorJson>().error.details ?? [];
      assert.deepEqual(details.map((d) => d.field).sort(), ['pageSize', 'sort', 'state']);
      assert.match(details.find((d) => d.field === 'state')?.message ?? '', /^state must be one of running, needs-attention, .*cancelled$/);
      assert.match(details.find((d) => d.field === 'sort')?.message ?? '', /^unknown field "sort": remove it \(accepted fields: state, pageSize, nextPageToken\)$/);
    });
  });

  describe('authentication', () => {
    test('no token: 401 with a Bearer challenge, and nothing is started', async () => {
      const body = accountBody();
      const res = await post(body, {});
      assert.equal(res.statusCode, 401);
      assert.match(String(res.headers['www-authenticate']), /^Bearer realm="dialtone"$/);
      assert.equal(res.json<ErrorJson>().error.code, 'unauthorized');
      await assert.rejects(
        temporal.client.workflow.getHandle(resourceAccountWorkflowId(config.tenantId, body.upn)).describe(),
        { name: 'WorkflowNotFoundError' },
      );
    });

    test('a wrong token: 401 invalid_token', async () => {
      const res = await app.inject({ method: 'GET', url: statusPath('x@contoso.com'), headers: { authorization: `Bearer ${TOKEN}x` } });
      assert.equal(res.statusCode, 401);
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    });

    test('another scheme is not accepted', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/resource-accounts', headers: { authorization: `Basic ${TOKEN}` } });
      assert.equal(res.statusCode, 401);
    });

    test('unknown /v1 paths need a token too', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
      assert.equal(res.statusCode, 401);
    });

    test("DIALTONE_NOTIFY_ALLOWED_HOSTS: a caller's notify.url for another host is refused, naming the field; nothing is started", async () => {
      const guarded = await buildApp(testConfig({ DIALTONE_NOTIFY_ALLOWED_HOSTS: '.contoso.com' }), { temporalClient: temporal.client });
      try {
        const body = { ...accountBody('aa'), notify: { url: 'https://hooks.fabrikam.net/dialtone' } };
        const res = await guarded.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: body });
        assert.equal(res.statusCode, 400, res.body);
        const [detail] = res.json<{ error: { details: Array<{ field: string; message: string }> } }>().error.details;
        assert.equal(detail?.field, 'notify.url');
        assert.match(detail?.message ?? '', /the host hooks\.fabrikam\.net is not one this Dialtone sends events to \(DIALTONE_NOTIFY_ALLOWED_HOSTS lists \.contoso\.com\)/);
        const batch = await guarded.inject({
          method: 'POST', url: '/v1/batches', headers: AUTH,
          payload: { notify: { url: 'https://169.254.169.254/latest' }, rows: [accountBody('bb')] },
        });
        assert.equal(batch.statusCode, 400, batch.body);
        assert.match(batch.body, /notify\.url names a link-local address/);
        const allowed = await guarded.inject({
          method: 'POST', url: '/v1/resource-accounts', headers: AUTH,
          payload: { ...accountBody('aa'), notify: { url: 'https://hooks.contoso.com/dialtone' } },
        });
        assert.equal(allowed.statusCode, 202, allowed.body);
        await temporal.client.workflow.getHandle(allowed.json<{ workflowId: string }>().workflowId).terminate('test: only the acceptance mattered');
      } finally {
        await guarded.close();
      }
    });

    test('with auth disabled, /v1 answers without a token', async () => {
      const open = await buildApp(testConfig({ API_AUTH_TOKENS: '', API_AUTH_DISABLED: 'true' }), { temporalClient: temporal.client });
      try {
        const res = await open.inject({ method: 'GET', url: statusPath('nobody-here@contoso.com') });
        assert.equal(res.statusCode, 404, res.body);
      } finally {
        await open.close();
      }
    });

    test('with auth disabled, only requests addressed to a loopback name are answered (DNS rebinding)', async () => {
      const open = await buildApp(testConfig({ API_AUTH_TOKENS: '', API_AUTH_DISABLED: 'true' }), { temporalClient: temporal.client });
      const url = statusPath('nobody-here@contoso.com');
      try {
        for (const host of ['localhost:3000', 'LOCALHOST', '127.0.0.1:3000', '127.0.0.1', '[::1]:3000']) {
          const res = await open.inject({ method: 'GET', url, headers: { host } });
          assert.equal(res.statusCode, 404, `${host}: ${res.body}`);
        }
        for (const host of ['attacker.example:3000', 'attacker.example', '127.0.0.1.nip.io:3000', 'localhost.attacker.example', '192.168.1.20:3000', '[::2]:3000']) {
          for (const path of [url, '/healthz', '/openapi.json']) {
            const res = await open.inject({ method: 'GET', url: path, headers: { host } });
            assert.equal(res.statusCode, 421, `${host}${path}: ${res.body}`);
            const { error } = res.json<ErrorJson>();
            assert.equal(error.code, 'misdirected_request');
            assert.match(error.message, /answers only requests addressed to localhost, 127\.0\.0\.1 or \[::1\]/);
          }
        }
      } finally {
        await open.close();
      }
      const guarded = await app.inject({ method: 'GET', url, headers: { ...AUTH, host: 'dialtone.contoso.com' } });
      assert.equal(guarded.statusCode, 404, 'with authentication on, any Host is answered');
    });
  });

  describe('submitting', () => {
    test('202 with Location, run id and status URL; the run carries the request and search attributes', async () => {
      const body = accountBody('AA-Main');
      const res = await post(body);
      assert.equal(res.statusCode, 202, res.body);
      const json = res.json<{ id: string; workflowId: string; runId: string; state: string; existing: boolean; statusUrl: string; temporalUiUrl: string }>();
      const id = body.upn.toLowerCase();
      assert.equal(json.id, id);
      assert.equal(json.workflowId, resourceAccountWorkflowId(config.tenantId, body.upn));
      assert.equal(json.state, 'running');
      assert.equal(json.existing, false);
      assert.equal(json.statusUrl, `/v1/resource-accounts/${encodeURIComponent(id)}`);
      assert.equal(res.headers.location, json.statusUrl);
      assert.equal(
        json.temporalUiUrl,
        `http://localhost:8233/namespaces/default/workflows/${encodeURIComponent(json.workflowId)}/${json.runId}/user-metadata`,
      );

      const description = await temporal.client.workflow.getHandle(json.workflowId).describe();
      assert.equal(description.runId, json.runId);
      assert.equal(description.type, 'provisionResourceAccount');
      assert.equal(description.taskQueue, config.temporal.taskQueue);
      assert.equal(description.typedSearchAttributes.get(searchAttributes.upn), id);
      assert.equal(description.typedSearchAttributes.get(searchAttributes.phoneNumber), body.phoneNumber);
      assert.equal(description.typedSearchAttributes.get(searchAttributes.state), 'running');
    });

    test('an association without a type takes the one that fits the kind, and the run carries it', async () => {
      const body = accountBody('cq', { kind: 'callQueue', association: { configurationId: '8c1d9e2f-4a3b-4c6d-9e8f-1a2b3c4d5e6f' } });
      const res = await post(body);
      assert.equal(res.statusCode, 202, res.body);
      const { workflowId } = res.json<{ workflowId: string }>();
      const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
      const started = JSON.parse(Buffer.from(payload ?? []).toString()) as ProvisionResourceAccountInput;
      assert.deepEqual(started.association, { configurationId: '8c1d9e2f-4a3b-4c6d-9e8f-1a2b3c4d5e6f', configurationType: 'CallQueue' });
    });

    test('the same request again joins the run: same run id, existing: true', async () => {
      const body = accountBody();
      const first = await post(body);
      assert.equal(first.statusCode, 202);
      const second = await post({ ...body, upn: body.upn.toUpperCase() });
      assert.equal(second.statusCode, 202, second.body);
      assert.equal(second.json<{ runId: string }>().runId, first.json<{ runId: string }>().runId);
      assert.equal(second.json<{ existing: boolean }>().existing, true);
    });

    test('a different request for the same UPN is a 409 naming the differing fields, and the run is untouched', async () => {
      const body = accountBody();
      const first = await post(body);
      assert.equal(first.statusCode, 202);
      const res = await post({ ...body, displayName: 'Something else', phoneNumber: '+12065550199' });
      assert.equal(res.statusCode, 409, res.body);
      const json = res.json<ErrorJson>();
      assert.equal(json.error.code, 'conflict');
      assert.deepEqual(json.error.details?.map((d) => d.field), ['displayName', 'phoneNumber']);
      assert.match(json.error.details?.[1]?.message ?? '', /the existing run has phoneNumber "\+12065550100"; this request has "\+12065550199"/);

      const handle = temporal.client.workflow.getHandle(first.json<{ workflowId: string }>().workflowId);
      const description = await handle.describe();
      assert.equal(description.runId, first.json<{ runId: string }>().runId);
      assert.equal(description.status.name, 'RUNNING');
    });

    test('the longest valid UPN can be submitted and followed through every route', async () => {
      const upn = longestUpn();
      assert.equal(upn.length, 318);
      const url = statusPath(upn);
      assert.ok(url.length - '/v1/resource-accounts/'.length > 300, 'the encoded id is longer than a default path segment');
      const submitted = await post(accountBody('aa', { upn }));
      assert.equal(submitted.statusCode, 202, submitted.body);
      assert.equal(submitted.headers.location, url);

      const status = await app.inject({ method: 'GET', url, headers: AUTH });
      assert.equal(status.statusCode, 200, status.body);
      assert.equal(status.json<{ request: { upn: string } }>().request.upn, upn);
      const runs = await app.inject({ method: 'GET', url: `${url}/runs`, headers: AUTH });
      assert.equal(runs.statusCode, 200, runs.body);
      const decision = await app.inject({ method: 'POST', url: `${url}/decision`, headers: AUTH, payload: { decision: 'retry' } });
      assert.equal(decision.json<ErrorJson>().error.code, 'worker_unavailable', 'the decision reached the run (no worker here)');
      const cancel = await app.inject({ method: 'POST', url: `${url}/cancel`, headers: AUTH });
      assert.equal(cancel.statusCode, 202, cancel.body);
    });

    test('the options are passed to the workflow', async () => {
      const body = accountBody('aa', { options: { propagationTimeoutMs: 3_600_000 } });
      const res = await post(body);
      assert.equal(res.statusCode, 202, res.body);
      const status = await app.inject({ method: 'GET', url: statusPath(body.upn), headers: AUTH });
      const request = status.json<{ request: ProvisionResourceAccountInput }>().request;
      assert.deepEqual(request, {
        tenantId: config.tenantId,
        upn: body.upn,
        displayName: body.displayName,
        kind: body.kind,
        usageLocation: body.usageLocation,
        phoneNumber: body.phoneNumber,
        phoneNumberType: 'callingPlan',
        options: { propagationTimeoutMs: 3_600_000 },
      });
    });
  });

  describe('reading', () => {
    test('unknown account: 404 not_found', async () => {
      const res = await app.inject({ method: 'GET', url: statusPath(accountBody().upn), headers: AUTH });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json<ErrorJson>().error.code, 'not_found');
    });

    test('decision and cancel for an unknown account: 404', async () => {
      const url = statusPath(accountBody().upn);
      const decision = await app.inject({ method: 'POST', url: `${url}/decision`, headers: AUTH, payload: { decision: 'retry' } });
      assert.equal(decision.statusCode, 404, decision.body);
      const cancel = await app.inject({ method: 'POST', url: `${url}/cancel`, headers: AUTH });
      assert.equal(cancel.statusCode, 404, cancel.body);
    });

    test('with no worker answering, the status falls back to the request and the reported state, and says why', async () => {
      const body = accountBody();
      const started = await post(body);
      assert.equal(started.statusCode, 202);
      const res = await app.inject({ method: 'GET', url: statusPath(body.upn), headers: AUTH });
      assert.equal(res.statusCode, 200, res.body);
      const json = res.json<{ id: string; runId: string; state: string; workflowStatus: string; source: string; note: string; request: { upn: string } }>();
      assert.equal(json.id, body.upn.toLowerCase());
      assert.equal(json.runId, started.json<{ runId: string }>().runId);
      assert.equal(json.workflowStatus, 'RUNNING');
      assert.equal(json.state, 'running');
      assert.equal(json.source, 'fallback');
      assert.match(json.note, /no worker answered the status query .* is the Dialtone worker running on task queue/);
      assert.equal(json.request.upn, body.upn);
    });

    test('a decision with no worker to take it: 503 worker_unavailable', async () => {
      const body = accountBody();
      assert.equal((await post(body)).statusCode, 202);
      const res = await app.inject({ method: 'POST', url: `${statusPath(body.upn)}/decision`, headers: AUTH, payload: { decision: 'retry' } });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json<ErrorJson>().error.code, 'worker_unavailable');
    });

    test('an unknown decision is a 400 listing the accepted ones', async () => {
      const res = await app.inject({ method: 'POST', url: `${statusPath('a@contoso.com')}/decision`, headers: AUTH, payload: { decision: 'ignore' } });
      assert.equal(res.statusCode, 400);
      assert.match(res.json<ErrorJson>().error.details?.[0]?.message ?? '', /decision must be one of retry, rollback, abandon/);
    });

    test('the list shows runs with their state, filters by state, and pages', async () => {
      const bodies = [accountBody('list'), accountBody('list')];
      for (const body of bodies) assert.equal((await post(body)).statusCode, 202);
      const ids = bodies.map((b) => b.upn.toLowerCase());

      type Page = { items: Array<{ id: string; runId: string; state?: string; workflowStatus: string; startedAt: string; statusUrl: string }>; nextPageToken?: string };
      const all = await eventually(
        async () => (await app.inject({ method: 'GET', url: '/v1/resource-accounts?state=running&pageSize=1000', headers: AUTH })).json<Page>(),
        (page) => ids.every((id) => page.items.some((item) => item.id === id)),
        'both runs listed as running',
      );
      const item = all.items.find((i) => i.id === ids[0]);
      assert.equal(item?.state, 'running');
      assert.equal(item?.workflowStatus, 'RUNNING');
      assert.equal(item?.statusUrl, statusPath(ids[0] ?? ''));
      assert.ok(!Number.isNaN(Date.parse(item?.startedAt ?? '')));

      const completed = await app.inject({ method: 'GET', url: '/v1/resource-accounts?state=completed', headers: AUTH });
      assert.equal(completed.statusCode, 200);
      assert.ok(!completed.json<Page>().items.some((i) => ids.includes(i.id)), 'running runs are not listed as completed');

      const first = (await app.inject({ method: 'GET', url: '/v1/resource-accounts?pageSize=1', headers: AUTH })).json<Page>();
      assert.equal(first.items.length, 1);
      assert.ok(first.nextPageToken, 'a next page token is given');
      const second = (
        await app.inject({ method: 'GET', url: `/v1/resource-accounts?pageSize=1&nextPageToken=${first.nextPageToken}`, headers: AUTH })
      ).json<Page>();
      assert.equal(second.items.length, 1);
      assert.notEqual(second.items[0]?.runId, first.items[0]?.runId, 'the second page holds another run');

      const otherFilter = await app.inject({ method: 'GET', url: `/v1/resource-accounts?pageSize=1&state=running&nextPageToken=${first.nextPageToken}`, headers: AUTH });
      assert.equal(otherFilter.statusCode, 400, 'a token is bound to the filter it was issued for');
    });

    test('an account provisioned again after its run was terminated is listed once, as its latest run', async () => {
      const body = accountBody('again');
      const first = await post(body);
      assert.equal(first.statusCode, 202, first.body);
      const { workflowId, runId: firstRunId } = first.json<{ workflowId: string; runId: string }>();
      await temporal.client.workflow.getHandle(workflowId, firstRunId).terminate('test: the operator stopped it');
      const second = await post(body);
      assert.equal(second.statusCode, 202, second.body);
      const secondRunId = second.json<{ runId: string }>().runId;
      assert.notEqual(secondRunId, firstRunId);
      const id = body.upn.toLowerCase();

      type Page = { items: Array<{ id: string; runId: string; workflowStatus: string }> };
      // Visibility has indexed both runs once /runs shows two; the list must still show the account once.
      await eventually(
        async () => (await app.inject({ method: 'GET', url: `${statusPath(id)}/runs`, headers: AUTH })).json<Page>(),
        (page) => page.items.length === 2,
        'both runs indexed',
      );
      for (const url of ['/v1/resource-accounts?pageSize=1000', '/v1/resource-accounts?pageSize=1000&state=running']) {
        const page = (await app.inject({ method: 'GET', url, headers: AUTH })).json<Page>();
        assert.deepEqual(
          page.items.filter((item) => item.id === id).map((item) => [item.runId, item.workflowStatus]),
          [[secondRunId, 'RUNNING']],
          url,
        );
      }
    });

    test('without pageSize the list pages by the documented default', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/resource-accounts', headers: AUTH });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(res.json<{ items: unknown[] }>().items.length <= 50);
    });

    test('a forged page token is a 400 naming nextPageToken', async () => {
      for (const token of ['Zm9yZ2Vk', 'Zm9yZ2Vk.AAAAAAAAAAAAAAAA']) {
        const res = await app.inject({ method: 'GET', url: `/v1/resource-accounts?nextPageToken=${token}`, headers: AUTH });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json<ErrorJson>().error.details?.[0]?.field, 'nextPageToken');
      }
    });
  });

  describe('earlier runs', () => {
    type Runs = { id: string; workflowId: string; items: Array<{ runId: string; state?: string; workflowStatus: string; startedAt: string; closedAt?: string; statusUrl: string }>; nextPageToken?: string };

    /** An account with two runs: the first terminated, the second running. */
    async function accountRunTwice(prefix = 'runs'): Promise<{ id: string; firstRunId: string; secondRunId: string }> {
      const body = accountBody(prefix);
      const first = await post(body);
      assert.equal(first.statusCode, 202, first.body);
      const { workflowId, runId: firstRunId } = first.json<{ workflowId: string; runId: string }>();
      await temporal.client.workflow.getHandle(workflowId, firstRunId).terminate('test');
      const second = await post(body);
      assert.equal(second.statusCode, 202, second.body);
      return { id: body.upn.toLowerCase(), firstRunId, secondRunId: second.json<{ runId: string }>().runId };
    }

    test('/runs lists every run of the account, newest first, each with its own status URL', async () => {
      const { id, firstRunId, secondRunId } = await accountRunTwice();
      const runs = await eventually(
        async () => (await app.inject({ method: 'GET', url: `${statusPath(id)}/runs`, headers: AUTH })).json<Runs>(),
        (page) => page.items.length === 2,
        'both runs listed',
      );
      assert.equal(runs.id, id);
      assert.equal(runs.workflowId, resourceAccountWorkflowId(config.tenantId, id));
      assert.deepEqual(
        runs.items.map((r) => [r.runId, r.workflowStatus, r.statusUrl]),
        [
          [secondRunId, 'RUNNING', `${statusPath(id)}?runId=${secondRunId}`],
          [firstRunId, 'TERMINATED', `${statusPath(id)}?runId=${firstRunId}`],
        ],
      );
      assert.ok(runs.items[1]?.closedAt && !runs.items[0]?.closedAt, 'only the closed run has closedAt');
      assert.equal(runs.nextPageToken, undefined);
    });

    test('/runs pages with a token bound to the account', async () => {
      const { id, firstRunId, secondRunId } = await accountRunTwice();
      const other = await accountRunTwice();
      const page1 = await eventually(
        async () => (await app.inject({ method: 'GET', url: `${statusPath(id)}/runs?pageSize=1`, headers: AUTH })).json<Runs>(),
        (page) => page.nextPageToken !== undefined,
        'a first page with a next page',
      );
      assert.deepEqual(page1.items.map((r) => r.runId), [secondRunId]);
      const page2 = await app.inject({ method: 'GET', url: `${statusPath(id)}/runs?pageSize=1&nextPageToken=${page1.nextPageToken}`, headers: AUTH });
      assert.equal(page2.statusCode, 200, page2.body);
      assert.deepEqual(page2.json<Runs>().items.map((r) => r.runId), [firstRunId]);

      const elsewhere = await app.inject({ method: 'GET', url: `${statusPath(other.id)}/runs?pageSize=1&nextPageToken=${page1.nextPageToken}`, headers: AUTH });
      assert.equal(elsewhere.statusCode, 400, elsewhere.body);
      assert.equal(elsewhere.json<ErrorJson>().error.details?.[0]?.field, 'nextPageToken');
    });

    test('/runs of an account just started shows its run; of an unknown account is a 404', async () => {
      const body = accountBody('fresh');
      const started = await post(body);
      assert.equal(started.statusCode, 202);
      const res = await app.inject({ method: 'GET', url: `${statusPath(body.upn)}/runs`, headers: AUTH });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json<Runs>().items.map((r) => r.runId), [started.json<{ runId: string }>().runId]);

      const unknown = await app.inject({ method: 'GET', url: `${statusPath(accountBody().upn)}/runs`, headers: AUTH });
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.equal(unknown.json<ErrorJson>().error.code, 'not_found');
    });

    test('an account whose UPN holds an apostrophe has its runs listed', async () => {
      const body = accountBody('aa', { upn: `o'brien-${Date.now()}@contoso.onmicrosoft.com` });
      assert.equal((await post(body)).statusCode, 202);
      const runs = await eventually(
        async () => app.inject({ method: 'GET', url: `${statusPath(body.upn)}/runs`, headers: AUTH }),
        (res) => res.statusCode === 200 && res.json<Runs>().items.length === 1,
        'the run listed',
      );
      assert.equal(runs.json<Runs>().id, body.upn.toLowerCase());
    });

    test('?runId= reads that run; a run of another account is a 404 naming it; a malformed one a 400', async () => {
      const { id, firstRunId, secondRunId } = await accountRunTwice();
      const earlier = await app.inject({ method: 'GET', url: `${statusPath(id)}?runId=${firstRunId}`, headers: AUTH });
      assert.equal(earlier.statusCode, 200, earlier.body);
      assert.deepEqual(
        { runId: earlier.json<{ runId: string }>().runId, workflowStatus: earlier.json<{ workflowStatus: string }>().workflowStatus },
        { runId: firstRunId, workflowStatus: 'TERMINATED' },
      );
      const latest = await app.inject({ method: 'GET', url: statusPath(id), headers: AUTH });
      assert.equal(latest.json<{ runId: string }>().runId, secondRunId);

      const other = await accountRunTwice();
      const foreign = await app.inject({ method: 'GET', url: `${statusPath(id)}?runId=${other.firstRunId}`, headers: AUTH });
      assert.equal(foreign.statusCode, 404, foreign.body);
      assert.equal(foreign.json<ErrorJson>().error.code, 'not_found');
      assert.match(foreign.json<ErrorJson>().error.message, new RegExp(`${other.firstRunId} is not a run of `));

      const malformed = await app.inject({ method: 'GET', url: `${statusPath(id)}?runId=latest`, headers: AUTH });
      assert.equal(malformed.statusCode, 400, malformed.body);
      assert.equal(malformed.json<ErrorJson>().error.details?.[0]?.field, 'runId');
    });
  });

  describe('decision requests', () => {
    test('an Idempotency-Key that is empty, too long or not printable is a 400 naming the header', async () => {
      for (const key of ['', 'k'.repeat(201), 'tab\there']) {
        const res = await app.inject({
          method: 'POST',
          url: `${statusPath('a@contoso.com')}/decision`,
          headers: { ...AUTH, 'idempotency-key': key },
          payload: { decision: 'retry' },
        });
        assert.equal(res.statusCode, 400, `${JSON.stringify(key)}: ${res.body}`);
        assert.equal(res.json<ErrorJson>().error.details?.[0]?.field, 'idempotency-key');
      }
    });

    test('by is 1 to 200 characters', async () => {
      for (const by of ['', 'b'.repeat(201)]) {
        const res = await app.inject({ method: 'POST', url: `${statusPath('a@contoso.com')}/decision`, headers: AUTH, payload: { decision: 'retry', by } });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json<ErrorJson>().error.details?.[0]?.field, 'by');
      }
    });
  });
});
