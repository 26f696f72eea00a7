/** Worker entry point: the only place that reads process.env. */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError } from '../lib/config';
import { describeWorkerConfig, loadWorkerConfig } from './config';
import { runWorker } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  Runtime.install({
    logger: new DefaultLogger(config.logLevel),
    ...(config.metricsBindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: config.metricsBindAddress } } } } : {}),
  });
  console.log(JSON.stringify({ msg: 'dialtone worker starting', config: describeWorkerConfig(config) }));
  await runWorker(config);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error('dialtone worker failed:', err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
