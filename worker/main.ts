/** Worker entry point: the only place that reads process.env. */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError } from '../lib/config';
import { startTelemetry } from '../lib/telemetry';
import { describeWorkerConfig, loadWorkerConfig } from './config';
import { processWorkerMetrics } from './metrics';
import { freeLoopbackPort } from '../lib/free-port';
import { serveWorkerMetrics } from './metrics-server';
import { TraceContextLogger } from './tracing';
import { runWorker } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  // Tracing first, so that everything the worker does is traced.
  const telemetry = await startTelemetry(config.tracing, { serviceName: 'dialtone-worker' });
  // The SDK's exporter listens on loopback only; the worker's own server serves its metrics with ours.
  const sdkMetricsPort = config.metricsBindAddress ? await freeLoopbackPort() : undefined;
  Runtime.install({
    logger: telemetry ? new TraceContextLogger(config.logLevel) : new DefaultLogger(config.logLevel),
    ...(sdkMetricsPort ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } } } } : {}),
  });
  console.log(JSON.stringify({ msg: 'dialtone worker starting', config: describeWorkerConfig(config) }));
  const metricsServer = config.metricsBindAddress
    ? await serveWorkerMetrics({ bindAddress: config.metricsBindAddress, registry: processWorkerMetrics().registry, sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics` })
    : undefined;
  if (metricsServer) console.log(JSON.stringify({ msg: 'dialtone worker metrics', url: metricsServer.url }));
  try {
    await runWorker(config, telemetry);
  } finally {
    await metricsServer?.close();
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
