/**
 * The simulated new-commerce catalog of Partner Center: several dozen products, each with its SKUs and
 * their availabilities, in the shapes of "Get a list of products", "Get a list of SKUs" and "Get a list
 * of availabilities" (https://learn.microsoft.com/partner-center/developer/get-a-list-of-products,
 * …/get-a-list-of-skus-for-a-product, …/get-a-list-of-availabilities-for-a-sku).
 *
 * What is known and what is made up:
 * - New-commerce products have `productType.id` `OnlineServicesNCE` and are listed under
 *   `targetView=OnlineServices` together with traditional license-based products (DOC). A traditional
 *   product of the same title is included, typed `OnlineServices` (its type id is a GUESS), so a client
 *   that does not look at the type picks the wrong one.
 * - A SKU is unique only within its product and has `isTrial` (DOC); segment lives on the availability,
 *   not on the SKU (DOC). The Teams Phone Resource Account product's SKUs are UNKNOWN: modelled as a trial,
 *   the commercial SKU (titled differently from the product), a government-only and an education-only
 *   SKU, so a client must choose by `isTrial`, segment and term, never by position or title.
 * - Product ids other than Microsoft 365 Business Basic's `CFQ7TTC0LH18` (a doc example) are made up in
 *   the shape of real ones; Microsoft's id of the resource-account product is not public.
 */
import { createHash } from 'node:crypto';

