/** Health, readiness, OpenAPI and metrics, and the API over real HTTP. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import { OPTION_RANGES } from '../../lib/validation';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { AUTH, TOKEN, accountBody, testConfig } from './helpers';
import { freeLoopbackPort } from '../../lib/free-port';

/** Sends `request` as it is over a new connection and reads the answer until the server closes it. */
async function rawHttp(port: number, request: string): Promise<{ status: number; headers: string; body: string }> {
  const answer = await new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = answer.split('\r\n\r\n', 2);
  return { status: Number(head.split(' ', 2)[1]), headers: head.toLowerCase(), body };
}

describe('operations endpoints', () => {
  let temporal: TestTemporal;
  let app: ApiApp;

  before(async () => {
    temporal = await startTestTemporal();
    // No injected client: the app opens (and closes) its own connection from the config.
    app = await buildApp(testConfig({ TEMPORAL_ADDRESS: temporal.address }));
  });
  after(async () => {
    await app?.close();
    await temporal?.teardown();
  });

  test('/healthz answers without a token', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  test('/readyz is 200 when Temporal answers', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { status: 'ready' });
  });

  test('/readyz is 503 when Temporal cannot be reached, /metrics says the runs are missing, and the app still starts', async () => {
    const down = await buildApp(testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await freeLoopbackPort()}` }));
    try {
      const res = await down.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503, res.body);
      assert.deepEqual(res.json(), { status: 'not-ready', reason: 'Temporal is not reachable' });
      // A scrape is bounded and still answers, with dialtone_runs_up 0 instead of the runs.
      const metrics = await down.inject({ method: 'GET', url: '/metrics' });
      assert.equal(metrics.statusCode, 200, metrics.body);
      assert.match(metrics.body, /^dialtone_runs_up 0$/m);
      assert.doesNotMatch(metrics.body, /^dialtone_runs\{/m);
      assert.match(metrics.body, /^process_cpu_user_seconds_total \d/m);
      const health = await down.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
      const submit = await down.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: accountBody() });
      assert.equal(submit.statusCode, 503, submit.body);
      assert.equal(submit.json<{ error: { code: string } }>().error.code, 'temporal_unavailable');
    } finally {
      await down.close();
    }
  });

  test('/docs is the interactive OpenAPI page (Swagger UI) for people, served from the package, and absent when turned off', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200, page.body.slice(0, 200));
    assert.match(String(page.headers['content-type'] ?? ''), /text\/html/);
    assert.match(page.body, /swagger-ui/i);
    const spec = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(spec.statusCode, 200);
    assert.ok((spec.json() as { paths: Record<string, unknown> }).paths['/v1/resource-accounts'], 'the page reads the API\'s own OpenAPI document');
    const off = await buildApp(testConfig({ API_DOCS_UI: 'false' }));
    try {
      assert.equal((await off.inject({ method: 'GET', url: '/docs/' })).statusCode, 404);
      assert.equal((await off.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200, 'the JSON document stays');
    } finally {
      await off.close();
    }
  });

  test('/openapi.json is OpenAPI 3 listing every route with bearer auth on /v1', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    type Parameter = { in: string; name: string; required?: boolean; description?: string; schema: Record<string, unknown> };
    const doc = res.json<{
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown>; parameters?: Parameter[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    }>();
    assert.match(doc.openapi, /^3\./);
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual(routes.sort(), [
      'GET /healthz',
      'GET /metrics',
      'GET /readyz',
      'GET /v1/resource-accounts',
      'GET /v1/resource-accounts/{id}',
      'GET /v1/resource-accounts/{id}/runs',
      'POST /v1/resource-accounts',
      'POST /v1/resource-accounts/{id}/cancel',
      'POST /v1/resource-accounts/{id}/decision',
      'POST /v1/resource-accounts/{id}/license-purchase',
      'GET /v1/batches',
      'GET /v1/batches/{id}',
      'GET /v1/batches/{id}/report.csv',
      'GET /v1/batches/{id}/rows',
      'POST /v1/batches',
      'POST /v1/batches/{id}/cancel',
      'POST /v1/batches/{id}/decision',
      'POST /v1/batches/{id}/license-purchase',
      'POST /v1/batches/{id}/pause',
      'POST /v1/batches/{id}/resume',
      'POST /v1/batches/{id}/retry-failed',
    ].sort());
    assert.deepEqual(doc.paths['/v1/resource-accounts']?.post?.security, [{ bearerAuth: [] }]);
    assert.deepEqual(Object.keys(doc.paths['/v1/resource-accounts']?.post?.responses ?? {}).sort(), ['200', '202', '400', '401', '409', '500', '503']);
    assert.ok(doc.components.securitySchemes.bearerAuth);

    const parameter = (path: string, method: string, name: string) => doc.paths[path]?.[method]?.parameters?.find((p) => p.name === name);
    for (const path of ['/v1/resource-accounts', '/v1/resource-accounts/{id}/runs']) {
      const pageSize = parameter(path, 'get', 'pageSize');
      assert.equal(pageSize?.required ?? false, false, `${path}: pageSize is optional`);
      assert.equal(pageSize?.schema.default, 50);
      assert.match(String(pageSize?.description), /default 50/);
    }
    assert.equal(parameter('/v1/resource-accounts/{id}', 'get', 'runId')?.in, 'query');
    const key = parameter('/v1/resource-accounts/{id}/decision', 'post', 'idempotency-key');
    assert.equal(key?.in, 'header');
    assert.equal(key?.required ?? false, false);
    assert.deepEqual([key?.schema.minLength, key?.schema.maxLength], [1, 200]);
    const createBody = JSON.stringify((doc.paths['/v1/resource-accounts']?.post as unknown as { requestBody: unknown }).requestBody);
    assert.doesNotMatch(createBody, /batchId/, 'only a batch sets a run\'s batch id; a single request cannot');
    for (const [path, methods] of Object.entries(doc.paths).filter(([p]) => p.startsWith('/v1/'))) {
      for (const [method, operation] of Object.entries(methods)) assert.deepEqual(operation.security, [{ bearerAuth: [] }], `${method} ${path}`);
    }
    const batchBody = (doc.paths['/v1/batches']?.post as unknown as { requestBody: { content: Record<string, unknown> } }).requestBody.content;
    assert.deepEqual(Object.keys(batchBody).sort(), ['application/json', 'text/csv'], 'a batch is JSON or a CSV file');

    type Schema = { properties: Record<string, { minimum?: number; maximum?: number; description?: string }> };
    const body = (doc.paths['/v1/resource-accounts']?.post as unknown as { requestBody: { content: Record<string, { schema: { properties: { options: Schema } } }> } })
      .requestBody.content['application/json']?.schema.properties.options;
    for (const [name, range] of Object.entries(OPTION_RANGES)) {
      const option = body?.properties[name];
      assert.deepEqual([option?.minimum, option?.maximum], [range.min, range.max], name);
      assert.match(option?.description ?? '', new RegExp(`${range.what} .*default ${range.default}`), name);
    }
  });

  test('unknown routes are a JSON 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/nothing' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'not_found');
  });

  test('/metrics counts requests by route pattern and status', async () => {
    const upn = accountBody().upn;
    for (let i = 0; i < 2; i++) await app.inject({ method: 'GET', url: `/v1/resource-accounts/${encodeURIComponent(upn)}`, headers: AUTH });
    await app.inject({ method: 'GET', url: '/v1/resource-accounts' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^dialtone_api_requests_total\{method="GET",route="\/v1\/resource-accounts\/:id",status_code="404"\} 2$/m);
    assert.match(res.body, /^dialtone_api_requests_total\{method="GET",route="\/v1\/resource-accounts",status_code="401"\} 1$/m);
    assert.doesNotMatch(res.body, /contoso/, 'raw URLs never become labels');
    // Durations are a real histogram (buckets), no longer a sum and count alone.
    assert.match(res.body, /^# TYPE dialtone_api_request_duration_seconds histogram$/m);
    assert.match(res.body, /^dialtone_api_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/resource-accounts\/:id",status_code="404"\} 2$/m);
    // The process's own metrics, from prom-client's default collectors.
    assert.match(res.body, /^process_cpu_user_seconds_total \d/m);
    assert.match(res.body, /^nodejs_eventloop_lag_seconds \d/m);
    // The tenant's runs by state, counted in Temporal at the scrape.
    assert.match(res.body, /^dialtone_runs_up 1$/m);
    for (const state of ['running', 'needs-attention', 'rolling-back', 'completed', 'rolled-back', 'abandoned', 'cancelled']) {
      assert.match(res.body, new RegExp(`^dialtone_runs\\{state="${state}"\\} \\d+$`, 'm'), state);
    }
  });

  test('over real HTTP, errors raised before a route runs are in the error format too', async () => {
    const server = await buildApp(testConfig(), { temporalClient: temporal.client });
    try {
      const base = await server.listen({ host: '127.0.0.1', port: 0 });
      const port = (server.server.address() as AddressInfo).port;
      type Json = { error: { code: string; message: string } };
      const expectError = async (res: Response, status: number, code: string) => {
        const text = await res.text();
        assert.equal(res.status, status, text);
        assert.match(String(res.headers.get('content-type')), /^application\/json/);
        assert.equal((JSON.parse(text) as Json).error.code, code, text);
        return (JSON.parse(text) as Json).error.message;
      };
      const auth = { authorization: `Bearer ${TOKEN}` };

      // Node's HTTP parser: headers (the request line included) over its limit.
      assert.match(await expectError(await fetch(`${base}/healthz`, { headers: { 'x-filler': 'a'.repeat(20_000) } }), 431, 'headers_too_large'), /larger than 16384 bytes/);
      await expectError(await fetch(`${base}/v1/resource-accounts?pageSize=${'9'.repeat(20_000)}`, { headers: auth }), 431, 'headers_too_large');
      // A path segment longer than any URL-encoded UPN.
      assert.match(
        await expectError(await fetch(`${base}/v1/resource-accounts/${'a'.repeat(1000)}%40contoso.com`, { headers: auth }), 414, 'uri_too_long'),
        /an account id is a user principal name, at most 318 characters/,
      );
      await expectError(await fetch(`${base}/v1/resource-accounts/%E0%A4%A`, { headers: auth }), 400, 'invalid_request');
      const deleted = await fetch(`${base}/v1/resource-accounts`, { method: 'DELETE', headers: auth });
      assert.equal(deleted.headers.get('allow'), 'GET, HEAD, POST');
      await expectError(deleted, 405, 'method_not_allowed');
      await expectError(await fetch(`${base}/nothing-here`), 404, 'not_found');
      const json = { ...auth, 'content-type': 'application/json' };
      await expectError(await fetch(`${base}/v1/resource-accounts`, { method: 'POST', headers: json, body: JSON.stringify({ upn: 'a'.repeat(2_000_000) }) }), 413, 'payload_too_large');
      await expectError(await fetch(`${base}/v1/resource-accounts`, { method: 'POST', headers: json, body: '{"upn":' }), 400, 'invalid_request');
      await expectError(await fetch(`${base}/v1/resource-accounts`, { method: 'POST', headers: { ...auth, 'content-type': 'application/xml' }, body: '<upn/>' }), 415, 'unsupported_media_type');

      // What fetch will not send: TRACE, a method HTTP does not know, no Host.
      const trace = await rawHttp(port, `TRACE /v1/resource-accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
      assert.equal(trace.status, 405, trace.body);
      assert.match(trace.headers, /^allow: get, head, post$/m);
      assert.equal((JSON.parse(trace.body) as Json).error.code, 'method_not_allowed');
      const traceHealth = await rawHttp(port, 'TRACE /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      assert.equal(traceHealth.status, 405, traceHealth.body);
      const unknown = await rawHttp(port, 'BREW /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      assert.equal(unknown.status, 501, unknown.body);
      assert.equal((JSON.parse(unknown.body) as Json).error.code, 'not_implemented');
      const noHost = await rawHttp(port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
      assert.equal(noHost.status, 400, noHost.body);
      assert.equal((JSON.parse(noHost.body) as Json).error.code, 'invalid_request');
    } finally {
      await server.close();
    }
  });

  test('over real HTTP: 401 without a token, 202 and a readable status with one', async () => {
    const server = await buildApp(testConfig({ API_WORKER_TIMEOUT_MS: '300' }), { temporalClient: temporal.client });
    try {
      const base = await server.listen({ host: '127.0.0.1', port: 0 });
      const body = accountBody();
      const anonymous = await fetch(`${base}/v1/resource-accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="dialtone"');

      const created = await fetch(`${base}/v1/resource-accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
      assert.equal(created.status, 202);
      const location = created.headers.get('location');
      assert.equal(location, `/v1/resource-accounts/${encodeURIComponent(body.upn.toLowerCase())}`);

      const status = await fetch(`${base}${location}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(status.status, 200);
      const json = (await status.json()) as { id: string; request: { upn: string } };
      assert.equal(json.id, body.upn.toLowerCase());
      assert.equal(json.request.upn, body.upn);
    } finally {
      await server.close();
    }
  });
});
