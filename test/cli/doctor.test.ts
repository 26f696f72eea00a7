/**
 * `dialtone doctor` as a person runs it (a real child process) against tenant simulators whose app
 * registrations are deliberately misconfigured: each failure must name what is wrong and the exact fix,
 * exit 1, print no secret, and the whole run must only read (GETs and token requests).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runDoctor } from '../../cli/doctor';
import type { CheckResult } from '../../cli/doctor';
import { TeamsAdminError } from '../../activities/teams-admin/teams-admin';
import type { TeamsAdmin } from '../../activities/teams-admin/teams-admin';
import { LOCAL_PARTNER_CLIENT_ID, LOCAL_PARTNER_TENANT_ID, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { REPO_ROOT } from '../../lib/paths';
import { LOCAL_APP_GRAPH_ROLES } from '../../simulator/options';
import type { SimulatedApp } from '../../simulator/options';
import { startTestSimulator } from '../helpers/simulator';
import { ensureSimulatorTls } from '../../simulator/tls';
import { startTestTemporal } from '../helpers/temporal';
import { freeLoopbackPort } from '../../lib/free-port';
import type { TestTemporal } from '../helpers/temporal';
import { msToTs } from '@temporalio/common/lib/time';
import type { TestSimulator } from '../helpers/simulator';

const HEALTHY: SimulatedApp = {
  clientId: '0b7e3c1a-0000-4000-8000-000000000001',
  clientSecret: 'healthy-secret-7f3a9c',
  displayName: 'Dialtone (healthy)',
  graphRoles: [...LOCAL_APP_GRAPH_ROLES, 'Domain.Read.All'],
  directoryRoles: ['Teams Telephony Administrator', 'User Administrator'],
};
const NO_NUMBERS_PERMISSION: SimulatedApp = {
  clientId: '0b7e3c1a-0000-4000-8000-000000000002',
  clientSecret: 'no-numbers-secret-51be',
  graphRoles: LOCAL_APP_GRAPH_ROLES.filter((role) => role !== 'TeamsTelephoneNumber.ReadWrite.All'),
  directoryRoles: ['Teams Administrator', 'User Administrator'],
};
const NO_USER_ADMIN: SimulatedApp = {
  clientId: '0b7e3c1a-0000-4000-8000-000000000003',
  clientSecret: 'no-user-admin-secret-c04d',
  // Without Domain.Read.All too: the domain check must then warn, not fail.
  graphRoles: LOCAL_APP_GRAPH_ROLES,
  directoryRoles: ['Teams Administrator'],
};
const NO_ROLES: SimulatedApp = {
  clientId: '0b7e3c1a-0000-4000-8000-000000000004',
  clientSecret: 'no-roles-secret-8e2a',
  graphRoles: [...LOCAL_APP_GRAPH_ROLES, 'Domain.Read.All'],
  directoryRoles: [],
};
const WRONG_SECRET = 'wrong-secret-value-9d41e2';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a worker host, without whatever the test runner's own environment sets for Dialtone. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(AZURE_|DIALTONE_|SIMULATOR_|TEMPORAL_)/.test(name)));
}

function doctor(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'cli/dialtone.ts'), 'doctor', ...args],
      { cwd: REPO_ROOT, env: { ...cleanEnv(), ...env } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The test's Temporal server, which every check run reaches unless a test says otherwise. */
let temporal: TestTemporal;

function against(sim: TestSimulator, app: { clientId: string; clientSecret: string }): Record<string, string> {
  return {
    DIALTONE_TENANT_MODE: 'simulator',
    SIMULATOR_URL: sim.url,
    AZURE_CLIENT_ID: app.clientId,
    AZURE_CLIENT_SECRET: app.clientSecret,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
  };
}

function byId(results: readonly CheckResult[]): Map<string, CheckResult> {
  return new Map(results.map((r) => [r.id, r]));
}

