/**
 * GET /metrics on the API and on the worker process, after provisioning accounts through the API on a
 * tenant that throttles: the runs by state (API), and the business metrics the worker records — runs
 * started and ended, license propagation, time in needs-attention, throttled calls by route — next to
 * the process's own metrics and the Temporal SDK's, all on the worker's one address.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import { freeLoopbackPort } from '../../lib/free-port';
import { AUTH, accountBody, testConfig } from '../api/helpers';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { killHard, workerProcesses } from '../helpers/worker-process';
import { eventually } from '../licensing/helpers';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (label values here hold no escaped quotes). */
function parse(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    return [{ name: match[1] ?? '', labels, value: Number(match[3]) }];
  });
}

/** The sum of the samples named `name` whose labels include `labels`. */
function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

interface RequestSummary {
  routes: Array<{ method: string; route: string; cmdlet?: string; statuses: Record<string, number> }>;
}

describe('GET /metrics on the API and the worker after provisioning', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  let worker: ChildProcess | undefined;
  let app: ApiApp;
  let workerMetricsUrl: string;
  // A tenant of its own, so the runs counted are this file's alone on a Temporal server other files share.
  const tenantId = randomUUID();
  const taskQueue = `metrics-${randomUUID()}`;
  let metricsPort = 0;
  const workers = workerProcesses(() => temporal, () => sim, () => taskQueue, () => ({
    AZURE_TENANT_ID: tenantId,
    WORKER_METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`,
  }));

  before(async () => {
    temporal = await startTestTemporal();
    // A budget of a few resource units per app and window: the runs' first Graph calls meet 429s.
    sim = await startTestSimulator({ tenantId, throttle: { resourceUnits: 8, windowMs: 2000 } });
    metricsPort = await freeLoopbackPort();
    workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    worker = workers.start();
    app = await buildApp(testConfig({ TEMPORAL_TASK_QUEUE: taskQueue, AZURE_TENANT_ID: tenantId }), { temporalClient: temporal.client });
  });
  after(async () => {
    await app?.close();
    await killHard(worker);
    await sim?.close();
    await temporal?.teardown();
  });

  async function scrapeWorker(): Promise<Sample[]> {
    const response = await fetch(workerMetricsUrl);
    assert.equal(response.status, 200);
    assert.match(String(response.headers.get('content-type')), /^text\/plain; version=0\.0\.4/);
    return parse(await response.text());
  }

  async function scrapeApi(): Promise<Sample[]> {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200, response.body);
    return parse(response.body);
  }

  async function simRequests(): Promise<RequestSummary> {
    return (await sim.app.inject({ method: 'GET', url: '/_simulator/requests' })).json<RequestSummary>();
  }

  async function state(upn: string): Promise<string> {
    const response = await app.inject({ method: 'GET', url: `/v1/resource-accounts/${encodeURIComponent(upn)}`, headers: AUTH });
    return response.statusCode === 200 ? response.json<{ state: string }>().state : `HTTP ${response.statusCode}`;
  }

  test('runs by state, license propagation, needs-attention, throttled calls by route, and the SDK\'s metrics', async () => {
    const completing = [accountBody('aa', { phoneNumber: '+12065550101' }), accountBody('aa', { phoneNumber: '+12065550102' })];
    // A GB number for a US account: the pre-flight stops the run in needs-attention.
    const stopped = accountBody('aa', { phoneNumber: '+442079460001', usageLocation: 'US' });
    for (const body of [...completing, stopped]) {
      const submitted = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: body });
      assert.equal(submitted.statusCode, 202, submitted.body);
    }
    const failWithLog = (err: unknown) => assert.fail(`${String(err)}\n${workers.log()}`);
    // Once the tenant has throttled a few calls, its budget is lifted so the runs finish without long backoffs.
    const graph429s = (summary: RequestSummary) => summary.routes.filter((r) => r.route.startsWith('/v1.0/') && !r.cmdlet).reduce((n, r) => n + (r.statuses['429'] ?? 0), 0);
    await eventually('429s from the tenant', simRequests, (summary) => graph429s(summary) > 0, 60_000).catch(failWithLog);
    const lifted = await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { throttle: null } });
    assert.equal(lifted.statusCode, 200, lifted.body);
    for (const body of completing) {
      await eventually(`${body.upn} completed`, () => state(body.upn), (s) => s === 'completed', 120_000).catch(failWithLog);
    }
    await eventually(`${stopped.upn} needs attention`, () => state(stopped.upn), (s) => s === 'needs-attention', 60_000).catch(failWithLog);

    // The API counts the tenant's runs in Temporal's visibility store, which trails the runs by a moment.
    // Only the runs' samples are read while waiting, so a failure shows those and not the whole scrape.
    const runsOnApi = async () => (await scrapeApi()).filter((m) => m.name.startsWith('dialtone_runs'));
    await eventually('runs by state on the API', runsOnApi,
      (m) => sum(m, 'dialtone_runs', { state: 'completed' }) === 2 && sum(m, 'dialtone_runs', { state: 'needs-attention' }) === 1, 30_000);
    const counted = await scrapeApi();
    assert.equal(sum(counted, 'dialtone_runs_up'), 1);
    assert.equal(sum(counted, 'dialtone_runs', { state: 'running' }), 0);
    assert.equal(sum(counted, 'dialtone_runs', { state: 'abandoned' }), 0);
    assert.equal(sum(counted, 'dialtone_api_requests_total', { method: 'POST', route: '/v1/resource-accounts', status_code: '202' }), 3);

    const decided = await app.inject({
      method: 'POST', url: `/v1/resource-accounts/${encodeURIComponent(stopped.upn)}/decision`, headers: AUTH,
      payload: { decision: 'abandon', reason: 'wrong number in the request' },
    });
    assert.equal(decided.statusCode, 200, decided.body);
    await eventually(`${stopped.upn} abandoned`, () => state(stopped.upn), (s) => s === 'abandoned', 30_000);
    const afterDecision = await eventually('the abandoned run on the API', runsOnApi,
      (m) => sum(m, 'dialtone_runs', { state: 'abandoned' }) === 1 && sum(m, 'dialtone_runs', { state: 'needs-attention' }) === 0, 30_000);
    assert.equal(sum(afterDecision, 'dialtone_runs', { state: 'completed' }), 2);

    // The worker: its business metrics, recorded as the runs went.
    const business = async () => (await scrapeWorker()).filter((m) => m.name.startsWith('dialtone_') && !m.name.endsWith('_bucket'));
    await eventually('the abandoned run on the worker', business, (m) => sum(m, 'dialtone_run_duration_seconds_count', { outcome: 'abandoned' }) === 1, 10_000);
    const metrics = await scrapeWorker();
    assert.equal(sum(metrics, 'dialtone_runs_started_total'), 3);
    assert.equal(sum(metrics, 'dialtone_run_duration_seconds_count', { outcome: 'completed' }), 2);
    assert.equal(sum(metrics, 'dialtone_license_propagation_seconds_count'), 2, 'each completed run assigned its license and saw it arrive');
    assert.ok(sum(metrics, 'dialtone_license_propagation_seconds_sum') > 0);
    assert.equal(sum(metrics, 'dialtone_license_propagation_seconds_bucket', { le: '+Inf' }), 2);
    assert.equal(sum(metrics, 'dialtone_needs_attention_seconds_count', { error_type: 'PreflightFailed', decision: 'abandon', automatic: 'false' }), 1);
    assert.equal(sum(metrics, 'dialtone_needs_attention_seconds_count'), 1);

    // Throttled calls: every 429 the simulator sent to a Graph route, counted by the same route as a template.
    // The Teams module's own Graph read when it connects (made for a cmdlet) reaches the module, not the
    // worker's Graph client, and is not one of Dialtone's calls.
    const requests = await simRequests();
    const graph429 = new Map<string, number>();
    for (const r of requests.routes.filter((r) => r.route.startsWith('/v1.0/') && !r.cmdlet && r.statuses['429'])) {
      const route = r.route.replace(/:[^/]+/g, '{id}');
      graph429.set(route, (graph429.get(route) ?? 0) + (r.statuses['429'] ?? 0));
    }
    assert.ok(graph429.size > 0, `the simulator throttled some Graph calls: ${JSON.stringify(requests.routes)}`);
    const throttled = metrics.filter((s) => s.name === 'dialtone_throttled_calls_total' && s.labels.service === 'graph');
    assert.deepEqual(new Map(throttled.map((s) => [s.labels.route, s.value])), graph429);
    for (const s of metrics.filter((s) => s.name === 'dialtone_throttled_calls_total')) {
      assert.doesNotMatch(s.labels.route ?? '', /@|[0-9a-f]{8}-[0-9a-f]{4}|\+\d/i, 'no UPN, id or number in a route label');
    }

    // The process's own metrics and the Temporal SDK's, on the same address.
    assert.ok(metrics.some((s) => s.name === 'process_cpu_user_seconds_total'));
    assert.ok(metrics.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
    assert.equal(sum(metrics, 'dialtone_temporal_sdk_metrics_up'), 1);
    assert.ok(metrics.some((s) => s.name.startsWith('temporal_') && s.labels.task_queue === taskQueue), 'the SDK\'s metrics of this worker\'s task queue');
  });
});
