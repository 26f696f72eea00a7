/**
 * License procurement settings of the worker, validated at boot with every other variable:
 * - DIALTONE_LICENSE_PROCUREMENT: manual (default) | partner-center (CSP partners only)
 * - DIALTONE_PARTNER_CENTER_BASE_URL: default https://api.partnercenter.microsoft.com; the simulator's URL in simulator mode
 * - the Partner Center app, which lives in the partner's own tenant, not the customer's:
 *   DIALTONE_PARTNER_CENTER_TENANT_ID (the partner's tenant id), DIALTONE_PARTNER_CENTER_CLIENT_ID (the app
 *   registered in Partner Center > Account settings > App management), and exactly one credential:
 *   DIALTONE_PARTNER_CENTER_CLIENT_SECRET (or _FILE) or DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH
 *   (+ DIALTONE_PARTNER_CENTER_CERTIFICATE_PASSWORD). Required in microsoft mode; in simulator mode the
 *   simulated partner's app by default.
 * - DIALTONE_PARTNER_CENTER_CUSTOMER_ID: the customer's tenant id in Partner Center; default the tenant id
 * - the offer: DIALTONE_PARTNER_CENTER_COUNTRY (US), DIALTONE_PARTNER_CENTER_PRODUCT_TITLE ("Microsoft Teams
 *   Phone Resource Account") or DIALTONE_PARTNER_CENTER_PRODUCT_ID, DIALTONE_PARTNER_CENTER_SKU_ID,
 *   DIALTONE_PARTNER_CENTER_SEGMENT (commercial), DIALTONE_PARTNER_CENTER_TERM (P1M),
 *   DIALTONE_PARTNER_CENTER_BILLING_CYCLE (monthly)
 * - DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH (default 50), DIALTONE_PURCHASE_MAX_UNITS_PER_DAY (default 100): ceilings
 */
import type { PartnerCenterApp, ProcurementSettings } from '../activities/licensing/activities';
import { PROCUREMENT_KINDS } from '../activities/licensing/procurement';
import type { EnvReader, TenantMode } from '../lib/config';
import { LOCAL_PARTNER_CLIENT_ID, LOCAL_PARTNER_CLIENT_SECRET, LOCAL_PARTNER_TENANT_ID } from '../lib/local-defaults';

export const PARTNER_CENTER_URL = 'https://api.partnercenter.microsoft.com';
export const DEFAULT_PURCHASE_CEILINGS = { perBatch: 50, perDay: 100 } as const;
export const PARTNER_CENTER_SEGMENTS = ['commercial', 'education', 'government', 'nonprofit'] as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The simulated partner's app (simulator mode's default), its token asked at the simulator's authority. */
export function simulatorPartnerCenterApp(authorityHost: string): PartnerCenterApp {
  return { tenantId: LOCAL_PARTNER_TENANT_ID, clientId: LOCAL_PARTNER_CLIENT_ID, authorityHost, credential: { kind: 'secret', secret: LOCAL_PARTNER_CLIENT_SECRET } };
}

/**
 * Reads the procurement settings. `tenant` is the worker's tenant config: in simulator mode Partner
 * Center is served by the simulator (its `graphBaseUrl`), and both tenants' tokens come from its authority.
 */
export function readProcurementConfig(r: EnvReader, tenant: { mode: TenantMode; tenantId: string; graphBaseUrl: string; authorityHost: string }): ProcurementSettings {
  const kind = r.oneOf('DIALTONE_LICENSE_PROCUREMENT', PROCUREMENT_KINDS, 'manual');
  if (kind === 'manual') return { kind };
  const customerId = r.string('DIALTONE_PARTNER_CENTER_CUSTOMER_ID', tenant.tenantId);
  if (!GUID.test(customerId)) {
    r.problems.push(`DIALTONE_PARTNER_CENTER_CUSTOMER_ID="${customerId}" is not a GUID: set it to the customer's tenant id (Partner Center > Customers > the customer > Account > Microsoft ID)`);
  }
  const country = r.string('DIALTONE_PARTNER_CENTER_COUNTRY', 'US').toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) r.problems.push(`DIALTONE_PARTNER_CENTER_COUNTRY="${country}" must be a two-letter country code, like US`);
  const termDuration = r.oneOf('DIALTONE_PARTNER_CENTER_TERM', ['P1M', 'P1Y', 'P3Y'] as const, 'P1M');
  const billingCycle = r.oneOf('DIALTONE_PARTNER_CENTER_BILLING_CYCLE', ['monthly', 'annual', 'triennial'] as const, 'monthly');
  const segment = r.oneOf('DIALTONE_PARTNER_CENTER_SEGMENT', PARTNER_CENTER_SEGMENTS, 'commercial');
  const productId = r.optional('DIALTONE_PARTNER_CENTER_PRODUCT_ID');
  if (productId !== undefined && !/^[A-Za-z0-9]{1,40}$/.test(productId)) {
    r.problems.push(`DIALTONE_PARTNER_CENTER_PRODUCT_ID="${productId.slice(0, 40)}" must be a product id as the catalog lists it, like CFQ7TTC0LH18`);
  }
  const skuId = r.optional('DIALTONE_PARTNER_CENTER_SKU_ID');
  if (skuId !== undefined && !/^[A-Za-z0-9]{1,16}$/.test(skuId)) {
    r.problems.push(`DIALTONE_PARTNER_CENTER_SKU_ID="${skuId.slice(0, 40)}" must be a SKU id as the catalog lists it, like 0001`);
  }
  const perBatch = r.int('DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH', DEFAULT_PURCHASE_CEILINGS.perBatch, 1, 100_000);
  const perDay = r.int('DIALTONE_PURCHASE_MAX_UNITS_PER_DAY', DEFAULT_PURCHASE_CEILINGS.perDay, 1, 100_000);
  if (perBatch > perDay) {
    r.problems.push(`DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH=${perBatch} is above DIALTONE_PURCHASE_MAX_UNITS_PER_DAY=${perDay}: lower it, or raise the daily ceiling`);
  }
  return {
    kind,
    baseUrl: r.url('DIALTONE_PARTNER_CENTER_BASE_URL', tenant.mode === 'simulator' ? tenant.graphBaseUrl : PARTNER_CENTER_URL),
    app: readPartnerCenterApp(r, tenant),
    customerId,
    country,
    productTitle: r.string('DIALTONE_PARTNER_CENTER_PRODUCT_TITLE', 'Microsoft Teams Phone Resource Account'),
    ...(productId !== undefined ? { productId } : {}),
    ...(skuId !== undefined ? { skuId } : {}),
    segment,
    termDuration,
    billingCycle,
    ceilings: { perBatch, perDay },
  };
}

