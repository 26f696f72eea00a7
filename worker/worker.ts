/** Composition root: config → credential → clients → activities → Worker. */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createLicenseProcurement } from '../activities/licensing/activities';
import type { ProcurementSettings } from '../activities/licensing/activities';
import type { NotificationSettings } from '../activities/notifications';
import type { Activities } from '../activities';
import type { ServiceCallMetrics } from '../activities/metrics';
import { createGraphClient } from '../activities/graph/client';
import type { PollingOptions } from '../activities/polling';
import type { DeletedAccountPolicy } from '../lib/validation';
import { dialtoneDataConverter } from '../lib/payload-codec';
import { temporalConnectionOptions } from '../lib/config';
import { DEFAULT_MAX_CONCURRENT_ACTIVITIES } from './config';
import type { TenantConfig, WorkerConfig } from './config';
import { createCredential, procurementCredential } from './credentials';
import { DEFAULT_BUDGET, Pacer } from '../activities/pacing';
import type { PacingBudget } from '../activities/pacing';
import { shareBudgetAmongWorkers } from './share';
import { createTeamsAdmin } from './teams-admin';
import { processWorkerMetrics } from './metrics';
import type { WorkerMetrics } from './metrics';
import type { Telemetry } from '../lib/telemetry';
import { tracingWorkerOptions } from './tracing';

export function createTenantActivities(
  tenant: TenantConfig,
  polling?: PollingOptions,
  onDeletedAccount?: DeletedAccountPolicy,
  pacing: PacingBudget | Pacer | null = DEFAULT_BUDGET,
  procurement: ProcurementSettings = { kind: 'manual' },
  notifications?: NotificationSettings,
  /** Where the service clients count throttled calls; the process's metrics unless a test passes its own. */
  metrics: ServiceCallMetrics = processWorkerMetrics(),
): Activities {
  const credential = createCredential(tenant);
  // One budget for the tenant and app, shared by both clients of this process.
  const pacer = pacing instanceof Pacer ? pacing : pacing ? new Pacer(pacing) : undefined;
  return createActivities({
    graph: createGraphClient({ credential, baseUrl: tenant.graphBaseUrl, ...(pacer ? { pacer } : {}), metrics }),
    teamsAdmin: createTeamsAdmin(tenant, credential, pacer, metrics),
    polling,
    onDeletedAccount,
    procurement: createLicenseProcurement(procurement, procurementCredential(procurement, credential), tenant.tenantId, metrics),
    ...(notifications ? { notifications } : {}),
  });
}

export interface DialtoneWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  maxConcurrentActivities?: number;
  taskQueueActivitiesPerSecond?: number;
  /** Where the workflows' business metrics go (through sinks); the process's metrics unless a test passes its own. */
  metrics?: WorkerMetrics;
  /** The process's OpenTelemetry SDK when tracing is on: runs and their activities are then traced (worker/tracing.ts). */
  telemetry?: Telemetry;
}

export async function createDialtoneWorker(options: DialtoneWorkerOptions): Promise<Worker> {
  const tracing = options.telemetry ? await tracingWorkerOptions(options.telemetry) : undefined;
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    dataConverter: dialtoneDataConverter,
    activities: options.activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    ...(options.taskQueueActivitiesPerSecond ? { maxTaskQueueActivitiesPerSecond: options.taskQueueActivitiesPerSecond } : {}),
    ...(tracing?.interceptors ? { interceptors: tracing.interceptors } : {}),
    // The business metrics' sinks, and the span exporter's when tracing is on.
    sinks: { ...tracing?.sinks, ...(options.metrics ?? processWorkerMetrics()).sinks() },
  });
}

export async function runWorker(config: WorkerConfig, telemetry?: Telemetry): Promise<void> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const pacer = config.pacing ? new Pacer(config.pacing) : undefined;
  // The budget is the tenant's: every worker on the task queue takes its share.
  const stopSharing = pacer
    ? shareBudgetAmongWorkers(connection, config.temporal.namespace, config.temporal.taskQueue, pacer, 30_000, (workers) =>
        Runtime.instance().logger.info('pacing share changed', { workers, resourceUnitsPer10s: Math.round((config.pacing?.resourceUnits ?? 0) / workers) }))
    : () => undefined;
  try {
    const worker = await createDialtoneWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      activities: createTenantActivities(config.tenant, config.polling, config.onDeletedAccount, pacer ?? null, config.procurement, config.notifications),
      maxConcurrentActivities: config.maxConcurrentActivities,
      ...(config.taskQueueActivitiesPerSecond ? { taskQueueActivitiesPerSecond: config.taskQueueActivitiesPerSecond } : {}),
      ...(telemetry ? { telemetry } : {}),
    });
    // Worker.run resolves after SIGINT/SIGTERM, once in-flight tasks have drained.
    await worker.run();
  } finally {
    stopSharing();
    await connection.close();
  }
}
