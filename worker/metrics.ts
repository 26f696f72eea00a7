/**
 * The worker's Prometheus metrics (prom-client): the process's own (CPU, memory, event loop, GC) and
 * Dialtone's business metrics. Activities count throttled calls through {@link ServiceCallMetrics};
 * the provisioning workflow reports through the sinks of {@link ProvisioningMetricsSinks}.
 *
 * Each WorkerMetrics has its own registry, so tests that run several workers in one process read
 * their own numbers; the worker process uses {@link processWorkerMetrics}.
 */
import type { InjectedSinks } from '@temporalio/worker';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceCallMetrics, ServiceName } from '../activities/metrics';
import { ErrorType } from '../lib/error-types';
import type { ProvisioningMetricsSinks } from '../workflows/provision-resource-account/definitions';

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * License propagation: Microsoft says "up to 24 hours", usually minutes (the simulator: seconds), and a
 * run waits up to 48 h by default; so from seconds to two days.
 */
export const LICENSE_PROPAGATION_BUCKETS = [1, 5, 15, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, DAY, 2 * DAY];

/** Needs-attention: a person answers in minutes to days; a run gives up after 7 days by default (up to 30). */
export const ATTENTION_BUCKETS = [1, 10, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY];

/** A whole run: minutes on a quiet tenant, up to days when it waits for licenses or a person. */
export const RUN_DURATION_BUCKETS = [1, 10, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, DAY, 2 * DAY, 7 * DAY, 30 * DAY];

const KNOWN_ERROR_TYPES = new Set<string>(Object.values(ErrorType));

/** Error types are label values: the known ones as they are, anything else as `Other`, so the label stays bounded. */
function errorTypeLabel(type: string): string {
  return KNOWN_ERROR_TYPES.has(type) ? type : 'Other';
}

export interface WorkerMetricsOptions {
  /** Also collect the process's metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

export class WorkerMetrics implements ServiceCallMetrics {
  readonly registry = new Registry();
  private readonly throttledCalls = new Counter({
    name: 'dialtone_throttled_calls_total',
    help: 'Requests a Microsoft service answered with 429 (throttled), by service (graph, teams, partner-center) and route template (for the Teams PowerShell session, the cmdlet).',
    labelNames: ['service', 'route'] as const,
    registers: [this.registry],
  });
  private readonly licensePropagation = new Histogram({
    name: 'dialtone_license_propagation_seconds',
    help: 'Time from a run assigning the Teams Phone Resource Account license to the license being seen provisioned.',
    buckets: LICENSE_PROPAGATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly attention = new Histogram({
    name: 'dialtone_needs_attention_seconds',
    help: 'Time a run spent in needs-attention, observed when it leaves it, by the error type that stopped it and how it left (retry, rollback, abandon, cancelled; automatic when the run decided by itself).',
    labelNames: ['error_type', 'decision', 'automatic'] as const,
    buckets: ATTENTION_BUCKETS,
    registers: [this.registry],
  });
  private readonly runsStarted = new Counter({
    name: 'dialtone_runs_started_total',
    help: 'Provisioning runs this worker started executing.',
    registers: [this.registry],
  });
  private readonly runDuration = new Histogram({
    name: 'dialtone_run_duration_seconds',
    help: 'Provisioning runs that ended, by outcome (completed, rolled-back, abandoned, cancelled), and how long they took from start to end.',
    labelNames: ['outcome'] as const,
    buckets: RUN_DURATION_BUCKETS,
    registers: [this.registry],
  });

  constructor(options: WorkerMetricsOptions = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  throttled(service: ServiceName, route: string): void {
    this.throttledCalls.inc({ service, route });
  }

  /** The sinks the provisioning workflow calls; never during replay, so a replayed run is not counted again. */
  sinks(): InjectedSinks<ProvisioningMetricsSinks> {
    return {
      provisioningMetrics: {
        runStarted: { fn: () => this.runsStarted.inc(), callDuringReplay: false },
        attentionEnded: {
          fn: (_info, event) =>
            this.attention.observe({ error_type: errorTypeLabel(event.errorType), decision: event.decision, automatic: String(event.automatic) }, event.seconds),
          callDuringReplay: false,
        },
        licensePropagated: { fn: (_info, event) => this.licensePropagation.observe(event.seconds), callDuringReplay: false },
        runFinished: { fn: (_info, event) => this.runDuration.observe({ outcome: event.state }, event.seconds), callDuringReplay: false },
      },
    };
  }
}

let processMetrics: WorkerMetrics | undefined;

/** The worker process's metrics, made on first use: what worker/main.ts serves at /metrics. */
export function processWorkerMetrics(): WorkerMetrics {
  processMetrics ??= new WorkerMetrics();
  return processMetrics;
}
