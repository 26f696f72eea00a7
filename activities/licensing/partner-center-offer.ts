/**
 * Which new-commerce offer a purchase buys, found as Partner Center documents it: products of the
 * `OnlineServices` view whose `productType.id` is `OnlineServicesNCE`
 * (https://learn.microsoft.com/partner-center/developer/get-a-list-of-products), then the product's
 * SKUs, where trials are marked `isTrial` and a SKU id is unique only within its product
 * (https://learn.microsoft.com/partner-center/developer/product-resources), then the SKU's
 * availabilities, which carry the segment, `isPurchasable` and the terms
 * (https://learn.microsoft.com/partner-center/developer/get-a-list-of-availabilities-for-a-sku).
 *
 * Nothing is chosen by position or by a guess: a title several products share, or several SKUs that
 * could be bought, is refused with the candidates and the setting that picks one. Used by the adapter
 * and by `dialtone doctor`, so both choose the same offer.
 */
import type { PartnerCenterClient, PcAvailability, PcProduct, PcSku, PcSubscription } from './partner-center-client';
import { ProcurementError, procurementFailure } from './procurement';

/** productType.id of new-commerce license-based products. */
export const NCE_PRODUCT_TYPE = 'OnlineServicesNCE';

/** What to buy, from the worker's settings. */
export interface OfferSelection {
  country: string;
  /** Matched case-insensitively against new-commerce products' titles, when `productId` is not set. */
  productTitle: string;
  productId?: string;
  skuId?: string;
  /** commercial, education, government or nonprofit. */
  segment: string;
  termDuration: string;
  billingCycle: string;
}

export interface ResolvedOffer {
  product: PcProduct;
  sku: PcSku;
  /** The availability read now (its id is reissued: read it again at purchase time). */
  availability: PcAvailability;
}

export const OFFER_SETTINGS = {
  productTitle: 'DIALTONE_PARTNER_CENTER_PRODUCT_TITLE',
  productId: 'DIALTONE_PARTNER_CENTER_PRODUCT_ID',
  skuId: 'DIALTONE_PARTNER_CENTER_SKU_ID',
  segment: 'DIALTONE_PARTNER_CENTER_SEGMENT',
  term: 'DIALTONE_PARTNER_CENTER_TERM',
  billingCycle: 'DIALTONE_PARTNER_CENTER_BILLING_CYCLE',
} as const;

function notFound(problem: string, fix: string) {
  return procurementFailure(ProcurementError.PurchaseOfferNotFound, `${problem} ${fix}`, { problem, fix });
}

const same = (a: string | undefined, b: string | undefined) => (a ?? '').toLowerCase() === (b ?? '').toLowerCase();

/** The availability of the selection's segment that is purchasable with its term and billing cycle, if any. */
export function matchingAvailability(availabilities: readonly PcAvailability[], selection: OfferSelection): PcAvailability | undefined {
  return availabilities.find((a) => same(a.segment, selection.segment) && a.isPurchasable === true &&
    (a.terms ?? []).some((t) => t.duration === selection.termDuration && same(t.billingCycle, selection.billingCycle)));
}

function describeAvailabilities(availabilities: readonly PcAvailability[]): string {
  if (availabilities.length === 0) return 'no availability';
  return availabilities.map((a) => `${a.segment ?? '?'}${a.isPurchasable === false ? ' (not purchasable)' : ''}: ` +
    ((a.terms ?? []).map((t) => `${t.duration}/${(t.billingCycle ?? '?').toLowerCase()}`).join(', ') || 'no terms')).join('; ');
}

async function findProduct(client: PartnerCenterClient, selection: OfferSelection): Promise<PcProduct> {
  const { country } = selection;
  const products = await client.listProducts(country);
  if (selection.productId) {
    const product = products.items.find((p) => same(p.id, selection.productId));
    if (!product) {
      throw notFound(`Partner Center's ${country} catalog has no product ${selection.productId}.`,
        `Set ${OFFER_SETTINGS.productId} to a product id the catalog lists, or unset it to find the product by its title (${OFFER_SETTINGS.productTitle}).`);
    }
    if (product.productType?.id !== NCE_PRODUCT_TYPE) {
      throw notFound(`Product ${product.id} ("${product.title}") is not a new-commerce product (productType ${product.productType?.id ?? 'none'}, not ${NCE_PRODUCT_TYPE}).`,
        `Set ${OFFER_SETTINGS.productId} to the new-commerce product's id.`);
    }
    return product;
  }
  const titled = products.items.filter((p) => same(p.title, selection.productTitle));
  const nce = titled.filter((p) => p.productType?.id === NCE_PRODUCT_TYPE);
  if (nce.length === 1 && nce[0]) return nce[0];
  if (nce.length === 0) {
    const others = titled.length > 0 ? ` (only ${titled.map((p) => `${p.id}, productType ${p.productType?.id ?? 'none'}`).join('; ')})` : '';
    throw notFound(`Partner Center's ${country} catalog has no new-commerce product titled "${selection.productTitle}"${others}.`,
      `Set ${OFFER_SETTINGS.productTitle} to the title as the catalog shows it (or ${OFFER_SETTINGS.productId} to its id), or buy in Partner Center by hand.`);
  }
  throw notFound(`Partner Center's ${country} catalog has ${nce.length} new-commerce products titled "${selection.productTitle}": ` +
    `${nce.map((p) => `${p.id} ("${p.title}")`).join(', ')}.`,
  `Set ${OFFER_SETTINGS.productId} to the one to buy.`);
}

