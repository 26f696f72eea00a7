/**
 * License procurement settings of the worker, validated at boot with every other variable:
 * - DIALTONE_LICENSE_PROCUREMENT: manual (default) | partner-center (CSP partners only)
 * - DIALTONE_PARTNER_CENTER_BASE_URL: default https://api.partnercenter.microsoft.com; the simulator's URL in simulator mode
 * - DIALTONE_PARTNER_CENTER_CUSTOMER_ID: the customer's tenant id in Partner Center; default the tenant id
 * - DIALTONE_PARTNER_CENTER_COUNTRY (US), DIALTONE_PARTNER_CENTER_PRODUCT_TITLE ("Microsoft Teams Phone Resource Account"),
 *   DIALTONE_PARTNER_CENTER_TERM (P1M), DIALTONE_PARTNER_CENTER_BILLING_CYCLE (monthly): what a new subscription is
 * - DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH (default 50), DIALTONE_PURCHASE_MAX_UNITS_PER_DAY (default 100): ceilings
 */
import type { ProcurementSettings } from '../activities/licensing/activities';
import { PROCUREMENT_KINDS } from '../activities/licensing/procurement';
import type { EnvReader, TenantMode } from '../lib/config';

export const PARTNER_CENTER_URL = 'https://api.partnercenter.microsoft.com';
export const DEFAULT_PURCHASE_CEILINGS = { perBatch: 50, perDay: 100 } as const;

/**
 * Reads the procurement settings. `tenant` is the worker's tenant config: in simulator mode Partner
 * Center is served by the simulator (its `graphBaseUrl`).
 */
export function readProcurementConfig(r: EnvReader, tenant: { mode: TenantMode; tenantId: string; graphBaseUrl: string }): ProcurementSettings {
  const kind = r.oneOf('DIALTONE_LICENSE_PROCUREMENT', PROCUREMENT_KINDS, 'manual');
  if (kind === 'manual') return { kind };
  const customerId = r.string('DIALTONE_PARTNER_CENTER_CUSTOMER_ID', tenant.tenantId);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(customerId)) {
    r.problems.push(`DIALTONE_PARTNER_CENTER_CUSTOMER_ID="${customerId}" is not a GUID: set it to the customer's tenant id (Partner Center > Customers > the customer > Account > Microsoft ID)`);
  }
  const country = r.string('DIALTONE_PARTNER_CENTER_COUNTRY', 'US').toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) r.problems.push(`DIALTONE_PARTNER_CENTER_COUNTRY="${country}" must be a two-letter country code, like US`);
  const termDuration = r.oneOf('DIALTONE_PARTNER_CENTER_TERM', ['P1M', 'P1Y', 'P3Y'] as const, 'P1M');
  const billingCycle = r.oneOf('DIALTONE_PARTNER_CENTER_BILLING_CYCLE', ['monthly', 'annual', 'triennial'] as const, 'monthly');
  const perBatch = r.int('DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH', DEFAULT_PURCHASE_CEILINGS.perBatch, 1, 100_000);
  const perDay = r.int('DIALTONE_PURCHASE_MAX_UNITS_PER_DAY', DEFAULT_PURCHASE_CEILINGS.perDay, 1, 100_000);
  if (perBatch > perDay) {
    r.problems.push(`DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH=${perBatch} is above DIALTONE_PURCHASE_MAX_UNITS_PER_DAY=${perDay}: lower it, or raise the daily ceiling`);
  }
  return {
    kind,
    baseUrl: r.url('DIALTONE_PARTNER_CENTER_BASE_URL', tenant.mode === 'simulator' ? tenant.graphBaseUrl : PARTNER_CENTER_URL),
    customerId,
    country,
    productTitle: r.string('DIALTONE_PARTNER_CENTER_PRODUCT_TITLE', 'Microsoft Teams Phone Resource Account'),
    termDuration,
    billingCycle,
    ceilings: { perBatch, perDay },
  };
}
