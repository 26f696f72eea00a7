/**
 * /readyz when Temporal goes away and comes back. Temporal is reached through a TCP relay in front of
 * the test's dev server: closing the relay is Temporal stopping (connections drop, new ones are
 * refused), opening it again on the same port is Temporal answering again.
 */
import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from '../../api/app';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { testConfig } from './helpers';

/** A TCP relay to `target` (`host:port`) on a fixed local port that can be closed and opened again. */
class Relay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: string) {}

  async open(): Promise<void> {
    const [host = '127.0.0.1', port = ''] = this.target.split(/:(?=\d+$)/);
    const server = createServer((client) => {
      const upstream = createConnection(Number(port), host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

describe('/readyz across a Temporal outage', () => {
  let temporal: TestTemporal;

  before(async () => {
    temporal = await startTestTemporal();
  });
  after(async () => {
    await temporal?.teardown();
  });

  test('turns ready within about 2 s of Temporal answering again after a 15 s outage', async () => {
    const relay = new Relay(temporal.address);
    await relay.open();
    const app = await buildApp(testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${relay.port}` }));
    const readyz = async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode;
    try {
      assert.equal(await readyz(), 200);
      await relay.close();
      // Long enough for gRPC's default reconnect backoff to grow past 10 s; an orchestrator polls meanwhile.
      const outageEnds = Date.now() + 15_000;
      while (Date.now() < outageEnds) {
        const res = await app.inject({ method: 'GET', url: '/readyz' });
        assert.equal(res.statusCode, 503);
        assert.deepEqual(res.json(), { status: 'not-ready', reason: 'Temporal is not reachable' });
        await sleep(500);
      }
      await relay.open();
      const back = Date.now();
      let status = await readyz();
      while (status !== 200 && Date.now() - back < 15_000) {
        await sleep(100);
        status = await readyz();
      }
      const took = Date.now() - back;
      assert.equal(status, 200);
      assert.ok(took <= 2500, `ready ${took} ms after Temporal answered again`);
    } finally {
      await app.close();
      await relay.close();
    }
  });
});
