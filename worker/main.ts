/** Worker entry point: the only place that reads process.env. */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError } from '../lib/config';
import { startTelemetry } from '../lib/telemetry';
import { describeWorkerConfig, loadWorkerConfig } from './config';
import { TraceContextLogger } from './tracing';
import { runWorker } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  // Tracing first, so that everything the worker does is traced.
  const telemetry = await startTelemetry(config.tracing, { serviceName: 'dialtone-worker' });
  Runtime.install({
    logger: telemetry ? new TraceContextLogger(config.logLevel) : new DefaultLogger(config.logLevel),
    ...(config.metricsBindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: config.metricsBindAddress } } } } : {}),
  });
  console.log(JSON.stringify({ msg: 'dialtone worker starting', config: describeWorkerConfig(config) }));
  try {
    await runWorker(config, telemetry);
  } finally {
    // Spans still batched are sent before the process ends.
    await telemetry?.shutdown();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error('dialtone worker failed:', err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
