/**
 * The worker's one Prometheus endpoint, `GET /metrics` at WORKER_METRICS_BIND_ADDRESS: prom-client's
 * registry (process and business metrics) followed by the Temporal SDK's own metrics. The SDK exports
 * its metrics only through its own HTTP exporter (Runtime telemetryOptions.metrics.prometheus), so that
 * exporter listens on a loopback port nobody else is told about, and each scrape reads it and appends
 * its text: operators configure and scrape one address, as before.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

/** How long a scrape waits for the SDK's exporter before answering without its metrics. */
export const SDK_METRICS_TIMEOUT_MS = 2000;

export interface MetricsServer {
  /** The address it listens on, e.g. http://127.0.0.1:9464/metrics. */
  url: string;
  close(): Promise<void>;
}

/** `host:port` (IPv6 hosts in brackets) as listen() takes them. */
export function parseBindAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) };
}

export interface MetricsServerOptions {
  /** `host:port` to listen on (WORKER_METRICS_BIND_ADDRESS). */
  bindAddress: string;
  registry: Registry;
  /** The Temporal SDK exporter's URL (http://127.0.0.1:<port>/metrics); absent when the SDK exports nothing. */
  sdkMetricsUrl?: string;
}

export async function serveWorkerMetrics(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, sdkMetricsUrl } = options;
  const sdkUp = new Gauge({
    name: 'dialtone_temporal_sdk_metrics_up',
    help: "1 when this scrape includes the Temporal SDK's metrics (temporal_*), 0 when its exporter did not answer in time.",
    registers: [registry],
  });

  async function sdkMetrics(): Promise<string> {
    if (!sdkMetricsUrl) return '';
    try {
      const response = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(SDK_METRICS_TIMEOUT_MS) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      sdkUp.set(1);
      return text.endsWith('\n') || text === '' ? text : `${text}\n`;
    } catch {
      sdkUp.set(0);
      return '';
    }
  }

  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    void (async () => {
      try {
        const sdk = await sdkMetrics();
        const own = await registry.metrics();
        response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : `${own}${sdk}`);
      } catch (err) {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics could not be collected: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    })();
  });

  const { host, port } = parseBindAddress(options.bindAddress);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`WORKER_METRICS_BIND_ADDRESS=${options.bindAddress}: cannot listen there (${err.code ?? err.message}); choose a free host:port, or unset it to serve no metrics`)));
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
