/**
 * Prometheus metrics at GET /metrics (prom-client, text exposition format): the process's own (CPU,
 * memory, event loop lag, GC), HTTP requests by method, route pattern and status code (patterns, never
 * raw URLs, which would let callers create unbounded label values and carry UPNs), and the tenant's
 * provisioning runs by state, counted in Temporal's visibility store at each scrape.
 *
 * The registry is the app's own, not prom-client's global one, so several apps in one process (tests)
 * keep their numbers apart.
 */
import type { Client } from '@temporalio/client';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PROVISIONING_STATES, PROVISION_WORKFLOW_TYPE, TERMINAL_STATES, resourceAccountWorkflowId, searchAttributes } from '../../workflows/provision-resource-account/definitions';
import type { ProvisioningState } from '../../workflows/provision-resource-account/definitions';
import { visibilityString } from '../services/resource-accounts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's Prometheus registry: what GET /metrics serves, after the process's own metrics. */
    metricsRegistry: Registry;
  }
}

export interface MetricsPluginOptions {
  /** The API's tenant: only its runs are counted. */
  tenantId: string;
  /** How long a scrape waits for Temporal's counts before answering without them. Default {@link RUNS_SCRAPE_TIMEOUT_MS}. */
  runsTimeoutMs?: number;
}

/** Within Prometheus's default scrape timeout (10 s), with room for the rest of the scrape. */
export const RUNS_SCRAPE_TIMEOUT_MS = 3000;

/** Request durations: milliseconds for reads, seconds for a submit that waits for a worker (API_WORKER_TIMEOUT_MS, 10 s). */
const REQUEST_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

/**
 * The visibility query for the tenant's runs in one state. A run that is open reports running,
 * needs-attention or rolling-back; only open executions are counted for those, so a run terminated from
 * outside (whose last reported state stays `running`) is not counted as running forever. The final
 * states count closed runs, as long as the namespace's retention keeps them.
 */
export function runsInStateQuery(tenantId: string, state: ProvisioningState): string {
  const prefix = visibilityString(resourceAccountWorkflowId(tenantId, ''));
  const open = TERMINAL_STATES.includes(state) ? "ExecutionStatus != 'Running'" : "ExecutionStatus = 'Running'";
  return `WorkflowType = '${PROVISION_WORKFLOW_TYPE}' AND WorkflowId STARTS_WITH ${prefix} AND ${searchAttributes.state.name} = '${state}' AND ${open}`;
}

/**
 * One count per state: the dev server and SQL visibility refuse `GROUP BY` on a custom search attribute
 * ("'GROUP BY' clause is not supported for search attribute DialtoneState"; only ExecutionStatus).
 */
async function countRuns(client: Client, tenantId: string, timeoutMs: number): Promise<Map<ProvisioningState, number>> {
  const deadline = Date.now() + timeoutMs;
  const counts = await Promise.all(
    PROVISIONING_STATES.map((state) =>
      client.withDeadline(deadline, () =>
        client.workflowService.countWorkflowExecutions({ namespace: client.options.namespace, query: runsInStateQuery(tenantId, state) }),
      ),
    ),
  );
  return new Map(PROVISIONING_STATES.map((state, i) => [state, Number(counts[i]?.count ?? 0)]));
}

let processRegistry: Registry | undefined;

/**
 * The process's own metrics belong to the process, whichever app serves them: collected once (prom-client's
 * collectors start a GC observer and an event-loop monitor each time, and never stop them).
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export default fp<MetricsPluginOptions>(
  async (fastify, { tenantId, runsTimeoutMs = RUNS_SCRAPE_TIMEOUT_MS }) => {
    const registry = new Registry();
    fastify.decorate('metricsRegistry', registry);
    const processWide = processMetrics();

    const labelNames = ['method', 'route', 'status_code'] as const;
    const requests = new Counter({
      name: 'dialtone_api_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames,
      registers: [registry],
    });
    const durations = new Histogram({
      name: 'dialtone_api_request_duration_seconds',
      help: 'Time spent answering HTTP requests, by method, route pattern and status code.',
      labelNames,
      buckets: REQUEST_DURATION_BUCKETS,
      registers: [registry],
    });
    // Both gauges are collected in parallel at each scrape; they share one count of the runs.
    let counting: Promise<Map<ProvisioningState, number> | undefined> | undefined;
    const runCounts = () => {
      counting ??= countRuns(fastify.temporal, tenantId, runsTimeoutMs)
        .catch((err: unknown) => {
          fastify.log.warn({ err }, 'metrics: the runs by state could not be counted in Temporal');
          return undefined;
        })
        .finally(() => {
          counting = undefined;
        });
      return counting;
    };
    new Gauge({
      name: 'dialtone_runs_up',
      help: "1 when this scrape's dialtone_runs came from Temporal, 0 when Temporal did not answer in time (dialtone_runs is then absent).",
      registers: [registry],
      async collect() {
        this.set((await runCounts()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dialtone_runs',
      help: "Provisioning runs of this API's tenant by state, from Temporal's visibility store: open runs for running, needs-attention and rolling-back; closed runs within the namespace's retention for the final states.",
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const [state, count] of (await runCounts()) ?? []) this.set({ state }, count);
      },
    });

    fastify.addHook('onResponse', async (request, reply) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) };
      requests.inc(labels);
      durations.observe(labels, reply.elapsedTime / 1000);
    });

    fastify.get(
      '/metrics',
      { schema: { tags: ['operations'], summary: 'Prometheus metrics', response: { 200: { type: 'string' } } } },
      async (_request, reply) => reply.type(registry.contentType).send(await Registry.merge([processWide, registry]).metrics()),
    );
  },
  { name: 'metrics', fastify: '5.x', dependencies: ['temporal'] },
);
