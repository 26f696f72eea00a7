/**
 * Starts a tenant simulator in-process on a free port and builds the product's real clients against it:
 * @azure/identity's ClientSecretCredential and the Graph client with TokenCredentialAuthenticationProvider.
 * Most tests drive time with a manual clock, so they assert what happens before and after a delay
 * without ever waiting for it.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { Client } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_TENANT_DOMAIN, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { GRAPH_RESOURCE, RESOURCE_ACCOUNT_APP_IDS, TEAMS_ADMIN_RESOURCE } from '../../lib/microsoft';
import type { SimulatorInstance, SimulatorOptions } from '../../simulator/app';
import { buildSimulator, simulatorUrl } from '../../simulator/app';
import { ensureSimulatorTls } from '../../simulator/tls';

export const TLS_DIR = resolve(__dirname, '../../.data/simulator-tls');
export const DOMAIN = LOCAL_TENANT_DOMAIN;
export const AUTO_ATTENDANT_APP_ID = RESOURCE_ACCOUNT_APP_IDS.autoAttendant;

/** Delays long enough that nothing happens until a test moves the clock. */
export const TEST_DELAYS = {
  replication: 10_000,
  licensePropagation: 60_000,
  teamsSync: 30_000,
  numberOperation: 5_000,
  usageLocationReplication: 2_000,
  applicationInstanceListing: 20_000,
  consumedUnits: 15_000,
} as const;

/** The headers public clients of the Teams admin service send; the simulator requires them. */
export function teamsClientHeaders(): Record<string, string> {
  return { 'x-authz-scope': 'tenant', 'x-ms-correlation-id': randomUUID(), 'x-requested-with': 'XMLHttpRequest' };
}

export class ManualClock {
  constructor(private current = Date.now()) {}

  now = (): number => this.current;

  advance(ms: number): void {
    this.current += ms;
  }
}

export interface TestSimulator {
  app: SimulatorInstance;
  url: string;
  clock: ManualClock;
  credential(clientId?: string, secret?: string): ClientSecretCredential;
  graph(credential?: ClientSecretCredential): Client;
  /** Calls the Teams admin API with a token for its audience and the client headers it requires (unless `headers` replaces them). */
  teams(path: string, init?: { method?: string; body?: unknown; credential?: ClientSecretCredential; headers?: Record<string, string> }): Promise<Response>;
  /** Calls the control API (no token). */
  control(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * One simulator for the enclosing describe block, reset to its seed after each test; `use` receives
 * it once it has started. Call inside describe().
 */
export function simulatorPerSuite(use: (simulator: TestSimulator) => void, options: Omit<SimulatorOptions, 'tls'> = {}): void {
  let current: TestSimulator | undefined;
  before(async () => {
    current = await startSimulator(options);
    use(current);
  });
  afterEach(async () => {
    await current?.control('/reset', { method: 'POST' });
  });
  after(() => current?.close());
}

export async function startSimulator(options: Omit<SimulatorOptions, 'tls'> = {}): Promise<TestSimulator> {
  if (!process.env.NODE_EXTRA_CA_CERTS) {
    throw new Error(`Run these tests with NODE_EXTRA_CA_CERTS=${TLS_DIR}/ca.pem (npm test sets it) so Node trusts the simulator`);
  }
  const clock = new ManualClock();
  const app = await buildSimulator({
    now: clock.now,
    latency: 0,
    faultRate: 0,
    throttle: null,
    writeQuota: null,
    retryAfterOmissionRate: 0,
    delays: TEST_DELAYS,
    seed: 1,
    ...options,
    tls: await ensureSimulatorTls(TLS_DIR),
  });
  await app.listen({ host: 'localhost', port: 0 });
  const url = simulatorUrl(app);

  const credential = (clientId = LOCAL_CLIENT_ID, secret = LOCAL_CLIENT_SECRET) =>
    new ClientSecretCredential(LOCAL_TENANT_ID, clientId, secret, { authorityHost: url, disableInstanceDiscovery: true });
  const defaultCredential = credential();

  const json = (body: unknown) => body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };

  return {
    app,
    url,
    clock,
    credential,
    graph: (graphCredential = defaultCredential) => Client.initWithMiddleware({
      authProvider: new TokenCredentialAuthenticationProvider(graphCredential, { scopes: [`${GRAPH_RESOURCE}/.default`] }),
      baseUrl: url,
      customHosts: new Set(['localhost']),
      defaultVersion: 'v1.0',
    }),
    async teams(path, init = {}) {
      const token = await (init.credential ?? defaultCredential).getToken(`${TEAMS_ADMIN_RESOURCE}/.default`);
      const request = json(init.body);
      return fetch(`${url}${path}`, {
        method: init.method ?? 'GET',
        body: request.body,
        headers: { ...request.headers, ...(init.headers ?? teamsClientHeaders()), authorization: `Bearer ${token.token}` },
      });
    },
    control: (path, init = {}) => fetch(`${url}/_simulator${path}`, { method: init.method ?? 'GET', ...json(init.body) }),
    close: () => app.close(),
  };
}

/** Creates an auto-attendant resource account through the Teams admin API and returns its object id. */
export async function createResourceAccount(simulator: TestSimulator, localPart: string): Promise<string> {
  const response = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', {
    method: 'POST',
    body: { userPrincipalName: `${localPart}@${DOMAIN}`, displayName: `Resource account ${localPart}`, applicationId: AUTO_ATTENDANT_APP_ID },
  });
  if (response.status !== 200) throw new Error(`creating ${localPart} failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { objectId: string }).objectId;
}

/** Graph error as thrown by the Graph client, for assertions. */
export interface GraphErrorLike {
  statusCode: number;
  code: string;
  message: string;
  headers?: Headers;
}

/** Runs a Graph call that must fail and returns the error. */
export async function graphFailure(call: Promise<unknown>): Promise<GraphErrorLike> {
  try {
    await call;
  } catch (error) {
    return error as GraphErrorLike;
  }
  throw new Error('expected the Graph call to fail, but it succeeded');
}
