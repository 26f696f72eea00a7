/**
 * A loopback port free now: bound by the kernel's choice, noted and released. Another process could
 * take it before the caller binds it; whoever binds it then fails, saying so. Used for the Temporal
 * SDK's metrics exporter (which needs a port number up front) and by tests for a port nothing serves.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
