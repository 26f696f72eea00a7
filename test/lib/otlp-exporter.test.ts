/**
 * Both OTLP/HTTP encodings reach a receiver as the OTLP specification says
 * (https://opentelemetry.io/docs/specs/otlp/#otlphttp): POST /v1/traces with application/json or
 * application/x-protobuf. No SDK is started here: a bare tracer provider feeds the exporter.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { otlpTraceExporter } from '../../lib/telemetry';
import type { OtlpProtocol } from '../../lib/telemetry';

describe('OTLP/HTTP exporters', () => {
  const received: Array<{ path: string; type: string; body: Buffer }> = [];
  let server: http.Server;
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: `${req.method} ${req.url}`, type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }).end(req.headers['content-type']?.includes('json') ? '{}' : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  for (const [protocol, type] of [['http/json', 'application/json'], ['http/protobuf', 'application/x-protobuf']] as const) {
    test(`${protocol}: one span arrives at /v1/traces as ${type}`, async () => {
      const exporter = await otlpTraceExporter(protocol as OtlpProtocol);
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      provider.getTracer('test').startSpan(`span-${protocol}`).end();
      await provider.forceFlush();
      await provider.shutdown();
      const last = received.at(-1);
      assert.equal(last?.path, 'POST /v1/traces');
      assert.equal(last?.type, type);
      // The span's name is in the body either way (protobuf strings are UTF-8 bytes).
      assert.ok(last?.body.includes(`span-${protocol}`), `the body carries the span: ${last?.body.toString('hex').slice(0, 80)}`);
    });
  }
});
