/** The worker's license-procurement settings: defaults, the simulator's Partner Center, and refusals that name the variable. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EnvReader } from '../../lib/config';
import { readProcurementConfig } from '../../worker/procurement-config';

const TENANT = { mode: 'microsoft' as const, tenantId: '11111111-2222-3333-4444-555555555555', graphBaseUrl: 'https://graph.microsoft.com' };

function read(env: Record<string, string>, tenant: Parameters<typeof readProcurementConfig>[1] = TENANT) {
  const r = new EnvReader(env);
  return { settings: readProcurementConfig(r, tenant), problems: r.problems };
}

describe('license procurement config', () => {
  test('manual by default', () => {
    assert.deepEqual(read({}), { settings: { kind: 'manual' }, problems: [] });
  });

  test('partner-center: Microsoft by default, the customer is the tenant, ceilings 50 per batch and 100 per day', () => {
    const { settings, problems } = read({ DIALTONE_LICENSE_PROCUREMENT: 'partner-center' });
    assert.deepEqual(problems, []);
    assert.deepEqual(settings, {
      kind: 'partner-center', baseUrl: 'https://api.partnercenter.microsoft.com', customerId: TENANT.tenantId, country: 'US',
      productTitle: 'Microsoft Teams Phone Resource Account', termDuration: 'P1M', billingCycle: 'monthly', ceilings: { perBatch: 50, perDay: 100 },
    });
  });

  test("in simulator mode Partner Center is the simulator's URL", () => {
    const { settings } = read({ DIALTONE_LICENSE_PROCUREMENT: 'partner-center' }, { ...TENANT, mode: 'simulator', graphBaseUrl: 'https://localhost:8443' });
    assert.equal(settings.kind === 'partner-center' && settings.baseUrl, 'https://localhost:8443');
  });

  test('bad values are refused, each naming its variable and the fix', () => {
    const { problems } = read({
      DIALTONE_LICENSE_PROCUREMENT: 'partner-center',
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
