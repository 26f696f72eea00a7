/**
 * Both OTLP/HTTP encodings reach a receiver as the OTLP specification says
 * (https://opentelemetry.io/docs/specs/otlp/#otlphttp): POST /v1/traces with application/json or
 * application/x-protobuf. No SDK is started here: a bare tracer provider feeds the exporter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { otlpTraceExporter } from '../../lib/telemetry';
import type { OtlpProtocol } from '../../lib/telemetry';
import { startTestReceiver } from '../helpers/receiver';
import type { TestReceiver } from '../helpers/receiver';

describe('OTLP/HTTP exporters', () => {
  let receiver: TestReceiver;
  before(async () => {
    receiver = await startTestReceiver();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url('');
  });
  after(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await receiver.close();
  });

  for (const [protocol, type] of [['http/json', 'application/json'], ['http/protobuf', 'application/x-protobuf']] as const) {
    test(`${protocol}: one span arrives at /v1/traces as ${type}`, async () => {
      const exporter = await otlpTraceExporter(protocol as OtlpProtocol);
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      provider.getTracer('test').startSpan(`span-${protocol}`).end();
      await provider.forceFlush();
      await provider.shutdown();
      const last = receiver.delivered('/v1/traces').at(-1);
      assert.equal(last?.method, 'POST');
      assert.equal(last?.headers['content-type'], type);
      // The span's name is in the body either way (protobuf strings are UTF-8 bytes).
      assert.ok(last?.body.includes(`span-${protocol}`), `the body carries the span: ${last?.body.slice(0, 80)}`);
    });
  }
});
