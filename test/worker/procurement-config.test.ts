/** The worker's license-procurement settings: defaults, the Partner Center app of the partner's tenant, the offer, and refusals that name the variable. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EnvReader } from '../../lib/config';
import { LOCAL_PARTNER_CLIENT_ID, LOCAL_PARTNER_CLIENT_SECRET, LOCAL_PARTNER_TENANT_ID } from '../../lib/local-defaults';
import { describeProcurementConfig, readProcurementConfig } from '../../worker/procurement-config';

const TENANT = { mode: 'microsoft' as const, tenantId: '11111111-2222-3333-4444-555555555555', graphBaseUrl: 'https://graph.microsoft.com', authorityHost: 'https://login.microsoftonline.com' };
const PARTNER = {
  DIALTONE_LICENSE_PROCUREMENT: 'partner-center',
  DIALTONE_PARTNER_CENTER_TENANT_ID: '99999999-8888-4777-a666-555555555555',
  DIALTONE_PARTNER_CENTER_CLIENT_ID: '12345678-1234-4234-8234-123456789abc',
  DIALTONE_PARTNER_CENTER_CLIENT_SECRET: 'partner-secret-value-7c1e',
};

function read(env: Record<string, string>, tenant: Parameters<typeof readProcurementConfig>[1] = TENANT) {
  const r = new EnvReader(env);
  return { settings: readProcurementConfig(r, tenant), problems: r.problems };
}

describe('license procurement config', () => {
  test('manual by default', () => {
    assert.deepEqual(read({}), { settings: { kind: 'manual' }, problems: [] });
  });

  test("partner-center: Microsoft by default, the partner's own app and tenant, the customer is the tenant, commercial P1M monthly, ceilings 50 and 100", () => {
    const { settings, problems } = read(PARTNER);
    assert.deepEqual(problems, []);
    assert.deepEqual(settings, {
      kind: 'partner-center', baseUrl: 'https://api.partnercenter.microsoft.com',
      app: {
        tenantId: PARTNER.DIALTONE_PARTNER_CENTER_TENANT_ID, clientId: PARTNER.DIALTONE_PARTNER_CENTER_CLIENT_ID, authorityHost: 'https://login.microsoftonline.com',
        credential: { kind: 'secret', secret: PARTNER.DIALTONE_PARTNER_CENTER_CLIENT_SECRET },
      },
      customerId: TENANT.tenantId, country: 'US', productTitle: 'Microsoft Teams Phone Resource Account', segment: 'commercial',
      termDuration: 'P1M', billingCycle: 'monthly', ceilings: { perBatch: 50, perDay: 100 },
    });
  });

  test('microsoft mode: the partner tenant, its app and exactly one credential are required, each refusal naming the variable and the fix', () => {
    const missing = read({ DIALTONE_LICENSE_PROCUREMENT: 'partner-center' }).problems.join('\n');
    assert.match(missing, /DIALTONE_PARTNER_CENTER_TENANT_ID is not set: set it to the partner's own tenant id/);
    assert.match(missing, /DIALTONE_PARTNER_CENTER_CLIENT_ID is not set: set it to the App ID of the app registered in Partner Center > Account settings > App management/);
    assert.match(missing, /no credential for the Partner Center app: set exactly one of DIALTONE_PARTNER_CENTER_CLIENT_SECRET \(or DIALTONE_PARTNER_CENTER_CLIENT_SECRET_FILE\) or DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH/);

    const both = read({ ...PARTNER, DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH: '/etc/dialtone/pc.pem' }).problems;
    assert.equal(both.length, 1, both.join('\n'));
    assert.match(both[0] ?? '', /DIALTONE_PARTNER_CENTER_CLIENT_SECRET and DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH are both set: choose exactly one/);

    const { DIALTONE_PARTNER_CENTER_CLIENT_SECRET: _secret, ...noSecret } = PARTNER;
    const certificate = read({ ...noSecret, DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH: '/etc/dialtone/pc.pem', DIALTONE_PARTNER_CENTER_CERTIFICATE_PASSWORD: 'pem-pass' });
    assert.deepEqual(certificate.problems, []);
    assert.deepEqual(certificate.settings.kind === 'partner-center' && certificate.settings.app.credential,
      { kind: 'certificate', certificatePath: '/etc/dialtone/pc.pem', certificatePassword: 'pem-pass' });
    assert.match(read({ ...PARTNER, DIALTONE_PARTNER_CENTER_CERTIFICATE_PASSWORD: 'x' }).problems.join('\n'),
      /DIALTONE_PARTNER_CENTER_CERTIFICATE_PASSWORD is set without DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH/);
    assert.match(read({ ...PARTNER, DIALTONE_PARTNER_CENTER_TENANT_ID: 'fabrikam.onmicrosoft.com' }).problems.join('\n'),
      /DIALTONE_PARTNER_CENTER_TENANT_ID="fabrikam.onmicrosoft.com" must be the partner tenant's GUID/);
  });

  test("simulator mode: the simulator's Partner Center and its simulated partner app, with no variable set; a variable still wins", () => {
    const tenant = { ...TENANT, mode: 'simulator' as const, graphBaseUrl: 'https://localhost:8443', authorityHost: 'https://localhost:8443' };
    const { settings, problems } = read({ DIALTONE_LICENSE_PROCUREMENT: 'partner-center' }, tenant);
    assert.deepEqual(problems, []);
    assert.ok(settings.kind === 'partner-center');
    assert.equal(settings.baseUrl, 'https://localhost:8443');
    assert.deepEqual(settings.app, {
      tenantId: LOCAL_PARTNER_TENANT_ID, clientId: LOCAL_PARTNER_CLIENT_ID, authorityHost: 'https://localhost:8443', credential: { kind: 'secret', secret: LOCAL_PARTNER_CLIENT_SECRET },
    });
    const wrong = read({ DIALTONE_LICENSE_PROCUREMENT: 'partner-center', DIALTONE_PARTNER_CENTER_CLIENT_SECRET: 'not-it' }, tenant).settings;
    assert.deepEqual(wrong.kind === 'partner-center' && wrong.app.credential, { kind: 'secret', secret: 'not-it' });
  });

  test('the offer: product id, SKU id and segment are read and checked', () => {
    const { settings, problems } = read({ ...PARTNER, DIALTONE_PARTNER_CENTER_PRODUCT_ID: 'CFQ7TTC0LH18', DIALTONE_PARTNER_CENTER_SKU_ID: '0002', DIALTONE_PARTNER_CENTER_SEGMENT: 'nonprofit' });
    assert.deepEqual(problems, []);
    assert.ok(settings.kind === 'partner-center');
    assert.deepEqual([settings.productId, settings.skuId, settings.segment], ['CFQ7TTC0LH18', '0002', 'nonprofit']);
    const bad = read({ ...PARTNER, DIALTONE_PARTNER_CENTER_PRODUCT_ID: 'CFQ7/../x', DIALTONE_PARTNER_CENTER_SKU_ID: '0 1', DIALTONE_PARTNER_CENTER_SEGMENT: 'charity' }).problems.join('\n');
    assert.match(bad, /DIALTONE_PARTNER_CENTER_PRODUCT_ID="CFQ7\/\.\.\/x" must be a product id as the catalog lists it/);
    assert.match(bad, /DIALTONE_PARTNER_CENTER_SKU_ID="0 1" must be a SKU id/);
    assert.match(bad, /DIALTONE_PARTNER_CENTER_SEGMENT="charity" must be one of commercial, education, government, nonprofit/);
  });

  test('the logged settings show the Partner Center credential by kind only', () => {
    const logged = JSON.stringify(describeProcurementConfig(read(PARTNER).settings));
    assert.ok(!logged.includes(PARTNER.DIALTONE_PARTNER_CENTER_CLIENT_SECRET), logged);
    assert.match(logged, /"credential":"secret"/);
  });

  test('bad values are refused, each naming its variable and the fix', () => {
    const { problems } = read({
      ...PARTNER,
      DIALTONE_PARTNER_CENTER_CUSTOMER_ID: 'contoso',
      DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH: '500',
      DIALTONE_PURCHASE_MAX_UNITS_PER_DAY: '100',
      DIALTONE_PARTNER_CENTER_TERM: 'P2Y',
    });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /DIALTONE_PARTNER_CENTER_CUSTOMER_ID="contoso" is not a GUID/);
    assert.match(problems.join('\n'), /DIALTONE_PARTNER_CENTER_TERM="P2Y" must be one of P1M, P1Y, P3Y/);
    assert.match(problems.join('\n'), /DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH=500 is above DIALTONE_PURCHASE_MAX_UNITS_PER_DAY=100/);
    assert.match(read({ DIALTONE_LICENSE_PROCUREMENT: 'buy' }).problems[0] ?? '', /DIALTONE_LICENSE_PROCUREMENT="buy" must be one of manual, partner-center/);
  });
});
