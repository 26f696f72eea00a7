/** An API app over a real Temporal server with a worker running the given workflows (the product's or a stand-in). */
import { Worker } from '@temporalio/worker';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import type { Activities } from '../../activities/types';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { testConfig } from './helpers';
import { WorkerMetrics } from '../../worker/metrics';

export interface ApiWithWorker {
  temporal: TestTemporal;
  app: ApiApp;
  taskQueue: string;
  close(): Promise<void>;
}

export async function startApiWithWorker(workflowsPath: string, activities?: Activities): Promise<ApiWithWorker> {
  const temporal = await startTestTemporal();
  const config = testConfig({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath,
    ...(activities ? { activities } : {}),
    sinks: new WorkerMetrics({ defaultMetrics: false }).sinks(),
  });
  const running = worker.run();
  const app = await buildApp(config, { temporalClient: temporal.client });
  return {
    temporal,
    app,
    taskQueue: config.temporal.taskQueue,
    async close() {
      await app.close();
      worker.shutdown();
      await running;
      await temporal.teardown();
    },
  };
}
