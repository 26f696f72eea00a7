import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../lib/config';
import { LOCAL_PARTNER_TENANT_ID, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { describeWorkerConfig, loadWorkerConfig } from '../../worker/config';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = '66666666-7777-8888-9999-000000000000';

function problems(env: Record<string, string>): string[] {
  try {
    loadWorkerConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return assert.fail('expected a ConfigError');
}

describe('loadWorkerConfig', () => {
  test('simulator mode points every client at the simulator with the built-in app', () => {
    const config = loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', SIMULATOR_URL: 'https://localhost:9443/' });
    assert.equal(config.tenant.mode, 'simulator');
    assert.equal(config.tenant.tenantId, LOCAL_TENANT_ID);
    assert.equal(config.tenant.graphBaseUrl, 'https://localhost:9443');
    assert.equal(config.tenant.authorityHost, 'https://localhost:9443');
    assert.equal(config.tenant.teamsAdminBaseUrl, 'https://localhost:9443');
    assert.equal(config.temporal.address, 'localhost:7233');
    assert.equal(config.temporal.taskQueue, 'dialtone-provisioning');
  });

  test('the supported PowerShell adapter is the default in both modes; the REST one must be asked for by name', () => {
    const simulator = loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem' });
    assert.deepEqual(simulator.tenant.teamsAdmin, { adapter: 'powershell', pwshPath: 'pwsh', commandTimeoutMs: 120_000, sessions: 4 });
    const real = loadWorkerConfig({ DIALTONE_TENANT_MODE: 'microsoft', AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's' });
    assert.equal(real.tenant.teamsAdmin.adapter, 'powershell');
    const rest = loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', DIALTONE_TEAMS_ADMIN: 'rest-experimental', DIALTONE_PWSH_PATH: '/opt/microsoft/powershell/7/pwsh' });
    assert.equal(rest.tenant.teamsAdmin.adapter, 'rest-experimental');
    assert.equal(rest.tenant.teamsAdmin.pwshPath, '/opt/microsoft/powershell/7/pwsh');
    assert.equal(loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', DIALTONE_TEAMS_SESSIONS: '8' }).tenant.teamsAdmin.sessions, 8);
    assert.deepEqual(problems({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', DIALTONE_TEAMS_ADMIN: 'rest', DIALTONE_PWSH_COMMAND_TIMEOUT_MS: '10', DIALTONE_TEAMS_SESSIONS: '40' }), [
      'DIALTONE_TEAMS_ADMIN="rest" must be one of powershell, rest-experimental',
      'DIALTONE_PWSH_COMMAND_TIMEOUT_MS="10" is not a whole number from 1000 to 3600000',
      'DIALTONE_TEAMS_SESSIONS="40" is not a whole number from 1 to 16',
    ]);
  });

  test('license procurement is read with the rest of the config: manual by default, Partner Center at the simulator in simulator mode', () => {
    assert.deepEqual(loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem' }).procurement, { kind: 'manual' });
    const csp = loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', SIMULATOR_URL: 'https://localhost:9443', DIALTONE_LICENSE_PROCUREMENT: 'partner-center' }).procurement;
    assert.equal(csp.kind, 'partner-center');
    assert.equal(csp.kind === 'partner-center' && csp.baseUrl, 'https://localhost:9443');
    assert.equal(csp.kind === 'partner-center' && csp.customerId, LOCAL_TENANT_ID);
    assert.deepEqual(problems({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', DIALTONE_LICENSE_PROCUREMENT: 'partner-center', DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH: '500' }), [
      'DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH=500 is above DIALTONE_PURCHASE_MAX_UNITS_PER_DAY=100: lower it, or raise the daily ceiling',
    ]);
  });

  test("Partner Center's app is the partner tenant's, apart from the worker's app; its secret is never logged", () => {
    const simulated = loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', SIMULATOR_URL: 'https://localhost:9443', DIALTONE_LICENSE_PROCUREMENT: 'partner-center' });
    assert.ok(simulated.procurement.kind === 'partner-center');
    assert.equal(simulated.procurement.app.tenantId, LOCAL_PARTNER_TENANT_ID);
    assert.notEqual(simulated.procurement.app.tenantId, simulated.tenant.tenantId, 'the partner is not the customer');
    assert.equal(simulated.procurement.app.authorityHost, 'https://localhost:9443');
    const secret = 'partner-center-secret-4d2b';
    const real = loadWorkerConfig({
      DIALTONE_TENANT_MODE: 'microsoft', AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's',
      DIALTONE_LICENSE_PROCUREMENT: 'partner-center', DIALTONE_PARTNER_CENTER_TENANT_ID: '99999999-8888-4777-a666-555555555555',
      DIALTONE_PARTNER_CENTER_CLIENT_ID: CLIENT, DIALTONE_PARTNER_CENTER_CLIENT_SECRET: secret,
    });
    const logged = JSON.stringify(describeWorkerConfig(real));
    assert.ok(!logged.includes(secret), logged);
    assert.match(logged, /"app":\{"tenantId":"99999999-8888-4777-a666-555555555555","clientId":"66666666-7777-8888-9999-000000000000","authorityHost":"https:\/\/login\.microsoftonline\.com","credential":"secret"\}/);
    assert.ok(problems({ DIALTONE_TENANT_MODE: 'microsoft', AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's', DIALTONE_LICENSE_PROCUREMENT: 'partner-center' })
      .some((p) => p.startsWith('DIALTONE_PARTNER_CENTER_TENANT_ID is not set')));
  });

  test('simulator mode without the simulator CA trusted is refused with the fix', () => {
    const [problem] = problems({});
    assert.match(problem ?? '', /NODE_EXTRA_CA_CERTS is not set.*\.data\/simulator-tls\/ca\.pem/);
  });

  test('microsoft mode needs tenant, client and exactly one credential, and says so all at once', () => {
    const found = problems({ DIALTONE_TENANT_MODE: 'microsoft' });
    assert.ok(found.some((p) => p.startsWith('AZURE_TENANT_ID is not set')));
    assert.ok(found.some((p) => p.startsWith('AZURE_CLIENT_ID is not set')));
    assert.ok(found.some((p) => p.includes('choose exactly one credential')));
    const two = problems({ DIALTONE_TENANT_MODE: 'microsoft', AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's', DIALTONE_USE_MANAGED_IDENTITY: 'true' });
    assert.deepEqual(two.length, 1);
  });

  test("microsoft mode uses Microsoft's endpoints, and a logged config never shows the secret", () => {
    const secret = 'super-secret-value-123';
    const config = loadWorkerConfig({ DIALTONE_TENANT_MODE: 'microsoft', AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: secret, TEMPORAL_API_KEY: 'temporal-key-456' });
    assert.equal(config.tenant.graphBaseUrl, 'https://graph.microsoft.com');
    assert.equal(config.tenant.authorityHost, 'https://login.microsoftonline.com');
    assert.deepEqual(config.tenant.credential, { kind: 'secret', secret });
    assert.ok(config.temporal.tls, 'an API key implies TLS');
    const logged = JSON.stringify(describeWorkerConfig(config));
    assert.ok(!logged.includes(secret));
    assert.ok(!logged.includes('temporal-key-456'));
  });

  test('bad values name the variable', () => {
    const found = problems({
      NODE_EXTRA_CA_CERTS: '/x',
      TEMPORAL_ADDRESS: 'nohostport',
      WORKER_MAX_CONCURRENT_ACTIVITIES: 'many',
      DIALTONE_TENANT_MODE: 'simulator',
      SIMULATOR_URL: 'http://localhost:1',
      LOG_LEVEL: 'loud',
      WORKER_METRICS_BIND_ADDRESS: '9464',
    });
    assert.ok(found.some((p) => p.startsWith('LOG_LEVEL="loud" must be one of')));
    assert.ok(found.some((p) => p.startsWith('WORKER_METRICS_BIND_ADDRESS="9464" must be host:port')));
    assert.ok(found.some((p) => p.startsWith('TEMPORAL_ADDRESS="nohostport"')));
    assert.ok(found.some((p) => p.startsWith('WORKER_MAX_CONCURRENT_ACTIVITIES="many"')));
    assert.ok(found.some((p) => p.startsWith('SIMULATOR_URL="http://localhost:1" must be a https: URL')));
  });
});
