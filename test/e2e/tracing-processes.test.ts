/**
 * Tracing as deployed: the API (`api/server.ts`) and the worker (`worker/main.ts`) as processes,
 * configured only by OTEL_EXPORTER_OTLP_ENDPOINT, export one run's trace over OTLP/HTTP to a receiver
 * this test runs, and write its trace id in their logs. Spans still batched when they are stopped
 * arrive too (they flush on SIGTERM).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { killHard, workerProcesses } from '../helpers/worker-process';

/** A span as OTLP/JSON carries it (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
}
interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}
type ReceivedSpan = OtlpSpan & { service: string };

/** OTLP's SpanKind: SERVER and CLIENT. */
const SERVER = 2;
const CLIENT = 3;

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  return exited;
}

describe('tracing from the API and worker processes to an OTLP/HTTP receiver', () => {
  const received: ReceivedSpan[] = [];
  const paths: string[] = [];
  let receiver: Server;
  let temporal: TestTemporal;
  let simulator: TestSimulator;
  let api: ChildProcess | undefined;
  let apiLog = '';
  let worker: ChildProcess | undefined;
  const taskQueue = `tracing-processes-${randomUUID()}`;
  let otel: Record<string, string>;
  const workers = workerProcesses(() => temporal, () => simulator, () => taskQueue, () => ({ ...otel, LOG_LEVEL: 'debug' }));

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
        const exported = JSON.parse(body) as OtlpExport;
        for (const { resource, scopeSpans } of exported.resourceSpans) {
          const service = resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const { spans } of scopeSpans) received.push(...spans.map((span) => ({ ...span, service })));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    otel = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}` };
    temporal = await startTestTemporal();
    simulator = await startTestSimulator();
    worker = workers.start();
    api = spawn(process.execPath, ['--import', 'tsx', 'api/server.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...otel,
        API_PORT: '0',
        API_AUTH_DISABLED: 'true',
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        TEMPORAL_TASK_QUEUE: taskQueue,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    api.stdout?.on('data', (chunk: Buffer) => (apiLog += chunk.toString()));
    api.stderr?.on('data', (chunk: Buffer) => (apiLog += chunk.toString()));
  });
  after(async () => {
    await killHard(api);
    await killHard(worker);
    await simulator?.close();
    await temporal?.teardown();
    receiver?.close();
  });

  test('one run is one trace across both services, every tenant call in it, and both logs name it', async () => {
    let apiUrl: string | undefined;
    for (let i = 0; i < 300 && !apiUrl; i++) {
      apiUrl = /Dialtone API on (http:\/\/[^ ]+)/.exec(apiLog)?.[1];
      if (!apiUrl) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(apiUrl, `the API started: ${apiLog}`);

    const upn = `otlp-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    const res = await fetch(`${apiUrl}/v1/resource-accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ upn, displayName: 'Exported line', kind: 'callQueue', usageLocation: 'US', phoneNumber: '+12065550128' }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { workflowId } = (await res.json()) as { workflowId: string };
    const result = (await temporal.client.workflow.getHandle(workflowId).result()) as { state: string };
    assert.equal(result.state, 'completed', workers.log());

    // SIGTERM: each process flushes what it still holds before it exits.
    await Promise.all([stop(api), stop(worker)]);

    assert.ok(paths.every((p) => p === 'POST /v1/traces application/json'), paths.join(', '));
    const root = received.find((s) => s.service === 'dialtone-api' && s.kind === SERVER && s.name === 'POST /v1/resource-accounts');
    assert.ok(root, `the API exported its request span: ${received.map((s) => `${s.service}:${s.name}`).join(', ')}`);
    assert.equal(root.parentSpanId || undefined, undefined);
    const trace = received.filter((s) => s.traceId === root.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const names = (service: string) => trace.filter((s) => s.service === service).map((s) => s.name);

    assert.ok(names('dialtone-api').includes('StartWorkflow:provisionResourceAccount'));
    for (const name of ['RunWorkflow:provisionResourceAccount', 'RunActivity:preflight', 'RunActivity:createResourceAccount', 'RunActivity:assignPhoneNumber']) {
      assert.ok(names('dialtone-worker').includes(name), `the worker exported ${name} in the API's trace`);
    }
    // The worker's Teams adapter is PowerShell (its default): the commands stand for the Teams calls.
    assert.ok(names('dialtone-worker').includes('New-CsOnlineApplicationInstance'), names('dialtone-worker').join(', '));
    for (const span of trace) {
      if (span === root) continue;
      assert.ok(span.parentSpanId && byId.has(span.parentSpanId), `${span.service}:${span.name} has its parent in the trace`);
    }
    const tenantCalls = received.filter((s) => s.kind === CLIENT && s.service === 'dialtone-worker' && s.attributes?.some((a) => a.value.stringValue?.startsWith(simulator.url)));
    assert.ok(tenantCalls.length > 0);
    assert.ok(tenantCalls.every((s) => s.traceId === root.traceId), 'every call to the tenant is in the run\'s trace');

    assert.match(apiLog, new RegExp(`"trace_id":"${root.traceId}"`), "the API's request log names the trace");
    assert.ok(workers.log().includes(`trace_id: '${root.traceId}'`), `the worker's activity lines name the trace: ${workers.log().slice(-3000)}`);
  });
});
