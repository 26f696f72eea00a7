/**
 * One provisioning run is one trace: the API's span for the REST request, the client's StartWorkflow,
 * the workflow's RunWorkflow, each activity's StartActivity and RunActivity, and under those every
 * HTTP call to the tenant (token, Graph, Teams), linked parent to child. The API (listening on a port,
 * with its own Temporal client), the worker and the simulator run in this process with the
 * OpenTelemetry SDK started as the entry points start it, exporting to memory.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ApplicationFailure, log } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { LogEntry, Worker } from '@temporalio/worker';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import { startTelemetry } from '../../lib/telemetry';
import type { Telemetry } from '../../lib/telemetry';
import { createPowerShellTeamsAdmin, simulatorPowerShellHost } from '../../activities/teams-admin/powershell';
import type { TeamsAdminError } from '../../activities/teams-admin/teams-admin';
import { RESOURCE_ACCOUNT_APP_IDS } from '../../lib/microsoft';
import { createCredential } from '../../worker/credentials';
import { TraceContextLogger, tracingWorkerOptions } from '../../worker/tracing';
import { createDialtoneWorker, createTenantActivities } from '../../worker/worker';
import { TOKEN, eventually, logCollector, testConfig } from '../api/helpers';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';

/** The attribute naming an outgoing call's URL: undici's (fetch) and the http instrumentation's (node https). */
function urlOf(span: ReadableSpan): string | undefined {
  const url = span.attributes['url.full'] ?? span.attributes['http.url'];
  return typeof url === 'string' ? url : undefined;
}

