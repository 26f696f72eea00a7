/** Health, readiness, OpenAPI and metrics, and the API over real HTTP. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { AUTH, TOKEN, accountBody, testConfig } from './helpers';

/** A local port with nothing listening: bind one, note it, release it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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

  test('/readyz is 503 when Temporal cannot be reached, and the app still starts', async () => {
    const down = await buildApp(testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` }));
    try {
      const res = await down.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503, res.body);
      assert.deepEqual(res.json(), { status: 'not-ready', reason: 'Temporal is not reachable' });
      const health = await down.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
      const submit = await down.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: accountBody() });
      assert.equal(submit.statusCode, 503, submit.body);
      assert.equal(submit.json<{ error: { code: string } }>().error.code, 'temporal_unavailable');
    } finally {
      await down.close();
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
    ]);
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
    assert.doesNotMatch(res.body, /batchId/, 'nothing can set a batch id yet, so no public shape shows one');
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
