/**
 * The API as a Fastify instance: external plugins (Temporal, errors, auth, OpenAPI, metrics), the
 * app's own services, then routes. api/server.ts listens; tests call `inject` on it.
 */
import type { Writable } from 'node:stream';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { activeTraceFields } from '../lib/telemetry';
import type { Telemetry } from '../lib/telemetry';
import type { ApiConfig } from './config';
import { serializeRequest } from './logging';
import authPlugin from './plugins/auth';
import batchesPlugin from './plugins/batches';
import errorsPlugin, { clientErrorHandler, frameworkErrorHandler } from './plugins/errors';
import metricsPlugin from './plugins/metrics';
import resourceAccountsPlugin from './plugins/resource-accounts';
import swaggerPlugin from './plugins/swagger';
import temporalPlugin from './plugins/temporal';
import tracingPlugin from './plugins/tracing';
import batchRoutes from './routes/batches';
import healthRoutes from './routes/health';
import licensePurchaseRoutes from './routes/license-purchase';
import resourceAccountRoutes from './routes/resource-accounts';
import { ID_PARAM_MAX_LENGTH } from './schemas/resource-accounts';

export interface AppDeps {
  /** A client owned by the caller (tests, an embedding process); the app then opens no connection of its own. */
  temporalClient?: Client;
  /** Where the log goes instead of stdout (tests read it). */
  logStream?: Writable;
  /**
   * The process's OpenTelemetry SDK, when tracing is on (lib/telemetry.ts): requests and the workflows
   * they start are then traced, and log lines carry the trace id.
   */
  telemetry?: Telemetry;
}

export async function buildApp(config: ApiConfig, deps: AppDeps = {}) {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      serializers: { req: serializeRequest },
      ...(deps.logStream ? { stream: deps.logStream } : {}),
      // Each line written during a traced request names its trace, so logs and traces find each other.
      ...(deps.telemetry ? { mixin: activeTraceFields } : {}),
    },
    // Every valid UPN fits in a path segment (Fastify's default of 100 characters does not).
    routerOptions: { maxParamLength: ID_PARAM_MAX_LENGTH },
    // Errors met before a route is found, and those of Node's HTTP parser, in the API's error format.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    http: { requireHostHeader: false },
    ajv: {
      customOptions: {
        // Unknown fields are refused with a message, not silently dropped (Fastify's default).
        removeAdditional: false,
        allErrors: true,
        // Gives each error its schema, so an unknown field's message can list the accepted ones.
        verbose: true,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(errorsPlugin);
  await app.register(temporalPlugin, { config: config.temporal, client: deps.temporalClient, tracing: deps.telemetry !== undefined });
  if (deps.telemetry) await app.register(tracingPlugin);
  await app.register(authPlugin, config.auth);
  await app.register(swaggerPlugin, { docsUi: config.docsUi });
  await app.register(metricsPlugin, { tenantId: config.tenantId });
  await app.register(resourceAccountsPlugin, {
    tenantId: config.tenantId,
    taskQueue: config.temporal.taskQueue,
    workerTimeoutMs: config.workerTimeoutMs,
    temporalUiUrl: config.temporalUiUrl,
  });
  await app.register(batchesPlugin, {
    tenantId: config.tenantId,
    taskQueue: config.temporal.taskQueue,
    workerTimeoutMs: config.workerTimeoutMs,
    dryRunWaitMs: config.dryRunWaitMs,
    temporalUiUrl: config.temporalUiUrl,
  });

  await app.register(healthRoutes);
  await app.register(resourceAccountRoutes, { prefix: '/v1', notifyRules: config.notifyRules });
  await app.register(batchRoutes, { prefix: '/v1', notifyRules: config.notifyRules });
  await app.register(licensePurchaseRoutes, { prefix: '/v1', tenantId: config.tenantId, workerTimeoutMs: config.workerTimeoutMs });
  return app;
}

export type ApiApp = Awaited<ReturnType<typeof buildApp>>;