describe('tracing: one trace from the REST request to every call to the tenant', () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: Telemetry;
  let temporal: TestTemporal;
  let simulator: TestSimulator;
  let worker: Worker;
  let running: Promise<void>;
  let app: ApiApp;
  let apiUrl: string;
  const logs = logCollector();

  before(async () => {
    const started = await startTelemetry({ exporters: [], protocol: 'http/json' }, { serviceName: 'dialtone-test', exporter });
    assert.ok(started, 'an injected exporter turns tracing on');
    telemetry = started;
    temporal = await startTestTemporal();
    simulator = await startTestSimulator();
    const taskQueue = `tracing-${randomUUID()}`;
    worker = await createDialtoneWorker({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      activities: createTenantActivities(simulator.tenant, TEST_POLLING),
      telemetry,
    });
    running = worker.run();
    // The API makes its own client, as in production, so that the tracing interceptors are on it.
    const config = testConfig({ TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace, TEMPORAL_TASK_QUEUE: taskQueue, LOG_LEVEL: 'info' });
    app = await buildApp(config, { telemetry, logStream: logs.stream });
    apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    worker?.shutdown();
    await running;
    await simulator?.close();
    await temporal?.teardown();
    await telemetry?.shutdown();
  });

  /** A request from outside, so not traced itself: the API's span is the root of the run's trace. */
  function untraced<T>(fn: () => Promise<T>): Promise<T> {
    return context.with(suppressTracing(context.active()), fn);
  }

  test('API span → StartWorkflow → RunWorkflow → each activity → each HTTP call, one trace, and the log line names it', async () => {
    const upn = `trace-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    const body = { upn, displayName: 'Traced line', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550127' };
    const res = await untraced(() =>
      fetch(`${apiUrl}/v1/resource-accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
    assert.equal(res.status, 202, await res.clone().text());
    const { workflowId } = (await res.json()) as { workflowId: string };
    const handle = temporal.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as { state: string };
    assert.equal(result.state, 'completed');

    const history = await handle.fetchHistory();
    const activityTypes = new Set(
      (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : [])),
    );
    assert.ok(activityTypes.size >= 5, `the run called its activities: ${[...activityTypes].join(', ')}`);

    // The workflow's spans reach the exporter through a sink once the run has finished.
    await eventually(
      async () => {
        await telemetry.flush();
        return exporter.getFinishedSpans().flatMap((s) => (s.attributes.workflowId === workflowId ? [s.name] : []));
      },
      (names) => names.includes('RunWorkflow:provisionResourceAccount'),
      'the RunWorkflow span is exported',
      100,
    );
    const spans = exporter.getFinishedSpans();

    const root = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/resource-accounts');
    assert.ok(root, `the API's server span is named after its route: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(root.parentSpanId, undefined, 'the API span is the root');
    const traceId = root.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan) => (s.parentSpanId === undefined ? undefined : byId.get(s.parentSpanId));
    const ancestors = (s: ReadableSpan): ReadableSpan[] => {
      const chain: ReadableSpan[] = [];
      for (let p = parentOf(s); p; p = parentOf(p)) chain.push(p);
      return chain;
    };

    // A tree: every span but the root has its parent in the trace, and the root at the top.
    for (const span of inTrace) {
      if (span === root) continue;
      assert.ok(parentOf(span), `${span.name} has its parent in the trace`);
      assert.equal(ancestors(span).at(-1), root, `${span.name} descends from the API span`);
    }

    const start = inTrace.find((s) => s.name === 'StartWorkflow:provisionResourceAccount');
    assert.ok(start, 'the API started the workflow inside its request span');
    const run = inTrace.find((s) => s.name === 'RunWorkflow:provisionResourceAccount');
    assert.ok(run, 'the run continues the trace from the workflow headers');
    assert.equal(parentOf(run), start);
    assert.deepEqual(
      Object.keys(run.attributes).filter((k) => ['workflowId', 'runId', 'workflowType', 'memo', 'searchAttributes', 'typedSearchAttributes', 'lastResult'].includes(k)).sort(),
      ['runId', 'workflowId', 'workflowType'],
      'workflow spans name their run, and carry no memo or search attributes',
    );

    const runActivities = inTrace.filter((s) => s.name.startsWith('RunActivity:'));
    for (const type of activityTypes) {
      const spansOfType = runActivities.filter((s) => s.name === `RunActivity:${type}`);
      assert.ok(spansOfType.length > 0, `RunActivity:${type} is in the trace`);
      for (const span of spansOfType) {
        assert.ok(ancestors(span).includes(run), `RunActivity:${type} is under the run`);
        assert.equal(parentOf(span)?.name, `StartActivity:${type}`);
      }
    }

    // Every outgoing call to the tenant, from any activity, is a child of an activity's span.
    const tenantCalls = spans.filter((s) => s.kind === SpanKind.CLIENT && urlOf(s)?.startsWith(simulator.url));
    assert.ok(tenantCalls.length > 0);
    for (const call of tenantCalls) {
      assert.equal(call.spanContext().traceId, traceId, `${urlOf(call)} is in the run's trace`);
      assert.ok(ancestors(call).some((a) => a.name.startsWith('RunActivity:')), `${urlOf(call)} is under an activity`);
    }
    const paths = tenantCalls.map((s) => new URL(urlOf(s) ?? '').pathname);
    assert.ok(paths.some((p) => p.endsWith('/oauth2/v2.0/token')), `the token call (@azure/identity, node https) is traced: ${paths.join(' ')}`);
    assert.ok(paths.some((p) => p.startsWith('/v1.0/users') || p.startsWith('/beta/users')), 'Graph calls (fetch) are traced');
    assert.ok(paths.some((p) => p.startsWith('/Teams.')), `Teams admin calls (fetch) are traced: ${paths.join(' ')}`);

    // Secrets stay out of spans: no header is recorded, and the token never appears in an attribute.
    for (const span of inTrace) {
      for (const [key, value] of Object.entries(span.attributes)) {
        assert.doesNotMatch(key, /header\.authorization/i, `${span.name} records no Authorization header`);
        assert.ok(!String(value).includes(TOKEN), `${span.name}.${key} holds no API token`);
        assert.ok(!/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./.test(String(value)), `${span.name}.${key} holds no JWT`);
      }
    }

    // The API's log line for the request names the trace.
    const lines = logs
      .text()
      .split('\n')
      .filter((l) => l.includes('"url":"/v1/resource-accounts"'))
      .map((l) => JSON.parse(l) as { trace_id?: string; span_id?: string });
    assert.ok(lines.length > 0, 'the request was logged');
    for (const line of lines) assert.equal(line.trace_id, traceId, 'the log line carries the trace id');
  });

  test('each command of the PowerShell adapter is a span named after its cmdlet, under the activity that sent it', async () => {
    const admin = createPowerShellTeamsAdmin({ ...simulatorPowerShellHost(simulator.url), credential: createCredential(simulator.tenant), tenantId: simulator.tenant.tenantId });
    const upn = `ps-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    let activityTrace = '';
    let activitySpan = '';
    try {
      // Stands for RunActivity: the adapter is called inside an activity's active span.
      await trace.getTracer('test').startActiveSpan('RunActivity:createResourceAccount', async (span) => {
        activityTrace = span.spanContext().traceId;
        activitySpan = span.spanContext().spanId;
        try {
          assert.equal(await admin.findByUpn(upn), undefined);
          const account = { userPrincipalName: upn, displayName: 'PowerShell traced', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant };
          await admin.create(account);
          assert.equal(await admin.findVoiceApp('CallQueue', 'no-such-queue'), undefined);
          await assert.rejects(admin.create(account), (err: TeamsAdminError) => err.kind === 'conflict');
        } finally {
          span.end();
        }
      });
    } finally {
      await admin.close();
    }
    await telemetry.flush();
    const commands = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === activityTrace && s.attributes['dialtone.powershell.op'] !== undefined);
    assert.deepEqual(
      commands.map((s) => s.name),
      ['Import-Module MicrosoftTeams', 'Connect-MicrosoftTeams', 'Get-CsOnlineApplicationInstance', 'New-CsOnlineApplicationInstance', 'Get-CsCallQueue', 'New-CsOnlineApplicationInstance'],
    );
    for (const command of commands) {
      assert.equal(command.kind, SpanKind.CLIENT);
      assert.equal(command.parentSpanId, activitySpan, `${command.name} is a child of the activity's span`);
      assert.ok(Object.values(command.attributes).every((v) => !/eyJ[A-Za-z0-9_-]+\./.test(String(v))), `${command.name} holds no token`);
    }
    assert.ok(commands.slice(0, -1).every((s) => s.status.code !== SpanStatusCode.ERROR));
    const refused = commands.at(-1);
    assert.equal(refused?.status.code, SpanStatusCode.ERROR, 'a refused command is an error span');
    assert.equal(refused?.attributes['dialtone.teams_admin.error_kind'], 'conflict');
  });

  test("the worker's log lines written under a span name its trace; others name none", () => {
    const entries: LogEntry[] = [];
    const logger = new TraceContextLogger('INFO', (entry) => entries.push(entry));
    logger.info('outside any span');
    const ids = trace.getTracer('test').startActiveSpan('RunActivity:assignLicense', (span) => {
      logger.info('inside the activity', { attempt: 1 });
      logger.info('named by the interceptor', { trace_id: 'from-the-interceptor' });
      span.end();
      return span.spanContext();
    });
    assert.equal(entries[0]?.meta, undefined);
    assert.deepEqual(entries[1]?.meta, { attempt: 1, trace_id: ids.traceId, span_id: ids.spanId });
    assert.deepEqual(entries[2]?.meta, { trace_id: 'from-the-interceptor' }, 'a trace id already named is kept');
  });

  test("an activity's log lines, and the worker's once it has ended, name the activity's trace", async () => {
    const entries: LogEntry[] = [];
    const { interceptors } = await tracingWorkerOptions(telemetry);
    const env = new MockActivityEnvironment(
      { activityType: 'assignLicense' },
      { logger: new DefaultLogger('DEBUG', (entry) => entries.push(entry)), interceptors: interceptors?.activity ?? [] },
    );
    let inSpan = { traceId: '', spanId: '' };
    await assert.rejects(
      env.run(async () => {
        inSpan = trace.getActiveSpan()?.spanContext() ?? inSpan;
        log.info('assigning');
        throw ApplicationFailure.nonRetryable('usage location XX is not valid', 'UsageLocationInvalid');
      }),
    );
    assert.notEqual(inSpan.traceId, '', 'the activity ran in its RunActivity span');
    for (const message of ['assigning', 'Activity failed']) {
      const entry = entries.find((e) => e.message === message);
      assert.equal(entry?.meta?.trace_id, inSpan.traceId, `"${message}" names the trace`);
      assert.equal(entry?.meta?.span_id, inSpan.spanId, `"${message}" names the activity's span`);
    }
  });
});
