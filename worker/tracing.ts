/**
 * The worker's half of tracing (lib/telemetry.ts starts the SDK): Temporal's OpenTelemetry
 * interceptors, set up as the SDK's sample does
 * (https://github.com/temporalio/samples-typescript/tree/main/interceptors-opentelemetry). A run's
 * spans continue the trace the API put in the workflow's headers: `RunWorkflow`, then per activity
 * `StartActivity` (in the workflow) and `RunActivity` (here), under which every HTTP call of the
 * activity is a child span. Workflow and activity log lines carry `trace_id` and `span_id`.
 *
 * The interceptors only add headers and spans; they issue no commands, so histories recorded without
 * them replay with them (test/workflows/replay.test.ts checks it).
 */
import type { ActivityInterceptorsFactory, InjectedSink, ReplayWorkerOptions, WorkerOptions } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { DefaultLogger } from '@temporalio/worker';
import type { LogLevel, LogMetadata } from '@temporalio/worker';
import type * as OpenTelemetryInterceptors from '@temporalio/interceptors-opentelemetry';
import { activeTraceFields } from '../lib/telemetry';
import type { Telemetry } from '../lib/telemetry';

/** Workflow interceptors: bundled into the workflow code, so they run in its sandbox. */
export const TRACING_WORKFLOW_MODULES = [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

/**
 * The interceptors and the sink that hands spans made in the workflow sandbox to the process's SDK,
 * for Worker.create. Loaded only when tracing is on.
 */
export async function tracingWorkerOptions(telemetry: Telemetry): Promise<Pick<WorkerOptions, 'interceptors' | 'sinks'>> {
  const otel = await import('@temporalio/interceptors-opentelemetry');
  return {
    interceptors: {
      workflowModules: TRACING_WORKFLOW_MODULES,
      activity: [activityInterceptors(otel)],
      // Workflows an activity starts (a batch's runs) continue the activity's trace.
      client: { workflow: [new otel.OpenTelemetryWorkflowClientInterceptor()] },
    },
    sinks: { exporter: makeExporterSink(otel, telemetry) },
  };
}

/**
 * Temporal's activity interceptors (the RunActivity span; the active span's ids on the activity's log
 * lines), and the RunActivity span's ids kept for the lines the worker writes once the activity has
 * ended ("Activity completed", "Activity failed"), which it writes outside the span.
 */
function activityInterceptors(otel: typeof OpenTelemetryInterceptors): ActivityInterceptorsFactory {
  return (ctx) => {
    const traced = new otel.OpenTelemetryActivityInboundInterceptor(ctx);
    const logged = new otel.OpenTelemetryActivityOutboundInterceptor(ctx);
    let ran: ReturnType<typeof activeTraceFields> = {};
    return {
      inbound: {
        execute: (input, next) =>
          traced.execute(input, (inSpan) => {
            ran = activeTraceFields();
            return next(inSpan);
          }),
      },
      outbound: {
        getLogAttributes: (input, next) => logged.getLogAttributes(input, (attributes) => next({ ...ran, ...attributes })),
      },
    };
  };
}

/** The same for a replay worker, which has no activities. */
export async function tracingReplayOptions(telemetry: Telemetry): Promise<Pick<ReplayWorkerOptions, 'interceptors' | 'sinks'>> {
  const otel = await import('@temporalio/interceptors-opentelemetry');
  return { interceptors: { workflowModules: TRACING_WORKFLOW_MODULES }, sinks: { exporter: makeExporterSink(otel, telemetry) } };
}

/**
 * The interceptors' sink, handed only the fields that say which run a span belongs to: it copies the
 * WorkflowInfo it is given onto every span as attributes, and the whole of it holds the memo, the search
 * attributes and a continued run's last result, which have no place on every span of a run.
 */
function makeExporterSink(otel: typeof OpenTelemetryInterceptors, telemetry: Telemetry): InjectedSink<OpenTelemetryWorkflowExporter> {
  const sink = otel.makeWorkflowExporter(telemetry.spanProcessor, telemetry.resource);
  return {
    export: {
      ...sink.export,
      fn: (info, spans) => {
        const { workflowId, runId, workflowType, taskQueue, namespace, attempt } = info;
        return sink.export.fn({ workflowId, runId, workflowType, taskQueue, namespace, attempt } as WorkflowInfo, spans);
      },
    },
  };
}

/**
 * The Runtime's logger, adding the active span's `trace_id`/`span_id` to lines that do not name one
 * already: the interceptors name it on activity and workflow lines; this covers any other line written
 * while a span is active (through `Runtime.instance().logger`).
 */
export class TraceContextLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (meta && 'trace_id' in meta) return super.log(level, message, meta);
    const fields = activeTraceFields();
    super.log(level, message, fields.trace_id === undefined ? meta : { ...meta, ...fields });
  }
}