export const SEGMENTS = ['commercial', 'education', 'government', 'nonprofit'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** `productType.id` of new-commerce license-based products (DOC), and of traditional ones (GUESS). */
export const NCE_PRODUCT_TYPE = 'OnlineServicesNCE';
export const LEGACY_PRODUCT_TYPE = 'OnlineServices';
export type ProductTypeId = typeof NCE_PRODUCT_TYPE | typeof LEGACY_PRODUCT_TYPE;

export interface CatalogTerm {
  /** ISO 8601 duration: P1M, P1Y, P3Y. */
  duration: string;
  /** As the docs' examples write it: `Monthly`, `Annual`, `Triennial`. */
  billingCycle: string;
  description: string;
}

export interface CatalogAvailability {
  segment: Segment;
  isPurchasable: boolean;
  terms: CatalogTerm[];
}

export interface CatalogSku {
  id: string;
  title: string;
  description: string;
  isTrial: boolean;
  minimumQuantity: number;
  maximumQuantity: number;
  availabilities: CatalogAvailability[];
}

export interface CatalogProduct {
  id: string;
  title: string;
  description: string;
  productTypeId: ProductTypeId;
  skus: CatalogSku[];
}

/** The simulator's product of the Teams Phone Resource Account license and the SKU a commercial customer buys. */
export const RESOURCE_ACCOUNT_PRODUCT = {
  productId: 'CFQ7TTC0SIM1',
  title: 'Microsoft Teams Phone Resource Account',
  /** The commercial, non-trial SKU. */
  skuId: '0002',
  skuTitle: 'Teams Phone Resource Account',
  trialSkuId: '0001',
} as const;

const TERMS = {
  monthlyMonth: { duration: 'P1M', billingCycle: 'Monthly', description: 'One-Month commitment for monthly billing' },
  yearMonthly: { duration: 'P1Y', billingCycle: 'Monthly', description: 'One-Year commitment for monthly billing' },
  yearAnnual: { duration: 'P1Y', billingCycle: 'Annual', description: 'One-Year commitment for yearly billing' },
  threeYears: { duration: 'P3Y', billingCycle: 'Triennial', description: 'Three-Year commitment for triennial billing' },
} satisfies Record<string, CatalogTerm>;

const STANDARD_TERMS: CatalogTerm[] = [TERMS.yearAnnual, TERMS.yearMonthly, TERMS.monthlyMonth];

function sku(id: string, title: string, options: { isTrial?: boolean; segments?: Segment[]; terms?: CatalogTerm[]; purchasable?: boolean } = {}): CatalogSku {
  return {
    id,
    title,
    description: title,
    isTrial: options.isTrial ?? false,
    minimumQuantity: 1,
    maximumQuantity: options.isTrial ? 25 : 300,
    availabilities: (options.segments ?? ['commercial']).map((segment) => ({
      segment,
      isPurchasable: options.purchasable ?? true,
      terms: [...(options.terms ?? STANDARD_TERMS)],
    })),
  };
}

function product(id: string, title: string, skus?: CatalogSku[], productTypeId: ProductTypeId = NCE_PRODUCT_TYPE): CatalogProduct {
  return { id, title, description: `${title}.`, productTypeId, skus: skus ?? [sku('0001', title, { segments: ['commercial', 'nonprofit'] })] };
}

/** Made-up product ids in the shape of real ones (CFQ7TTC0 + 4), stable across runs. */
function madeUpId(title: string): string {
  return `CFQ7TTC0${createHash('sha256').update(`product:${title}`).digest('hex').slice(0, 4).toUpperCase()}`;
}

const titles = (list: string[]): CatalogProduct[] => list.map((title) => product(madeUpId(title), title));

/**
 * The default catalog, in the order the simulator lists it. The resource-account product is far from the
 * first page (20 products a page by default): a client must follow `links.next`.
 */
export function defaultCatalog(): CatalogProduct[] {
  return [
    product('CFQ7TTC0LH18', 'Microsoft 365 Business Basic', [
      sku('0001', 'Microsoft 365 Business Basic', { segments: ['commercial', 'nonprofit'] }),
      sku('0002', 'Microsoft 365 Business Basic Trial', { isTrial: true, terms: [TERMS.monthlyMonth] }),
    ]),
    ...titles([
      'Microsoft 365 Business Standard', 'Microsoft 365 Business Premium', 'Microsoft 365 Apps for business',
      'Microsoft 365 Apps for enterprise', 'Microsoft 365 E3', 'Microsoft 365 E5', 'Microsoft 365 F1', 'Microsoft 365 F3',
      'Office 365 E1', 'Office 365 E3', 'Office 365 E5', 'Office 365 F3', 'Exchange Online (Plan 1)', 'Exchange Online (Plan 2)',
      'Exchange Online Kiosk', 'Exchange Online Archiving', 'SharePoint (Plan 1)', 'SharePoint (Plan 2)', 'OneDrive for business (Plan 1)',
      'Microsoft Teams Essentials', 'Microsoft Teams Enterprise', 'Microsoft Teams Premium',
    ]),
    product(madeUpId('Microsoft Teams Phone Standard'), 'Microsoft Teams Phone Standard', [
      sku('0001', 'Microsoft Teams Phone Standard', { segments: ['commercial', 'nonprofit'] }),
      sku('0002', 'Microsoft Teams Phone Standard for GCC', { segments: ['government'] }),
      sku('0003', 'Microsoft Teams Phone Standard for faculty', { segments: ['education'] }),
    ]),
    ...titles([
      'Microsoft Teams Phone with Calling Plan', 'Microsoft Teams Domestic Calling Plan', 'Microsoft Teams International Calling Plan',
      'Microsoft Teams Audio Conferencing with dial-out to USA/CAN', 'Microsoft Teams Shared Devices', 'Microsoft Teams Rooms Basic',
    ]),
    // The traditional (pre-new-commerce) product of the same title: not what a new-commerce purchase may buy.
    product('DZH318Z0SIM0', RESOURCE_ACCOUNT_PRODUCT.title, [sku('0001', RESOURCE_ACCOUNT_PRODUCT.title, { terms: [TERMS.monthlyMonth] })], LEGACY_PRODUCT_TYPE),
    product(madeUpId('Microsoft Teams Rooms Pro'), 'Microsoft Teams Rooms Pro', [
      sku('0001', 'Microsoft Teams Rooms Pro'),
      sku('0002', 'Microsoft Teams Rooms Pro Trial', { isTrial: true, terms: [TERMS.monthlyMonth] }),
    ]),
    ...titles(['Power BI Pro', 'Power BI Premium Per User', 'Power Automate Premium', 'Power Apps Premium']),
    product(RESOURCE_ACCOUNT_PRODUCT.productId, RESOURCE_ACCOUNT_PRODUCT.title, [
      sku(RESOURCE_ACCOUNT_PRODUCT.trialSkuId, 'Microsoft Teams Phone Resource Account Trial', { isTrial: true, terms: [TERMS.monthlyMonth] }),
      // Nonprofit first: a client that takes the first availability buys in the wrong segment.
      sku(RESOURCE_ACCOUNT_PRODUCT.skuId, RESOURCE_ACCOUNT_PRODUCT.skuTitle, { segments: ['nonprofit', 'commercial'] }),
      sku('0003', 'Microsoft Teams Phone Resource Account for GCC', { segments: ['government'] }),
      sku('0004', 'Microsoft Teams Phone Resource Account for faculty', { segments: ['education'] }),
    ]),
    ...titles([
      'Microsoft Intune Plan 1', 'Microsoft Entra ID P1', 'Microsoft Entra ID P2', 'Microsoft Defender for Office 365 (Plan 1)',
      'Microsoft Defender for Endpoint P1', 'Microsoft Defender for Business', 'Visio Plan 1', 'Visio Plan 2', 'Project Plan 1',
      'Project Plan 3', 'Microsoft 365 Copilot', 'Windows 365 Business',
    ]),
  ];
}

/**
 * The availability id of one SKU's availability in one segment, valid now: reissued every `periodMs`
 * ("Availability IDs are mutable and dynamic", get-an-availability-by-id; the period is not given).
 */
export function availabilityId(productId: string, skuId: string, segment: Segment, at: number, periodMs: number): string {
  const period = Math.floor(at / periodMs);
  return `CFQ7TTC0${createHash('sha256').update(`availability:${productId}:${skuId}:${segment}:${period}`).digest('hex').slice(0, 4).toUpperCase()}`;
}

/** Problems of a product (or SKU) given through the control API, each naming its field. */
export function skuProblems(raw: unknown, path: string): string[] {
  const sku = (raw ?? {}) as Partial<CatalogSku> & { segments?: unknown };
  const problems: string[] = [];
  if (typeof sku.title !== 'string' || sku.title.trim() === '') problems.push(`${path}.title must be a non-empty string`);
  if (sku.isTrial !== undefined && typeof sku.isTrial !== 'boolean') problems.push(`${path}.isTrial must be true or false`);
  if (sku.segments !== undefined && !(Array.isArray(sku.segments) && sku.segments.length > 0 && sku.segments.every((s) => (SEGMENTS as readonly unknown[]).includes(s)))) {
    problems.push(`${path}.segments must be a non-empty list of ${SEGMENTS.join(', ')}`);
  }
  return problems;
}

/** A SKU from the control API's body (validated by {@link skuProblems}). */
export function skuFromBody(id: string, raw: unknown): CatalogSku {
  const body = raw as { title: string; isTrial?: boolean; segments?: Segment[] };
  return sku(id, body.title, { isTrial: body.isTrial ?? false, ...(body.segments ? { segments: body.segments } : {}), ...(body.isTrial ? { terms: [TERMS.monthlyMonth] } : {}) });
}
