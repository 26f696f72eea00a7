/**
 * Tracing is off unless an OTEL_* variable asks for it, and off costs nothing: no SDK loaded, no
 * module patched, no span, no trace id in the API's log. The variables it reads are validated at boot.
 * (test/e2e/tracing.test.ts shows it on.)
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { describe, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { buildApp } from '../../api/app';
import { loadApiConfig } from '../../api/config';
import { ConfigError, EnvReader } from '../../lib/config';
import type { Env } from '../../lib/config';
import { readTracingConfig, startTelemetry } from '../../lib/telemetry';
import { loadWorkerConfig } from '../../worker/config';
import { logCollector, testConfig } from '../api/helpers';

function tracing(env: Env) {
  const r = new EnvReader(env);
  const config = readTracingConfig(r);
  r.done();
  return config.exporters;
}

function problems(env: Env): string {
  try {
    loadApiConfig({ API_AUTH_DISABLED: 'true', ...env });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('the configuration must be refused');
}

describe('tracing configuration (OTEL_* variables)', () => {
  test('off when nothing asks for traces', () => {
    assert.deepEqual(tracing({}), []);
    assert.deepEqual(tracing({ OTEL_SERVICE_NAME: 'dialtone-api-eu', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod' }), []);
  });

  test('an OTLP endpoint turns it on; OTEL_TRACES_EXPORTER chooses; none and OTEL_SDK_DISABLED turn it off', () => {
    assert.deepEqual(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' }), ['otlp']);
    assert.deepEqual(tracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo.example.com/v1/traces' }), ['otlp']);
    assert.deepEqual(tracing({ OTEL_TRACES_EXPORTER: 'console' }), ['console']);
    assert.deepEqual(tracing({ OTEL_TRACES_EXPORTER: 'otlp, console', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), ['otlp', 'console']);
    assert.deepEqual(tracing({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' }), []);
    assert.deepEqual(tracing({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' }), []);
  });

  test('bad values are refused at boot, naming the variable and the fix', () => {
    assert.match(problems({ OTEL_TRACES_EXPORTER: 'jaeger' }), /OTEL_TRACES_EXPORTER="jaeger" names jaeger, which Dialtone does not have: use otlp/);
    assert.match(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), /OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318" (is not a URL|must be a http: or https: URL)/);
    assert.match(
      problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
      /OTEL_EXPORTER_OTLP_PROTOCOL="grpc": Dialtone sends OTLP over HTTP only, as http\/json or http\/protobuf/,
    );
    assert.match(
      problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' }),
      /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http\/xml"/,
    );
  });

  test('the OTLP encoding: http/json unless OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL asks for http/protobuf', () => {
    const protocol = (env: Env) => {
      const r = new EnvReader(env);
      const config = readTracingConfig(r);
      r.done();
      return config.protocol;
    };
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' };
    assert.equal(protocol(endpoint), 'http/json');
    assert.equal(protocol({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }), 'http/protobuf');
    assert.equal(protocol({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }), 'http/json');
  });

  test('the API and the worker read it', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' };
    assert.deepEqual(loadApiConfig({ API_AUTH_DISABLED: 'true', ...env }).tracing.exporters, ['otlp']);
    assert.deepEqual(loadWorkerConfig({ NODE_EXTRA_CA_CERTS: 'ca.pem', ...env }).tracing.exporters, ['otlp']);
    assert.deepEqual(loadWorkerConfig({ NODE_EXTRA_CA_CERTS: 'ca.pem' }).tracing.exporters, []);
  });
});

describe('with tracing off', () => {
  test('no SDK is started or loaded, nothing is patched, no span records, and log lines name no trace', async () => {
    const telemetry = await startTelemetry(tracingOff(), { serviceName: 'dialtone-api' });
    assert.equal(telemetry, undefined);
    assert.equal(
      Object.keys(require.cache).filter((file) => /@opentelemetry[\\/](sdk-node|sdk-trace-base|instrumentation-http|instrumentation-undici)[\\/]/.test(file)).length,
      0,
      'none of the SDK is loaded',
    );
    // shimmer, which the instrumentations patch with, marks what it wrapped.
    for (const fn of [http.request, http.get, https.request, http.Server.prototype.emit]) assert.equal((fn as { __wrapped?: boolean }).__wrapped, undefined);
    const span = trace.getTracer('test').startSpan('nothing');
    assert.equal(span.isRecording(), false, 'the global tracer is the no-op one');
    span.end();

    const logs = logCollector();
    const app = await buildApp(testConfig({ LOG_LEVEL: 'info' }), { logStream: logs.stream });
    try {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
    } finally {
      await app.close();
    }
    const lines = logs.text().split('\n').filter((l) => l.includes('/healthz'));
    assert.ok(lines.length > 0);
    for (const line of lines) assert.doesNotMatch(line, /trace_id|span_id/);
  });
});

function tracingOff() {
  const r = new EnvReader({});
  return readTracingConfig(r);
}