/** The line of the checklist for one check title, and its fix lines. */
function section(stdout: string, title: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => line.includes(` ${title}: `));
  assert.ok(start >= 0, `no line for "${title}" in:\n${stdout}`);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('    '));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

describe('dialtone doctor', () => {
  let sim: TestSimulator;
  let noSku: TestSimulator;
  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator({ apps: [HEALTHY, NO_NUMBERS_PERMISSION, NO_USER_ADMIN, NO_ROLES] });
    noSku = await startTestSimulator({ apps: [HEALTHY], licenses: [{ skuPartNumber: 'ENTERPRISEPACK', units: 5 }] });
  });
  after(async () => {
    await sim?.close();
    await noSku?.close();
    await temporal?.teardown();
  });

  test('a healthy app: every check passes (or is skipped with its reason), exit 0', async () => {
    const run = await doctor(against(sim, HEALTHY), '--json');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const report = JSON.parse(run.stdout) as { ok: boolean; checks: CheckResult[] };
    assert.equal(report.ok, true);
    const checks = byId(report.checks);
    // The Teams admin adapter is the worker's default (PowerShell; against the simulator its stand-in for pwsh).
    for (const id of ['config', 'temporal', 'reach', 'token.graph', 'token.teams', 'graph.permissions', 'roles.teams', 'roles.user', 'licenses', 'numbers', 'domains', 'teams-admin']) {
      assert.equal(checks.get(id)?.status, 'pass', `${id}: ${JSON.stringify(checks.get(id))}`);
    }
    assert.match(checks.get('temporal')?.detail ?? '', new RegExp(`^namespace ${temporal.namespace} with Dialtone's 6 search attributes; task queue dialtone-provisioning: `));
    assert.match(checks.get('roles.teams')?.detail ?? '', /Teams Telephony Administrator/);
    assert.match(checks.get('licenses')?.detail ?? '', /capabilityStatus Enabled, 25 of 25 free/);
    assert.match(checks.get('numbers')?.detail ?? '', /free service numbers: .*US \d+/);
    assert.match(checks.get('domains')?.detail ?? '', /UPNs may use .*\(default\)/);
    assert.match(checks.get('partner-center')?.detail ?? '', /^skipped: not configured/);
    for (const check of report.checks) {
      assert.ok(check.status !== 'skip' || /^skipped: /.test(check.detail), `${check.id} is skipped without a reason`);
    }
    assert.ok(!run.stdout.includes(HEALTHY.clientSecret));
  });

  test('the checklist a person reads: one line a check with ✓/✗/!/–, then a summary', async () => {
    const run = await doctor(against(sim, HEALTHY));
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^✓ Configuration: simulator tenant /m);
    assert.match(run.stdout, /^✓ Token for Microsoft Graph: issued, valid until /m);
    assert.match(run.stdout, /^– Partner Center access: skipped: not configured \(DIALTONE_LICENSE_PROCUREMENT is manual\)$/m);
    assert.match(run.stdout, /^All checks passed \(0 warnings\)\.$/m);
  });

  test('an app without TeamsTelephoneNumber.ReadWrite.All: ✗ naming it, with the portal path, exit 1', async () => {
    const run = await doctor(against(sim, NO_NUMBERS_PERMISSION));
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const permissions = section(run.stdout, 'Graph application permissions');
    assert.match(permissions, /^✗ Graph application permissions: missing TeamsTelephoneNumber\.ReadWrite\.All, needed to read the number inventory/);
    assert.ok(permissions.includes(
      '    fix: Microsoft Entra admin center > Identity > Applications > App registrations > <this app> > API permissions > Add a permission > ' +
        'Microsoft Graph > Application permissions > TeamsTelephoneNumber.ReadWrite.All, then Grant admin consent',
    ), permissions);
    // The inventory read is refused too, and says so.
    const numbers = section(run.stdout, 'Service numbers');
    assert.match(numbers, /^✗ Service numbers: Permission denied .*TeamsTelephoneNumber/);
    assert.match(numbers, /\n {4}fix: .* > Application permissions > TeamsTelephoneNumber\.ReadWrite\.All, then Grant admin consent$/);
    assert.match(run.stdout, /^2 checks failed/m);
  });

  test('an app without User Administrator: ✗ with the role assignment (portal and PowerShell), exit 1', async () => {
    const run = await doctor(against(sim, NO_USER_ADMIN));
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(section(run.stdout, 'Teams admin role'), /^✓ Teams admin role: the app's service principal holds Teams Administrator$/);
    const role = section(run.stdout, 'User Administrator role');
    assert.match(role, /^✗ User Administrator role: the app's service principal holds Teams Administrator; creating resource accounts .* needs User Administrator$/m);
    assert.match(role, new RegExp(
      '    fix: Microsoft Entra admin center > Identity > Roles & admins > Roles & admins > User Administrator > Add assignments > select this app; ' +
        'or with Microsoft Graph PowerShell: New-MgRoleManagementDirectoryRoleAssignment -PrincipalId [0-9a-f-]{36} ' +
        '-RoleDefinitionId fe930be7-5e62-47db-91af-98c3a49a38b1 -DirectoryScopeId "/"',
    ));
    // No Domain.Read.All: a warning that names the permission, not a failure.
    const domains = section(run.stdout, 'Verified domains');
    assert.match(domains, /^! Verified domains: the app may not read \/domains \(needs Domain\.Read\.All.*\/organization lists verified: contoso/);
    assert.match(run.stdout, /^1 check failed, 1 warning\.$/m);
  });

  test('an app with no directory role: the Teams role check and the adapter fail, each with the assignment to make', async () => {
    const run = await doctor(against(sim, NO_ROLES));
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const role = section(run.stdout, 'Teams admin role');
    assert.match(role, /^✗ Teams admin role: the app's service principal holds no directory role; managing resource accounts in Teams needs Teams Administrator or Teams Communications Administrator or Teams Telephony Administrator$/m);
    assert.match(role, /\n {4}fix: Microsoft Entra admin center > Identity > Roles & admins > Roles & admins > Teams Telephony Administrator > Add assignments > select this app; /);
    assert.match(section(run.stdout, 'User Administrator role'), /^✗ /);
    const adapter = section(run.stdout, 'Teams admin adapter');
    assert.match(adapter, /^✗ Teams admin adapter: powershell: /);
    assert.match(adapter, /\n {4}fix: Microsoft Entra admin center > Identity > Roles & admins > Roles & admins > Teams Telephony Administrator > Add assignments/);
    assert.match(run.stdout, /^3 checks failed, 0 warnings\.$/m);
  });

  test('a wrong client secret: the token checks fail with AADSTS7000215, the fix, and no secret anywhere', async () => {
    const run = await doctor({ ...against(sim, HEALTHY), AZURE_CLIENT_SECRET: WRONG_SECRET });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const graphToken = section(run.stdout, 'Token for Microsoft Graph');
    assert.match(graphToken, /^✗ Token for Microsoft Graph: AADSTS7000215 \(invalid client secret\): Invalid client secret provided\./);
    assert.ok(graphToken.includes(
      '    fix: Microsoft Entra admin center > Identity > Applications > App registrations > <this app> > Certificates & secrets > Client secrets > ' +
        'New client secret, then set AZURE_CLIENT_SECRET to its Value (not its Secret ID)',
    ), graphToken);
    assert.match(run.stdout, /^✗ Token for the Teams admin API \(48ac35b8-9aa8-4d74-927d-1f4a14a0b239\): AADSTS7000215/m);
    assert.match(run.stdout, /^– Graph application permissions: skipped: no Graph token$/m);
    assert.match(run.stdout, /^– User Administrator role: skipped: no Teams admin token$/m);
    assert.ok(!run.stdout.includes(WRONG_SECRET) && !run.stderr.includes(WRONG_SECRET), 'the secret is printed');
  });

  test('a tenant without the PHONESYSTEM_VIRTUALUSER subscription: ✗ with where to buy it, exit 1', async () => {
    const run = await doctor(against(noSku, HEALTHY));
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const license = section(run.stdout, 'License PHONESYSTEM_VIRTUALUSER');
    assert.match(license, /^✗ License PHONESYSTEM_VIRTUALUSER: the tenant has no PHONESYSTEM_VIRTUALUSER subscription$/m);
    assert.ok(license.includes(
      '    fix: Microsoft 365 admin center > Billing > Purchase services > Add-ons > "Microsoft Teams Phone Resource Account" (free, but it must be bought)',
    ), license);
    assert.match(run.stdout, /^1 check failed/m);
  });

  test('a suspended subscription fails; a full one only warns (runs wait for licenses), exit 0', async () => {
    const setLicenses = async (body: object): Promise<void> => {
      const response = await fetch(`${sim.url}/_simulator/licenses/PHONESYSTEM_VIRTUALUSER`, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, await response.text());
    };
    try {
      await setLicenses({ capabilityStatus: 'Suspended' });
      const suspended = await doctor(against(sim, HEALTHY));
      assert.equal(suspended.code, 1, suspended.stdout + suspended.stderr);
      const license = section(suspended.stdout, 'License PHONESYSTEM_VIRTUALUSER');
      assert.match(license, /^✗ License PHONESYSTEM_VIRTUALUSER: capabilityStatus Suspended, /);
      assert.match(license, /\n {4}fix: Microsoft 365 admin center > Billing > Your products: reactivate the subscription, or /);

      await setLicenses({ capabilityStatus: 'Enabled', units: 0 });
      const full = await doctor(against(sim, HEALTHY));
      assert.equal(full.code, 0, full.stdout + full.stderr);
      assert.match(full.stdout, /^! License PHONESYSTEM_VIRTUALUSER: capabilityStatus Enabled, 0 of 0 free \(0 assigned\); runs will wait for licenses$/m);
      assert.match(full.stdout, /^All checks passed \(1 warning\)\.$/m);
    } finally {
      await setLicenses({ capabilityStatus: 'Enabled', units: 25 });
    }
  });

  test("Partner Center, when licenses are bought through it: the partner tenant's app gets a token, reads the customer and resolves the offer, or ✗ with the fix", async () => {
    const pcControl = (path: string, method: string, body?: unknown) => fetch(`${sim.url}/_simulator/partner-center${path}`, {
      method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const partnerCenter = { ...against(sim, HEALTHY), DIALTONE_LICENSE_PROCUREMENT: 'partner-center' };
    try {
      // Simulator mode, no Partner Center variable: the simulated partner's app from the partner's tenant.
      const reached = await doctor(partnerCenter);
      assert.equal(reached.code, 0, reached.stdout + reached.stderr);
      assert.match(reached.stdout, new RegExp(`^✓ Partner Center access: app ${LOCAL_PARTNER_CLIENT_ID} of partner tenant ${LOCAL_PARTNER_TENANT_ID}: ` +
        'customer 8d3f1a52-6c1e-4b7a-9f0e-2d1c5b7a9e10: \\d+ subscriptions readable; offer CFQ7TTC0SIM1:0002 "Teams Phone Resource Account" \\(commercial, P1M, billed monthly\\), ' +
        'availability CFQ7TTC0SIM1:0002:CFQ7TTC0[0-9A-F]{4}; no subscription of it yet', 'm'));

      // The old behaviour: Partner Center asked with the customer tenant's app.
      const customerToken = await doctor({
        ...partnerCenter, DIALTONE_PARTNER_CENTER_TENANT_ID: LOCAL_TENANT_ID, DIALTONE_PARTNER_CENTER_CLIENT_ID: HEALTHY.clientId, DIALTONE_PARTNER_CENTER_CLIENT_SECRET: HEALTHY.clientSecret,
      });
      assert.equal(customerToken.code, 1, customerToken.stdout + customerToken.stderr);
      const refused = section(customerToken.stdout, 'Partner Center access');
      assert.match(refused, /^✗ Partner Center access: Partner Center answered GET \/v1\/customers\/[0-9a-f-]{36}\/subscriptions with 401.*; the token came from the customer's tenant 8d3f1a52-/);
      assert.match(refused, /\n {4}fix: Partner Center > Account settings > App management: register the app \(its App ID is DIALTONE_PARTNER_CENTER_CLIENT_ID\); DIALTONE_PARTNER_CENTER_TENANT_ID must be the partner's own tenant id/);

      const wrongSecret = 'wrong-partner-secret-0a9e';
      const badSecret = await doctor({ ...partnerCenter, DIALTONE_PARTNER_CENTER_CLIENT_SECRET: wrongSecret });
      assert.equal(badSecret.code, 1);
      const token = section(badSecret.stdout, 'Partner Center access');
      assert.match(token, new RegExp(`^✗ Partner Center access: token for app ${LOCAL_PARTNER_CLIENT_ID} of partner tenant ${LOCAL_PARTNER_TENANT_ID}: AADSTS7000215 \\(invalid client secret\\)`));
      assert.match(token, /\n {4}fix: Microsoft Entra admin center of the partner's tenant > .* > Client secrets > New client secret, then set DIALTONE_PARTNER_CENTER_CLIENT_SECRET to its Value/);
      assert.ok(!badSecret.stdout.includes(wrongSecret) && !badSecret.stderr.includes(wrongSecret), 'the secret is printed');

      assert.equal((await pcControl(`/apps/${LOCAL_PARTNER_CLIENT_ID}`, 'PUT', { registered: false })).status, 200);
      const unregistered = await doctor(partnerCenter);
      assert.equal(unregistered.code, 1);
      assert.match(section(unregistered.stdout, 'Partner Center access'), /with 401 \(code 400\): Access denied: the application .* is not registered in the partner's Partner Center account.*\n {4}fix: Partner Center > Account settings > App management: register the app/s);
      assert.equal((await pcControl(`/apps/${LOCAL_PARTNER_CLIENT_ID}`, 'PUT', { registered: true })).status, 200);

      const otherCustomer = await doctor({ ...partnerCenter, DIALTONE_PARTNER_CENTER_CUSTOMER_ID: '00000000-0000-4000-8000-0000000000cc' });
      assert.equal(otherCustomer.code, 1, otherCustomer.stdout + otherCustomer.stderr);
      const access = section(otherCustomer.stdout, 'Partner Center access');
      assert.match(access, /^✗ Partner Center access: Partner Center answered GET \/v1\/customers\/00000000-0000-4000-8000-0000000000cc\/subscriptions with 403 \(code 20002\)/);
      assert.match(access, /\n {4}fix: set DIALTONE_PARTNER_CENTER_CUSTOMER_ID to the id of a customer of this partner/);

      // An offer that cannot be chosen fails the doctor, with the setting that chooses.
      assert.equal((await pcControl('/catalog/products/CFQ7TTC0SIM1/skus/0009', 'PUT', { title: 'Teams Phone Resource Account (CSP)' })).status, 200);
      const ambiguous = await doctor(partnerCenter);
      assert.equal(ambiguous.code, 1);
      const offer = section(ambiguous.stdout, 'Partner Center access');
      assert.match(offer, /^✗ Partner Center access: Product CFQ7TTC0SIM1 .* has 2 SKUs that could be bought .*: 0002 "Teams Phone Resource Account", 0009 "Teams Phone Resource Account \(CSP\)"/);
      assert.match(offer, /\n {4}fix: Set DIALTONE_PARTNER_CENTER_SKU_ID to the one to buy\.$/);
      const chosen = await doctor({ ...partnerCenter, DIALTONE_PARTNER_CENTER_SKU_ID: '0009' });
      assert.equal(chosen.code, 0, chosen.stdout);
      assert.match(chosen.stdout, /^✓ Partner Center access: .*offer CFQ7TTC0SIM1:0009 "Teams Phone Resource Account \(CSP\)"/m);
    } finally {
      await pcControl('/reset', 'POST');
    }

    const badSetting = await doctor({ ...partnerCenter, DIALTONE_PARTNER_CENTER_COUNTRY: 'USA' });
    assert.equal(badSetting.code, 1);
    // A bad Partner Center setting stops the worker at boot, so it is a configuration failure like any other.
    assert.match(badSetting.stdout, /^✗ Configuration: DIALTONE_PARTNER_CENTER_COUNTRY="USA" must be a two-letter country code/m);
    assert.match(badSetting.stdout, /^– Partner Center access: skipped: the configuration is invalid/m);
  });

  test('a certificate that cannot be read: the token checks fail naming AZURE_CLIENT_CERTIFICATE_PATH, no password printed', async () => {
    const password = 'cert-password-3b9f17';
    const run = await doctor({
      DIALTONE_TENANT_MODE: 'microsoft',
      AZURE_TENANT_ID: '8d3f1a52-6c1e-4b7a-9f0e-2d1c5b7a9e10',
      AZURE_CLIENT_ID: HEALTHY.clientId,
      AZURE_CLIENT_CERTIFICATE_PATH: path.join(REPO_ROOT, '.data', 'no-such-certificate.pem'),
      AZURE_CLIENT_CERTIFICATE_PASSWORD: password,
      AZURE_AUTHORITY_HOST: sim.url,
      GRAPH_BASE_URL: sim.url,
      TEAMS_ADMIN_BASE_URL: sim.url,
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^✓ Configuration: microsoft tenant .*credential: certificate$/m);
    const token = section(run.stdout, 'Token for Microsoft Graph');
    assert.match(token, /^✗ Token for Microsoft Graph: /);
    assert.match(token, /\n {4}fix: AZURE_CLIENT_CERTIFICATE_PATH \(.*no-such-certificate\.pem\) must be a readable PEM file holding the private key and the certificate/);
    assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), 'the certificate password is printed');
  });

  test('a configuration problem is the first failed check, naming the variable; nothing is called', async () => {
    const run = await doctor({ DIALTONE_TENANT_MODE: 'microsoft', AZURE_TENANT_ID: '00000000-0000-4000-8000-00000000000a' });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^✗ Configuration: AZURE_CLIENT_ID is not set: set it to the application \(client\) id of the app registration/);
    assert.match(run.stdout, /^– Token for Microsoft Graph: skipped: the configuration is invalid$/m);
  });

  test('Temporal as the worker would reach it: no server, no namespace, or no search attributes are each ✗ with the fix', async () => {
    const closed = await freeLoopbackPort();
    const down = await doctor({ ...against(sim, HEALTHY), TEMPORAL_ADDRESS: `127.0.0.1:${closed}` });
    assert.equal(down.code, 1, down.stdout + down.stderr);
    assert.match(section(down.stdout, `Temporal 127.0.0.1:${closed}`), /^✗ Temporal 127\.0\.0\.1:\d+: no connection: .+\n {4}fix: check TEMPORAL_ADDRESS \(or the profile's address\), TLS and the API key/);
    assert.match(down.stdout, /^✓ Token for Microsoft Graph: /m, 'the tenant checks still run');

    const env = { ...cleanEnv(), ...against(sim, HEALTHY), TEMPORAL_NAMESPACE: 'no-such-namespace' } as Record<string, string>;
    const absent = byId(await runDoctor({ env })).get('temporal');
    assert.equal(absent?.status, 'fail');
    assert.match(absent?.detail ?? '', /^namespace no-such-namespace does not exist/);
    assert.match(absent?.fix ?? '', /temporal operator namespace create --namespace no-such-namespace/);

    // A namespace made by hand, without Dialtone's search attributes: every run's first upsert would fail.
    const bare = `dialtone-doctor-${Date.now()}`;
    await temporal.client.connection.workflowService.registerNamespace({ namespace: bare, workflowExecutionRetentionPeriod: msToTs('1 day') });
    let lacking: CheckResult | undefined;
    for (let i = 0; i < 50 && lacking?.status !== 'fail'; i++) {
      // A new namespace can take the server a moment to serve.
      lacking = byId(await runDoctor({ env: { ...env, TEMPORAL_NAMESPACE: bare } })).get('temporal');
      if (lacking?.status !== 'fail' || /does not exist/.test(lacking.detail)) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(lacking?.detail ?? '', new RegExp(`^namespace ${bare} lacks the search attributes DialtoneState, .*; every run would fail at its first step`));
    assert.match(lacking?.fix ?? '', new RegExp(`^temporal operator search-attribute create --namespace ${bare} --name DialtoneState --type Keyword`));
  });

  test('run from another terminal, without NODE_EXTRA_CA_CERTS: it trusts the simulator\'s CA by itself and passes', async () => {
    const env = { ...against(sim, HEALTHY) };
    const run = await new Promise<Run>((resolve) => {
      const bare = Object.fromEntries(Object.entries({ ...cleanEnv(), ...env }).filter(([name]) => name !== 'NODE_EXTRA_CA_CERTS'));
      execFile(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cli/dialtone.ts'), 'doctor', '--json'], { cwd: REPO_ROOT, env: bare },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const checks = byId((JSON.parse(run.stdout) as { checks: CheckResult[] }).checks);
    for (const id of ['config', 'reach', 'token.graph', 'token.teams', 'teams-admin']) assert.equal(checks.get(id)?.status, 'pass', `${id}: ${JSON.stringify(checks.get(id))}`);
  });

  test('a CA that is not the simulator\'s: the failure is named as an untrusted certificate, with its fix, and nothing else is tried', async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'dialtone-other-ca-'));
    try {
      const { caPath } = await ensureSimulatorTls(other);
      const run = await doctor({ ...against(sim, HEALTHY), NODE_EXTRA_CA_CERTS: caPath }, '--json');
      assert.equal(run.code, 1, run.stdout + run.stderr);
      const checks = byId((JSON.parse(run.stdout) as { checks: CheckResult[] }).checks);
      const reach = checks.get('reach');
      assert.equal(reach?.status, 'fail');
      assert.match(reach?.detail ?? '', /^this machine does not trust the TLS certificate of localhost:\d+ \((CERT_SIGNATURE_FAILURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
      assert.match(reach?.fix ?? '', /^trust the simulator's CA: NODE_EXTRA_CA_CERTS=.*simulator-tls\/ca\.pem/);
      assert.match(checks.get('token.graph')?.detail ?? '', /^skipped: the services are not reachable over trusted TLS/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('a bad --timeout is a usage error', async () => {
    const run = await doctor(against(sim, HEALTHY), '--timeout', 'soon');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--timeout "soon" must be a number of seconds/);
  });

  test('the Teams admin adapter check: its probe passes, or it fails with what to install', async () => {
    const env = { ...cleanEnv(), ...against(sim, HEALTHY) } as Record<string, string>;
    const adapter = (probe: () => Promise<{ detail: string }>): TeamsAdmin => ({
      adapter: 'powershell',
      probe,
      close: async () => undefined,
    } as unknown as TeamsAdmin);
    const reached = byId(await runDoctor({ env, teamsAdmin: () => adapter(async () => ({ detail: 'connected, 0 application instances read' })) }));
    assert.deepEqual(reached.get('teams-admin'), {
      id: 'teams-admin', title: 'Teams admin adapter', status: 'pass', detail: 'powershell: connected, 0 application instances read',
    });
    const missing = byId(await runDoctor({
      env,
      teamsAdmin: () => adapter(async () => {
        throw new TeamsAdminError('notInstalled', 'pwsh was not found on the PATH');
      }),
    }));
    assert.equal(missing.get('teams-admin')?.status, 'fail');
    assert.equal(missing.get('teams-admin')?.detail, 'powershell: pwsh was not found on the PATH');
    assert.match(missing.get('teams-admin')?.fix ?? '', /^install PowerShell 7 and the pinned MicrosoftTeams module/);

    // A check that does not answer in time fails on its own, and the run goes on to the next one.
    const hung = byId(await runDoctor({ env, timeoutMs: 300, teamsAdmin: () => adapter(() => new Promise(() => undefined)) }));
    assert.equal(hung.get('teams-admin')?.status, 'fail');
    assert.equal(hung.get('teams-admin')?.detail, 'no answer within 300 ms');
    assert.match(hung.get('teams-admin')?.fix ?? '', /^check that this machine reaches localhost:\d+, or raise --timeout$/);
    assert.equal(hung.get('partner-center')?.status, 'skip');
  });

  test('User.DeleteRestore.All: a warning while the worker stops at deleted accounts, a failure when it restores or purges', async () => {
    const setRoles = async (graphRoles: readonly string[]): Promise<void> => {
      const response = await fetch(`${sim.url}/_simulator/apps/${NO_ROLES.clientId}`, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ graphRoles }),
      });
      assert.equal(response.status, 200, await response.text());
    };
    const env = { ...cleanEnv(), ...against(sim, NO_ROLES) } as Record<string, string>;
    try {
      await setRoles(NO_ROLES.graphRoles.filter((role) => role !== 'User.DeleteRestore.All'));
      const stop = byId(await runDoctor({ env })).get('graph.permissions');
      assert.equal(stop?.status, 'warn');
      assert.match(stop?.detail ?? '', /Without User\.DeleteRestore\.All a run cannot restore or permanently delete a deleted account/);
      assert.match(stop?.fix ?? '', /> Application permissions > User\.DeleteRestore\.All, then Grant admin consent$/);

      const purge = byId(await runDoctor({ env: { ...env, DIALTONE_ON_DELETED_ACCOUNT: 'purge' } })).get('graph.permissions');
      assert.equal(purge?.status, 'fail');
      assert.match(purge?.detail ?? '', /^missing User\.DeleteRestore\.All, needed to restore or permanently delete/);
    } finally {
      await setRoles(NO_ROLES.graphRoles);
    }
  });

  test('the doctor only reads: the simulator saw GETs and token requests, nothing else', async () => {
    const response = await fetch(`${sim.url}/_simulator/requests`);
    const summary = (await response.json()) as { routes: Array<{ method: string; route: string; count: number }> };
    const graphOrTeams = summary.routes.filter((r) => !r.route.startsWith('/_simulator'));
    // Every service the doctor reaches is in the log: Graph, the Teams admin service (through the adapter), Partner Center.
    for (const route of ['/v1.0/subscribedSkus', '/v1.0/domains', '/Teams.PlatformService/v2/ApplicationInstances/lookup', '/v1/customers/:customerId/subscriptions',
      '/v1/products', '/v1/products/:productId/skus/:skuId/availabilities']) {
      assert.ok(graphOrTeams.some((r) => r.route === route), `the doctor runs above did not read ${route}`);
    }
    const writes = graphOrTeams.filter((r) => r.method !== 'GET' && !(r.method === 'POST' && r.route === '/:tenant/oauth2/v2.0/token'));
    assert.deepEqual(writes, []);
  });
});
