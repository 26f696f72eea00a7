/**
 * The API over the product path end to end: tenant simulator ← real activities ← the real worker
 * (every workflow, batches included) ← a real Temporal server, with the app built as in production.
 */
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import type { SimulatorOptions } from '../../simulator/app';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';
import { testConfig } from './helpers';

export interface ApiOverStack {
  stack: TestStack;
  app: ApiApp;
  close(): Promise<void>;
}

export async function startApiOverStack(env: Record<string, string> = {}, simulatorOptions: Omit<SimulatorOptions, 'tls'> = {}): Promise<ApiOverStack> {
  const stack = await startTestStack(simulatorOptions);
  try {
    const config = testConfig({ TEMPORAL_TASK_QUEUE: stack.taskQueue, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...env });
    const app = await buildApp(config, { temporalClient: stack.temporal.client });
    return {
      stack,
      app,
      async close() {
        await app.close();
        await stack.shutdown();
      },
    };
  } catch (err) {
    await stack.shutdown();
    throw err;
  }
}
