/**
 * Names each request's server span (made by OpenTelemetry's http instrumentation, lib/telemetry.ts)
 * after its route, `POST /v1/resource-accounts/:id/decision` rather than `POST`, and sets `http.route`,
 * as the HTTP semantic conventions ask (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#name).
 * Registered only when tracing is on.
 */
import { context } from '@opentelemetry/api';
import { RPCType, getRPCMetadata } from '@opentelemetry/core';
import fp from 'fastify-plugin';

export default fp(
  async (fastify) => {
    fastify.addHook('onRequest', async (request) => {
      const route = request.routeOptions.url;
      // The http instrumentation leaves this record in the request's context for a framework to fill
      // in; it sets `http.route` from it when the response ends.
      const rpc = getRPCMetadata(context.active());
      if (route === undefined || rpc?.type !== RPCType.HTTP) return;
      rpc.route = route;
      rpc.span.updateName(`${request.method} ${route}`);
    });
  },
  { name: 'tracing', fastify: '5.x' },
);
