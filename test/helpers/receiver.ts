/**
 * A calling system's webhook receiver on a loopback port, for notification tests: it keeps every
 * request it was sent, and on a path told to fail it answers the first attempts of each event with an
 * error before it takes the event.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  /** The exact body bytes, as text. */
  body: string;
  /** What the receiver answered; 0 for a request it holds open without an answer. */
  status: number;
}

export interface Failing {
  /** Attempts of each event (by its Dialtone-Event-Id) answered with `status` before one is taken. */
  attempts: number;
  status: number;
  retryAfter?: string;
}

export interface TestReceiver {
  url(path: string): string;
  readonly requests: ReceivedRequest[];
  /** Requests to `path` answered 2xx. */
  delivered(path: string): ReceivedRequest[];
  /** From now on, requests to `path` are answered as `failing` says (per event). */
  fail(path: string, failing: Failing): void;
  /** From now on, the first `attempts` requests of each event to `path` are held open, never answered (a hung receiver). */
  hold(path: string, attempts: number): void;
  close(): Promise<void>;
}

export async function startTestReceiver(): Promise<TestReceiver> {
  const requests: ReceivedRequest[] = [];
  const failing = new Map<string, Failing>();
  const attempts = new Map<string, number>();
  const holding = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const eventId = String(req.headers['dialtone-event-id'] ?? '');
      const key = `${path} ${eventId}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      if (attempt <= (holding.get(path) ?? 0)) {
        requests.push({ path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: 0 });
        return;
      }
      const rule = failing.get(path);
      const status = rule && attempt <= rule.attempts ? rule.status : 204;
      requests.push({ path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      if (rule?.retryAfter && status !== 204) res.setHeader('retry-after', rule.retryAfter);
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    delivered: (path) => requests.filter((r) => r.path === path && r.status >= 200 && r.status < 300),
    fail: (path, rule) => {
      failing.set(path, rule);
    },
    hold: (path, n) => {
      holding.set(path, n);
    },
    close: () => {
      const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      server.closeAllConnections();
      return closed;
    },
  };
}
