/** Composition root: config → credential → clients → activities → Worker. */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Activities } from '../activities';
import { createGraphClient } from '../activities/graph/client';
import { TeamsAdminClient } from '../activities/teams-admin/client';
import type { PollingOptions } from '../activities/polling';
import type { DeletedAccountPolicy } from '../lib/validation';
import { temporalConnectionOptions } from '../lib/temporal-connection';
import type { TenantConfig, WorkerConfig } from './config';
import { createCredential } from './credentials';

export function createTenantActivities(tenant: TenantConfig, polling?: PollingOptions, onDeletedAccount?: DeletedAccountPolicy): Activities {
  const credential = createCredential(tenant);
  return createActivities({
    graph: createGraphClient({ credential, baseUrl: tenant.graphBaseUrl }),
    teamsAdmin: new TeamsAdminClient({ credential, baseUrl: tenant.teamsAdminBaseUrl }),
    polling,
    onDeletedAccount,
  });
}

export interface DialtoneWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  maxConcurrentActivities?: number;
}

export function createDialtoneWorker(options: DialtoneWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: options.activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 50,
  });
}

export async function runWorker(config: WorkerConfig): Promise<void> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  try {
    const worker = await createDialtoneWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      activities: createTenantActivities(config.tenant, config.polling, config.onDeletedAccount),
      maxConcurrentActivities: config.maxConcurrentActivities,
    });
    // Worker.run resolves after SIGINT/SIGTERM, once in-flight tasks have drained.
    await worker.run();
  } finally {
    await connection.close();
  }
}
