/**
 * The `partner-center` adapter (CSP partners). It prefers raising the quantity of an existing active
 * subscription of the Teams Phone Resource Account offer; without one it orders through a cart with the
 * availability looked up at run time (availability ids are reissued:
 * https://learn.microsoft.com/partner-center/developer/get-an-availability-by-id).
 *
 * Never twice: the plan of a purchase (the subscription's absolute target quantity, or the cart id) is
 * written to the day's ledger before anything is bought, under the purchase's idempotency key, and a
 * retry repeats that plan instead of computing a new one. A PATCH to an absolute quantity is idempotent;
 * checkout is idempotent per cart (https://learn.microsoft.com/partner-center/developer/checkout-a-cart).
 * A cart created by an attempt that died before recording it is never checked out (it expires in 7 days).
 */
import { ApplicationFailure } from '@temporalio/common';
import { utcDay } from '../../workflows/license-purchase-ledger/definitions';
import type { LedgerEntry, LedgerPlan } from '../../workflows/license-purchase-ledger/definitions';
import type { PurchaseLedger } from './ledger';
import type { PartnerCenterClient, PcAvailability, PcSubscription } from './partner-center-client';
import { ProcurementError, procurementFailure, purchaseRequestProblems } from './procurement';
import type { LicenseProcurement, ProcurementDescription, PurchaseCeilings, PurchaseOffer, PurchaseRequest, PurchaseResult } from './procurement';

export const CEILING_NAMES = { perBatch: 'DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH', perDay: 'DIALTONE_PURCHASE_MAX_UNITS_PER_DAY' } as const;

export interface PartnerCenterProcurementOptions {
  client: PartnerCenterClient;
  ledger: PurchaseLedger;
  /** The customer's tenant id in Partner Center (by default the tenant Dialtone provisions in). */
  customerId: string;
  /** Ledger key: the tenant Dialtone provisions in. */
  tenantId: string;
  ceilings: PurchaseCeilings;
  /** Catalog country (ISO 3166 alpha-2). */
  country: string;
  /** Title of the product to buy, matched case-insensitively. */
  productTitle: string;
  /** Term and billing cycle of a new subscription. */
  termDuration: string;
  billingCycle: string;
  /** Called while a purchase waits (an activity heartbeats). */
  onProgress?: (detail: string) => void;
  now?: () => number;
  /** Pause between polls of an accepted (202) change, at most; default 5 s. */
  maxPollIntervalMs?: number;
}

interface Offer {
  productId: string;
  skuId: string;
  productTitle: string;
  subscription?: PcSubscription;
}

export class PartnerCenterProcurement implements LicenseProcurement {
  readonly kind = 'partner-center' as const;
  private readonly now: () => number;

  constructor(private readonly options: PartnerCenterProcurementOptions) {
    this.now = options.now ?? Date.now;
  }

  async describe(shortfall: number): Promise<ProcurementDescription> {
    const { ceilings } = this.options;
    const day = utcDay(this.now());
    const [offer, usedToday] = await Promise.all([this.findOffer(), this.options.ledger.usedOn(day)]);
    const units = Math.max(1, shortfall);
    const described: PurchaseOffer = offer.subscription
      ? { via: 'subscription-quantity', productTitle: offer.productTitle, subscriptionId: offer.subscription.id, currentQuantity: offer.subscription.quantity, units }
      : { via: 'cart', productTitle: offer.productTitle, catalogItemId: (await this.currentAvailability(offer)).catalogItemId, units };
    const leftToday = Math.max(0, ceilings.perDay - usedToday);
    const how = described.via === 'subscription-quantity'
      ? `raise subscription ${described.subscriptionId} from ${described.currentQuantity} to ${(described.currentQuantity ?? 0) + units} seats`
      : `order ${units} seat${units === 1 ? '' : 's'} of ${described.catalogItemId} (${this.options.termDuration}, billed ${this.options.billingCycle}) through a new cart`;
    return {
      kind: 'partner-center',
      canPurchase: true,
      shortfall,
      instructions: `An approval buys ${units} "${offer.productTitle}" license${units === 1 ? '' : 's'} in Partner Center for customer ${this.options.customerId}: ${how}. ` +
        `Ceilings: ${ceilings.perBatch} per approval (${CEILING_NAMES.perBatch}), ${ceilings.perDay} per UTC day (${CEILING_NAMES.perDay}), ${leftToday} left today. ` +
        'The price is not read from Partner Center; the license is $0 within Microsoft\'s free allocation.',
      offer: described,
      ceilings: { ...ceilings, usedToday, leftToday, day },
    };
  }

