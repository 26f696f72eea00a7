/**
 * The worker's one metrics address: prom-client's registry followed by the Temporal SDK exporter's text
 * (here a stand-in server), a scrape that still answers when the SDK's exporter does not, and an address
 * in use refused naming the variable.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { freeLoopbackPort } from '../../lib/free-port';
import { parseBindAddress, serveWorkerMetrics } from '../../worker/metrics-server';
import type { MetricsServer } from '../../worker/metrics-server';

describe("the worker's metrics server", () => {
  const sdk = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# HELP temporal_request Client requests\n# TYPE temporal_request counter\ntemporal_request{operation="PollWorkflowTaskQueue"} 7\n');
  });
  let sdkUrl: string;
  const registry = new Registry();
  let server: MetricsServer;

  before(async () => {
    await new Promise<void>((resolve) => sdk.listen(0, '127.0.0.1', resolve));
    sdkUrl = `http://127.0.0.1:${(sdk.address() as AddressInfo).port}/metrics`;
    new Counter({ name: 'dialtone_test_total', help: 'a business metric', registers: [registry] }).inc(2);
    server = await serveWorkerMetrics({ bindAddress: '127.0.0.1:0', registry, sdkMetricsUrl: sdkUrl });
  });
  after(async () => {
    await server?.close();
    await new Promise<void>((resolve) => sdk.close(() => resolve()));
  });

  test('GET /metrics serves the registry and then the SDK\'s metrics', async () => {
    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.match(String(response.headers.get('content-type')), /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^dialtone_test_total 2$/m);
    assert.match(text, /^dialtone_temporal_sdk_metrics_up 1$/m);
    assert.match(text, /^temporal_request\{operation="PollWorkflowTaskQueue"\} 7$/m);
    assert.ok(text.indexOf('dialtone_test_total') < text.indexOf('temporal_request'));
  });

  test('other paths are a 404', async () => {
    assert.equal((await fetch(server.url.replace('/metrics', '/'))).status, 404);
  });

  test('without the SDK\'s exporter the scrape still answers, saying so', async () => {
    const own = new Registry();
    const lonely = await serveWorkerMetrics({ bindAddress: '127.0.0.1:0', registry: own, sdkMetricsUrl: `http://127.0.0.1:${await freeLoopbackPort()}/metrics` });
    try {
      const response = await fetch(lonely.url);
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /^dialtone_temporal_sdk_metrics_up 0$/m);
      assert.doesNotMatch(text, /^temporal_/m);
    } finally {
      await lonely.close();
    }
  });

  test('an address in use is refused, naming WORKER_METRICS_BIND_ADDRESS', async () => {
    const { port } = parseBindAddress(new URL(server.url).host);
    await assert.rejects(serveWorkerMetrics({ bindAddress: `127.0.0.1:${port}`, registry: new Registry() }), /WORKER_METRICS_BIND_ADDRESS=127\.0\.0\.1:\d+: cannot listen there \(EADDRINUSE\)/);
  });

  test('bind addresses: host and port, IPv6 in brackets', () => {
    assert.deepEqual(parseBindAddress('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(parseBindAddress('[::]:9464'), { host: '::', port: 9464 });
  });
});
