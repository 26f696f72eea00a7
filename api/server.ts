/** Entry point: reads the environment, listens, and closes cleanly on SIGINT/SIGTERM. */
import { ConfigError } from '../lib/config';
import { startTelemetry } from '../lib/telemetry';
import { buildApp } from './app';
import { loadApiConfig } from './config';
import type { ApiConfig } from './config';

function loadConfigOrExit(): ApiConfig {
  try {
    return loadApiConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`dialtone api: ${err.message}`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  // Tracing first, so that everything the app does is traced.
  const telemetry = await startTelemetry(config.tracing, { serviceName: 'dialtone-api' });
  const app = await buildApp(config, { telemetry });
  const url = await app.listen({ host: config.host, port: config.port });
  app.log.info(`Dialtone API on ${url} (OpenAPI at ${url}/openapi.json, Temporal ${config.temporal.address}, namespace ${config.temporal.namespace})`);

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal}: closing`);
    // Spans still batched are sent before the process ends.
    app
      .close()
      .then(() => telemetry?.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          app.log.error({ err }, 'error while closing');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error('dialtone api failed to start:', err);
  process.exit(1);
});
