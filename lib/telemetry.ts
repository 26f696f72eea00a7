/**
 * OpenTelemetry tracing for the API and the worker: one trace from a REST request through the
 * workflow to every call to Microsoft Graph and Teams. Off unless an OTEL_* variable asks for traces;
 * off, neither the SDK nor its exporter and instrumentations are loaded, and nothing is patched.
 *
 * The entry points start it first thing, before they build anything that makes HTTP calls
 * (https://opentelemetry.io/docs/languages/js/getting-started/nodejs/#setup). Node's `http`/`https`
 * are patched in place when started; fetch (undici) is traced through its diagnostics channels.
 *
 * The standard variables are honoured as the OpenTelemetry specification defines them
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/,
 * https://opentelemetry.io/docs/specs/otel/protocol/exporter/): the SDK and the OTLP exporter read
 * the ones this module does not decide on (headers, timeouts, sampler, batch sizes) themselves.
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { TLSSocket } from 'node:tls';
import { trace } from '@opentelemetry/api';
import type { IResource } from '@opentelemetry/resources';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Context } from '@opentelemetry/api';
import type { EnvReader } from './config';

export const TRACES_EXPORTERS = ['otlp', 'console', 'none'] as const;
export type TracesExporterName = (typeof TRACES_EXPORTERS)[number];

/**
 * The OTLP encodings this build sends: over HTTP, as JSON (exporter-trace-otlp-http, the default here)
 * or as protobuf (exporter-trace-otlp-proto, the specification's default). Not gRPC.
 */
export const OTLP_PROTOCOLS = ['http/json', 'http/protobuf'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

export interface TracingConfig {
  /** Where spans go; empty when tracing is off. */
  exporters: Array<Exclude<TracesExporterName, 'none'>>;
  /** How `otlp` encodes spans (OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL); default http/json. */
  protocol: OtlpProtocol;
}

/**
 * Tracing is on when OTEL_TRACES_EXPORTER names an exporter, or when an OTLP endpoint is set (then
 * `otlp`). Unlike the specification's default of `otlp`, nothing set means off: a process with no
 * collector must not try to send spans to localhost:4318. OTEL_SDK_DISABLED=true turns it off.
 */
export function readTracingConfig(r: EnvReader): TracingConfig {
  if (r.bool('OTEL_SDK_DISABLED', false)) return { exporters: [], protocol: 'http/json' };
  const endpoint = r.optional('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? r.optional('OTEL_EXPORTER_OTLP_ENDPOINT');
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
    const value = r.optional(name);
    if (value !== undefined) r.url(name, value, ['http:', 'https:']);
  }
  const listed = r.optional('OTEL_TRACES_EXPORTER');
  const names = listed === undefined ? (endpoint === undefined ? [] : ['otlp']) : listed.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !(TRACES_EXPORTERS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    r.problems.push(`OTEL_TRACES_EXPORTER="${listed}" names ${unknown.join(', ')}, which Dialtone does not have: use otlp (a collector, Jaeger or Tempo), console, or none`);
  }
  const exporters = names.includes('none')
    ? []
    : [...new Set(names.filter((n): n is 'otlp' | 'console' => n === 'otlp' || n === 'console'))];
  let protocol: OtlpProtocol = 'http/json';
  if (exporters.includes('otlp')) {
    const protocolVar = r.optional('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') === undefined ? 'OTEL_EXPORTER_OTLP_PROTOCOL' : 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL';
    const value = r.optional(protocolVar);
    if (value !== undefined && !(OTLP_PROTOCOLS as readonly string[]).includes(value)) {
      r.problems.push(
        `${protocolVar}="${value}": Dialtone sends OTLP over HTTP only, as http/json or http/protobuf; set one of them or unset it, and point ` +
          'OTEL_EXPORTER_OTLP_ENDPOINT at the OTLP/HTTP port of the collector (usually 4318), not the gRPC one',
      );
    } else if (value !== undefined) {
      protocol = value as OtlpProtocol;
    }
  }
  return { exporters, protocol };
}

/** A running OpenTelemetry SDK, for the parts that must hand spans to it themselves (the workflow sandbox). */
export interface Telemetry {
  /** The service's resource (service.name and what the environment adds), as on every span. */
  readonly resource: IResource;
  /** Where finished spans go: the workflow interceptors' sink hands spans from the sandbox here. */
  readonly spanProcessor: SpanProcessor;
  /** Exports every finished span now. */
  flush(): Promise<void>;
  /** Flushes and stops; spans ended afterwards are dropped. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** service.name unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise. */
  serviceName: string;
  /** Spans go here instead of the configured exporters, and tracing is on regardless (tests pass an InMemorySpanExporter). */
  exporter?: SpanExporter;
}

/** The OTLP/HTTP exporter for the protocol; it reads its endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*. */
export async function otlpTraceExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  if (protocol === 'http/protobuf') return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
}