/**
 * The product, SKU and availability the selection names. The SKU is `skuId` when set, otherwise the one
 * non-trial SKU with a purchasable availability in the segment, with the term and billing cycle.
 */
export async function resolveOffer(client: PartnerCenterClient, selection: OfferSelection): Promise<ResolvedOffer> {
  const { country } = selection;
  const product = await findProduct(client, selection);
  const skus = (await client.listSkus(product.id, country)).items;
  const availabilitiesOf = async (sku: PcSku) => (await client.listAvailabilities(product.id, sku.id, country)).items;
  const wanted = `${selection.segment} availability with term ${selection.termDuration} billed ${selection.billingCycle} ` +
    `(${OFFER_SETTINGS.segment}, ${OFFER_SETTINGS.term}, ${OFFER_SETTINGS.billingCycle})`;
  const list = (candidates: readonly PcSku[]) => candidates.map((s) => `${s.id} "${s.title}"${s.isTrial ? ' (trial)' : ''}`).join(', ') || 'none';

  if (selection.skuId) {
    const sku = skus.find((s) => same(s.id, selection.skuId));
    if (!sku) {
      throw notFound(`Product ${product.id} ("${product.title}") has no SKU ${selection.skuId} in the ${country} catalog; its SKUs: ${list(skus)}.`,
        `Set ${OFFER_SETTINGS.skuId} to one of them.`);
    }
    if (sku.isTrial) {
      throw notFound(`SKU ${product.id}:${sku.id} ("${sku.title}") is a trial; a purchase buys a paid SKU.`,
        `Set ${OFFER_SETTINGS.skuId} to a SKU that is not a trial: ${list(skus.filter((s) => !s.isTrial))}.`);
    }
    const availabilities = await availabilitiesOf(sku);
    const availability = matchingAvailability(availabilities, selection);
    if (!availability) {
      throw notFound(`SKU ${product.id}:${sku.id} ("${sku.title}") has no purchasable ${wanted}; it offers ${describeAvailabilities(availabilities)}.`,
        `Set ${OFFER_SETTINGS.segment}, ${OFFER_SETTINGS.term} and ${OFFER_SETTINGS.billingCycle} to what it offers, or ${OFFER_SETTINGS.skuId} to another SKU.`);
    }
    return { product, sku, availability };
  }

  const paid = skus.filter((s) => !s.isTrial);
  const candidates: Array<{ sku: PcSku; availability?: PcAvailability; offered: string }> = [];
  for (const sku of paid) {
    const availabilities = await availabilitiesOf(sku);
    const availability = matchingAvailability(availabilities, selection);
    candidates.push({ sku, ...(availability ? { availability } : {}), offered: describeAvailabilities(availabilities) });
  }
  const matches = candidates.filter((c) => c.availability);
  const [only] = matches;
  if (matches.length === 1 && only?.availability) return { product, sku: only.sku, availability: only.availability };
  if (matches.length === 0) {
    const offered = candidates.map((c) => `${c.sku.id} "${c.sku.title}" (${c.offered})`).join('; ') || 'none';
    throw notFound(`No SKU of product ${product.id} ("${product.title}") that is not a trial has a purchasable ${wanted}. SKUs that are not trials: ${offered}.`,
      `Set ${OFFER_SETTINGS.segment}, ${OFFER_SETTINGS.term} and ${OFFER_SETTINGS.billingCycle} to what one of them offers, or ${OFFER_SETTINGS.skuId} to the SKU to buy.`);
  }
  throw notFound(`Product ${product.id} ("${product.title}") has ${matches.length} SKUs that could be bought as a ${wanted}: ${list(matches.map((m) => m.sku))}.`,
    `Set ${OFFER_SETTINGS.skuId} to the one to buy.`);
}

/**
 * The customer's subscription of the offer that a purchase raises: matched by `offerId`, which starts
 * with `productId:skuId` (new commerce writes the catalog item id there). An `active` one, or a
 * `pending` one (a change under way), the largest first.
 */
export function subscriptionOf(subscriptions: readonly PcSubscription[], offer: { product: PcProduct; sku: PcSku }): PcSubscription | undefined {
  const prefix = `${offer.product.id}:${offer.sku.id}`.toLowerCase();
  return subscriptions
    .filter((s) => /^(active|pending)$/i.test(s.status) && (s.offerId.toLowerCase() === prefix || s.offerId.toLowerCase().startsWith(`${prefix}:`)))
    .sort((a, b) => b.quantity - a.quantity)[0];
}