  async purchase(request: PurchaseRequest): Promise<PurchaseResult> {
    const problems = purchaseRequestProblems(request);
    if (problems.length > 0) throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: problems.join('; ') });
    const { ceilings } = this.options;
    if (request.units > ceilings.perBatch) {
      throw procurementFailure(ProcurementError.PurchaseCeilingExceeded,
        `Purchase refused: ${request.units} units is over the per-batch ceiling of ${ceilings.perBatch} (${CEILING_NAMES.perBatch}). ` +
        `Nothing was bought. Raise ${CEILING_NAMES.perBatch} on the worker, or approve fewer units.`);
    }
    const day = request.day ?? utcDay(this.now());
    const offer = await this.findOffer();
    const proposed: LedgerPlan = offer.subscription
      ? { via: 'subscription-quantity', subscriptionId: offer.subscription.id, fromQuantity: offer.subscription.quantity, targetQuantity: offer.subscription.quantity + request.units }
      : { via: 'cart', catalogItemId: (await this.currentAvailability(offer)).catalogItemId };
    const { entry, existing } = await this.options.ledger.reserve(day, {
      key: request.idempotencyKey,
      units: request.units,
      ...(request.batchId ? { batchId: request.batchId } : {}),
      approvedBy: request.approvedBy,
      ...(request.reason ? { reason: request.reason } : {}),
      plan: proposed,
      ceilings,
      ceilingNames: CEILING_NAMES,
    });
    if (entry.state === 'released') {
      throw procurementFailure(ProcurementError.PurchaseRejected, `Purchase ${entry.key} was refused by Partner Center before; approve again to try a new order.`);
    }
    const plan = entry.plan;
    if (plan.via === 'subscription-quantity') return this.raiseQuantity(day, entry, plan, existing);
    return this.orderThroughCart(day, entry, plan, existing, offer);
  }

  private async raiseQuantity(day: string, entry: LedgerEntry, plan: Extract<LedgerPlan, { via: 'subscription-quantity' }>, existing: boolean): Promise<PurchaseResult> {
    const { client, customerId } = this.options;
    const result = (alreadyDone: boolean): PurchaseResult => ({
      via: 'subscription-quantity',
      units: entry.units,
      alreadyDone,
      subscriptionId: plan.subscriptionId,
      targetQuantity: plan.targetQuantity,
      summary: `subscription ${plan.subscriptionId} raised from ${plan.fromQuantity} to ${plan.targetQuantity} seats (${entry.units} bought, approved by ${entry.approvedBy})`,
    });
    if (entry.state === 'done') return result(true);
    for (;;) {
      const subscription = await client.getSubscription(customerId, plan.subscriptionId);
      if (subscription.quantity >= plan.targetQuantity) {
        // An earlier attempt's change landed (its answer may have been lost): nothing more to buy.
        await this.options.ledger.record(day, { key: entry.key, state: 'done' });
        return result(existing);
      }
      const change = await client.changeQuantity(customerId, subscription, plan.targetQuantity);
      if (change.done) continue;
      let wait = change.retryAfterMs;
      for (;;) {
        await sleep(Math.min(wait, this.options.maxPollIntervalMs ?? 5_000));
        this.options.onProgress?.(`waiting for Partner Center to finish raising ${plan.subscriptionId} to ${plan.targetQuantity}`);
        const polled = await client.pollChange(change.location);
        if (/^(succeeded|completed|success)$/i.test(polled.status)) break;
        if (/^(failed|cancelled|canceled)$/i.test(polled.status)) {
          await this.options.ledger.record(day, { key: entry.key, state: 'released' });
          throw procurementFailure(ProcurementError.PurchaseRejected, `Partner Center reported the quantity change of ${plan.subscriptionId} as ${polled.status}; nothing was bought.`);
        }
        wait = polled.retryAfterMs;
      }
    }
  }

  private async orderThroughCart(day: string, entry: LedgerEntry, plan: Extract<LedgerPlan, { via: 'cart' }>, existing: boolean, offer: Offer): Promise<PurchaseResult> {
    const { client, customerId, ledger } = this.options;
    let cartId = plan.cartId;
    if (!cartId) {
      // The availability read now, not the one stored: ids are reissued, and a cart is made with a current one.
      const availability = await this.currentAvailability(offer);
      const cart = await client.createCart(customerId, [{
        id: 0,
        catalogItemId: availability.catalogItemId,
        quantity: entry.units,
        billingCycle: this.options.billingCycle,
        termDuration: this.options.termDuration,
        friendlyName: 'Teams Phone Resource Accounts (Dialtone)',
      }], entry.key);
      // The first cart recorded wins: a cart of an attempt that died before recording is left to expire.
      const recorded = await ledger.record(day, { key: entry.key, cartId: cart.id });
      cartId = recorded.plan.via === 'cart' ? recorded.plan.cartId ?? cart.id : cart.id;
    }
    let checkout;
    try {
      checkout = await client.checkout(customerId, cartId, entry.key);
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === ProcurementError.PurchaseRejected) await ledger.record(day, { key: entry.key, state: 'released' });
      throw err;
    }
    if (checkout.orderErrors.length > 0 || checkout.orders.length === 0) {
      await ledger.record(day, { key: entry.key, state: 'released' });
      const errors = checkout.orderErrors.map((e) => `${e.code ?? ''} ${e.description ?? ''}`.trim()).join('; ');
      throw procurementFailure(ProcurementError.PurchaseRejected, `Partner Center did not place the order of cart ${cartId}: ${errors || 'no order came back'}.`);
    }
    const order = checkout.orders[0];
    await ledger.record(day, { key: entry.key, state: 'done', ...(order ? { orderId: order.id } : {}) });
    return {
      via: 'cart',
      units: entry.units,
      alreadyDone: existing && entry.state === 'done',
      cartId,
      ...(order ? { orderId: order.id, subscriptionId: order.lineItems[0]?.subscriptionId } : {}),
      summary: `order ${order?.id ?? '?'} placed through cart ${cartId}: ${entry.units} seat${entry.units === 1 ? '' : 's'} (approved by ${entry.approvedBy})`,
    };
  }

  /** The product by title, its SKU, and an active subscription of it if the customer has one. */
  private async findOffer(): Promise<Offer> {
    const { client, country, productTitle, customerId } = this.options;
    const products = await client.listProducts(country, 'OnlineServicesNCE');
    const product = products.items.find((p) => p.title.toLowerCase() === productTitle.toLowerCase());
    if (!product) {
      throw procurementFailure(ProcurementError.PurchaseOfferNotFound,
        `Partner Center's ${country} catalog has no product titled "${productTitle}" (DIALTONE_PARTNER_CENTER_PRODUCT_TITLE); buy in Partner Center by hand or set the title as the catalog shows it.`);
    }
    const skus = await client.listSkus(product.id, country);
    const sku = skus.items[0];
    if (!sku) throw procurementFailure(ProcurementError.PurchaseOfferNotFound, `Product ${product.id} ("${product.title}") has no SKU in the ${country} catalog.`);
    const subscriptions = await client.listSubscriptions(customerId);
    const prefix = `${product.id}:${sku.id}`.toLowerCase();
    const subscription = subscriptions.items
      .filter((s) => s.status.toLowerCase() === 'active' && s.offerId.toLowerCase().startsWith(prefix))
      .sort((a, b) => b.quantity - a.quantity)[0];
    return { productId: product.id, skuId: sku.id, productTitle: product.title, ...(subscription ? { subscription } : {}) };
  }

  private async currentAvailability(offer: Offer): Promise<PcAvailability> {
    const availabilities = await this.options.client.listAvailabilities(offer.productId, offer.skuId, this.options.country);
    const availability = availabilities.items.find((a) => !a.terms || a.terms.some((t) => t.duration === this.options.termDuration));
    if (!availability) {
      throw procurementFailure(ProcurementError.PurchaseOfferNotFound,
        `No availability of ${offer.productId}:${offer.skuId} with term ${this.options.termDuration} in the ${this.options.country} catalog (DIALTONE_PARTNER_CENTER_TERM).`);
    }
    return availability;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