/**
 * Starts the OpenTelemetry Node SDK with the http and undici instrumentations, or returns undefined
 * when tracing is off (and then loads none of it).
 */
export async function startTelemetry(config: TracingConfig, options: TelemetryOptions): Promise<Telemetry | undefined> {
  if (!options.exporter && config.exporters.length === 0) return undefined;
  const [{ NodeSDK }, { BatchSpanProcessor, ConsoleSpanExporter }, otlp, resources, { ATTR_SERVICE_NAME }, { HttpInstrumentation }, { UndiciInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/sdk-trace-base'),
      config.exporters.includes('otlp') ? otlpTraceExporter(config.protocol) : undefined,
      import('@opentelemetry/resources'),
      import('@opentelemetry/semantic-conventions'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-undici'),
    ]);
  const exporters: SpanExporter[] = options.exporter
    ? [options.exporter]
    : config.exporters.map((name) => (name === 'otlp' && otlp ? otlp : new ConsoleSpanExporter()));
  // Batched, so that exporting stays off the request path (OTEL_BSP_* tune it); flush() empties the batches.
  const processors = exporters.map((exporter) => new BatchSpanProcessor(exporter));
  const spanProcessor = fanOut(processors);
  // The environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins over the default name; the
  // resource is computed here once so that spans from the workflow sandbox carry the same one.
  const resource = resources.Resource.default()
    .merge(new resources.Resource({ [ATTR_SERVICE_NAME]: options.serviceName }))
    .merge(resources.detectResourcesSync({ detectors: [resources.envDetectorSync, resources.processDetectorSync, resources.hostDetectorSync] }));
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: [spanProcessor],
    // Traces only: without this the SDK would set up an OTLP log exporter from its defaults.
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        // Server spans name the path without the query string: a caller may put a secret there, and
        // the API's request log leaves it out for the same reason. No headers are recorded unless
        // `headersToSpanAttributes` lists them, so Authorization never becomes an attribute.
        startIncomingSpanHook: (request) => {
          const incoming = request as IncomingMessage;
          const target = withoutQuery(incoming.url ?? '/');
          const scheme = (incoming.socket as TLSSocket | undefined)?.encrypted ? 'https' : 'http';
          return { 'http.target': target, 'http.url': `${scheme}://${incoming.headers.host ?? 'localhost'}${target}` };
        },
      }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  // The http instrumentation patches http/https in place when they are next required (through
  // `require`; `import()` does not pass there). gRPC, under the Temporal packages, has usually loaded
  // them already, so they are required here to be patched now, whatever loaded them first.
  const load = createRequire(__filename);
  load('node:http');
  load('node:https');
  let stopped: Promise<void> | undefined;
  return {
    resource,
    spanProcessor,
    flush: () => spanProcessor.forceFlush(),
    shutdown: () => (stopped ??= sdk.shutdown()),
  };
}

function withoutQuery(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : `${url.slice(0, query)}?…`;
}

/** One processor that hands every span to each of `processors`. */
function fanOut(processors: SpanProcessor[]): SpanProcessor {
  if (processors.length === 1 && processors[0]) return processors[0];
  return {
    onStart: (span: Span, parent: Context) => processors.forEach((p) => p.onStart(span, parent)),
    onEnd: (span: ReadableSpan) => processors.forEach((p) => p.onEnd(span)),
    forceFlush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
    },
    shutdown: async () => {
      await Promise.all(processors.map((p) => p.shutdown()));
    },
  };
}

/**
 * `trace_id` and `span_id` of the span active now, for a log line; empty when no span is (tracing off,
 * or outside any traced work). The names are those of the OpenTelemetry log data model
 * (https://opentelemetry.io/docs/specs/otel/logs/data-model/#field-traceid) and of the Temporal
 * interceptors' log attributes.
 */
export function activeTraceFields(): { trace_id?: string; span_id?: string } {
  const context = trace.getActiveSpan()?.spanContext();
  if (!context || !trace.isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}