/**
 * The Partner Center app: created in the partner's Partner Center account, so an app of the partner's
 * tenant (https://learn.microsoft.com/partner-center/developer/set-up-api-access-in-partner-center), whose
 * tokens come from that tenant's authority. The customer's app (AZURE_*) cannot stand in for it.
 */
function readPartnerCenterApp(r: EnvReader, tenant: { mode: TenantMode; authorityHost: string }): PartnerCenterApp {
  const simulated = tenant.mode === 'simulator';
  const tenantId = simulated
    ? r.string('DIALTONE_PARTNER_CENTER_TENANT_ID', LOCAL_PARTNER_TENANT_ID)
    : r.required('DIALTONE_PARTNER_CENTER_TENANT_ID',
      "set it to the partner's own tenant id (the CSP partner's Microsoft Entra tenant, where the app registered in Partner Center lives: Entra admin center of that tenant > Overview > Tenant ID)");
  if (tenantId && !GUID.test(tenantId)) {
    r.problems.push(`DIALTONE_PARTNER_CENTER_TENANT_ID="${tenantId.slice(0, 60)}" must be the partner tenant's GUID (Entra admin center of the partner tenant > Overview > Tenant ID)`);
  }
  const clientId = simulated
    ? r.string('DIALTONE_PARTNER_CENTER_CLIENT_ID', LOCAL_PARTNER_CLIENT_ID)
    : r.required('DIALTONE_PARTNER_CENTER_CLIENT_ID', 'set it to the App ID of the app registered in Partner Center > Account settings > App management');
  if (clientId && !GUID.test(clientId)) {
    r.problems.push(`DIALTONE_PARTNER_CENTER_CLIENT_ID="${clientId.slice(0, 60)}" must be a GUID: the App ID shown in Partner Center > Account settings > App management`);
  }
  const secret = r.secret('DIALTONE_PARTNER_CENTER_CLIENT_SECRET');
  const certificatePath = r.optional('DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH');
  const certificatePassword = r.secret('DIALTONE_PARTNER_CENTER_CERTIFICATE_PASSWORD');
  const choose = 'DIALTONE_PARTNER_CENTER_CLIENT_SECRET (or DIALTONE_PARTNER_CENTER_CLIENT_SECRET_FILE) or DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH ' +
    '(a PEM file with the private key and the certificate uploaded to that app)';
  if (secret !== undefined && certificatePath !== undefined) {
    r.problems.push(`DIALTONE_PARTNER_CENTER_CLIENT_SECRET and DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH are both set: choose exactly one credential for the Partner Center app, ${choose}`);
  } else if (secret === undefined && certificatePath === undefined && !simulated) {
    r.problems.push(`no credential for the Partner Center app: set exactly one of ${choose}`);
  }
  if (certificatePassword !== undefined && certificatePath === undefined) {
    r.problems.push('DIALTONE_PARTNER_CENTER_CERTIFICATE_PASSWORD is set without DIALTONE_PARTNER_CENTER_CERTIFICATE_PATH: set the certificate path too, or unset the password');
  }
  const credential: PartnerCenterApp['credential'] = certificatePath !== undefined && secret === undefined
    ? { kind: 'certificate', certificatePath, ...(certificatePassword !== undefined ? { certificatePassword } : {}) }
    : { kind: 'secret', secret: secret ?? (simulated ? LOCAL_PARTNER_CLIENT_SECRET : '') };
  return { tenantId, clientId, authorityHost: tenant.authorityHost, credential };
}

/** The settings as they may be logged: the Partner Center credential by its kind only. */
export function describeProcurementConfig(settings: ProcurementSettings): Record<string, unknown> {
  if (settings.kind === 'manual') return { kind: 'manual' };
  return { ...settings, app: { ...settings.app, credential: settings.app.credential.kind } };
}
