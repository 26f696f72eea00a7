/**
 * `fastify.temporal`: the process's one Temporal client. The connection is lazy, so the API starts
 * (and /readyz says 503) while Temporal is still coming up; it is closed with the app. An injected
 * client belongs to the caller and is left open.
 *
 * `fastify.temporalReadiness()`: whether requests can be served now, for /readyz.
 */
import { Client, Connection } from '@temporalio/client';
import type { ClientInterceptors } from '@temporalio/client';
import fp from 'fastify-plugin';
import { dialtoneDataConverter } from '../../lib/payload-codec';
import { temporalConnectionOptions } from '../../lib/config';
import type { TemporalConfig } from '../../lib/config';

export type TemporalReadiness = { ready: true } | { ready: false; reason: string };

declare module 'fastify' {
  interface FastifyInstance {
    temporal: Client;
    temporalReadiness(): Promise<TemporalReadiness>;
  }
}

export interface TemporalPluginOptions {
  config: TemporalConfig;
  client?: Client;
  /**
   * Trace the client's calls and carry the trace into the workflows it starts (in their headers), so
   * a run's spans join the request's trace. Needs the OpenTelemetry SDK started (lib/telemetry.ts).
   * An injected client keeps the interceptors it was made with.
   */
  tracing?: boolean;
}

/**
 * How long the connection waits before trying Temporal again after losing it. gRPC's default backoff
 * grows to two minutes, so after an outage of a minute the API trailed Temporal's return by 15 to 25
 * seconds; one attempt a second from each API process costs nothing worth saving.
 */
export const RECONNECT_BACKOFF_MS = 1000;

/** How long a readiness check waits for Temporal on the shared connection, then on a new one. */
export const READINESS_TIMEOUT_MS = 1000;

/** Loaded only when tracing is on, so that an API without it loads nothing of OpenTelemetry's SDK. */
async function tracingInterceptors(): Promise<ClientInterceptors> {
  const { OpenTelemetryWorkflowClientInterceptor } = await import('@temporalio/interceptors-opentelemetry');
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

export default fp<TemporalPluginOptions>(
  async (fastify, { config, client, tracing }) => {
    const options = temporalConnectionOptions(config);
    if (client) {
      fastify.decorate('temporal', client);
    } else {
      const connection = Connection.lazy({
        ...options,
        channelArgs: { 'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS, 'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MS },
      });
      const interceptors = tracing ? await tracingInterceptors() : undefined;
      fastify.decorate('temporal', new Client({ connection, namespace: config.namespace, dataConverter: dialtoneDataConverter, ...(interceptors ? { interceptors } : {}) }));
      fastify.addHook('onClose', async () => {
        await connection.close();
      });
    }

    fastify.decorate('temporalReadiness', async (): Promise<TemporalReadiness> => {
      const temporal = fastify.temporal;
      try {
        await temporal.withDeadline(Date.now() + READINESS_TIMEOUT_MS, () => temporal.workflowService.getSystemInfo({}));
        return { ready: true };
      } catch (err) {
        fastify.log.warn({ err }, 'readiness check: Temporal did not answer on the API connection');
      }
      // A new connection tells "Temporal is down" from "Temporal is back and the API's connection has
      // not reconnected yet" (at most RECONNECT_BACKOFF_MS), or is stuck on a dead socket until
      // keepalive notices. Either way requests would fail now, so the API is not ready.
      const fresh = Connection.lazy({ ...options, connectTimeout: READINESS_TIMEOUT_MS });
      try {
        await fresh.ensureConnected();
        return { ready: false, reason: "Temporal answers, but the API's connection to it has not recovered yet" };
      } catch {
        return { ready: false, reason: 'Temporal is not reachable' };
      } finally {
        await fresh.close();
      }
    });
  },
  { name: 'temporal', fastify: '5.x' },
);
