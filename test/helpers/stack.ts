/**
 * The product path end to end for tests: tenant simulator ← real activities (Graph SDK client,
 * `@azure/identity`) ← Worker ← real Temporal server.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import type { PacingBudget } from '../../activities/pacing';
import type { PollingOptions } from '../../activities/polling';
import type { SimulatorOptions } from '../../simulator/app';
import type { TeamsAdminConfig } from '../../worker/config';
import { createDialtoneWorker, createTenantActivities } from '../../worker/worker';
import { startTestSimulator, TEST_POLLING } from './simulator';
import type { TestSimulator } from './simulator';
import { startTestTemporal } from './temporal';
import type { TestTemporal } from './temporal';

export interface TestStack {
  temporal: TestTemporal;
  simulator: TestSimulator;
  worker: Worker;
  taskQueue: string;
  shutdown(): Promise<void>;
}

export async function startTestStack(
  simulatorOptions: Omit<SimulatorOptions, 'tls'> = {},
  pacing?: PacingBudget | null,
  polling: PollingOptions = TEST_POLLING,
  teamsAdmin: Partial<TeamsAdminConfig> = {},
): Promise<TestStack> {
  const temporal = await startTestTemporal();
  const simulator = await startTestSimulator(simulatorOptions);
  const taskQueue = `stack-${randomUUID()}`;
  const worker = await createDialtoneWorker({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    activities: createTenantActivities({ ...simulator.tenant, teamsAdmin: { ...simulator.tenant.teamsAdmin, ...teamsAdmin } }, polling, undefined, pacing),
  });
  const running = worker.run();
  return {
    temporal,
    simulator,
    worker,
    taskQueue,
    async shutdown() {
      worker.shutdown();
      await running;
      await simulator.close();
      await temporal.teardown();
    },
  };
}
