/** A tenant simulator on a free loopback port, with the CA that `npm test` makes trusted. */
import type { SimulatorInstance, SimulatorOptions } from '../../simulator/app';
import { buildSimulator, simulatorUrl } from '../../simulator/app';
import { ensureSimulatorTls } from '../../simulator/tls';
import { DEFAULT_SIMULATOR_TLS_DIR } from '../../lib/paths';
import { simulatorTenant } from '../../worker/config';
import type { TenantConfig } from '../../worker/config';

export interface TestSimulator {
  app: SimulatorInstance;
  url: string;
  /** Worker tenant config pointing at this simulator with the built-in app. */
  tenant: TenantConfig;
  close(): Promise<void>;
}

export async function startTestSimulator(options: Omit<SimulatorOptions, 'tls'> = {}): Promise<TestSimulator> {
  if (!process.env.NODE_EXTRA_CA_CERTS) {
    throw new Error('NODE_EXTRA_CA_CERTS is not set: run tests through "npm test" (it trusts the simulator CA), or set it to .data/simulator-tls/ca.pem');
  }
  const tls = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
  const app = await buildSimulator({ seed: 1, ...options, tls: { certPath: tls.certPath, keyPath: tls.keyPath } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = simulatorUrl(app);
  return {
    app,
    url,
    tenant: simulatorTenant(url, { tenantId: options.tenantId }),
    close: () => app.close(),
  };
}

/** Fast cadence for in-activity polling against the fast profile. */
export const TEST_POLLING = { initialIntervalMs: 20, maxIntervalMs: 100, budgetMs: 5_000 };
