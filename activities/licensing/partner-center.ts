/**
 * The `partner-center` adapter (CSP partners). It prefers raising the quantity of the customer's
 * existing subscription of the Teams Phone Resource Account offer; without one it orders through a cart
 * with the availability looked up at run time (availability ids are reissued:
 * https://learn.microsoft.com/partner-center/developer/get-an-availability-by-id). The offer (product,
 * SKU, availability) is chosen by partner-center-offer.ts.
 *
 * Never twice: the plan of a purchase (the subscription's absolute target quantity, or the cart id) is
 * written to the day's ledger before anything is bought, under the purchase's idempotency key, and a
 * retry repeats that plan instead of computing a new one. A PATCH to an absolute quantity is idempotent;
 * checkout is idempotent per cart (https://learn.microsoft.com/partner-center/developer/checkout-a-cart).
 * A cart created by an attempt that died before recording it is never checked out (it expires in 7 days).
 *
 * A quantity change Partner Center accepts with 202 finishes later: its `Location` is the subscription
 * itself, to be read "periodically to monitor the status and quantity changes"
 * (https://learn.microsoft.com/partner-center/developer/change-the-quantity-of-a-subscription; no
 * Retry-After, no operation resource). The adapter reads the subscription until it is `active` at the
 * target, within a budget per attempt; past it the attempt fails as retryable, and the next one reads
 * the subscription before it changes anything.
 */
import { ApplicationFailure } from '@temporalio/common';
import { utcDay } from '../../workflows/license-purchase-ledger/definitions';
import type { LedgerEntry, LedgerPlan } from '../../workflows/license-purchase-ledger/definitions';
import type { PurchaseLedger } from './ledger';
import type { PartnerCenterClient, PcAvailability, PcSubscription } from './partner-center-client';
import { OFFER_SETTINGS, matchingAvailability, resolveOffer, subscriptionOf } from './partner-center-offer';
import type { OfferSelection, ResolvedOffer } from './partner-center-offer';
import { ProcurementError, procurementFailure, purchaseRequestProblems } from './procurement';
import type { LicenseProcurement, ProcurementDescription, PurchaseCeilings, PurchaseOffer, PurchaseRequest, PurchaseResult } from './procurement';

export const CEILING_NAMES = { perBatch: 'DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH', perDay: 'DIALTONE_PURCHASE_MAX_UNITS_PER_DAY' } as const;

/**
 * A retryable failure: Partner Center is still making a quantity change (ours, past the attempt's
 * budget, or another one). The next attempt reads the subscription first.
 */
export const QUANTITY_CHANGE_PENDING = 'PartnerCenterChangePending';

/** Longest one attempt waits for an accepted change to show; below the purchase activity's 10-minute start-to-close timeout. */
export const DEFAULT_QUANTITY_CHANGE_BUDGET_MS = 5 * 60_000;

export interface PartnerCenterProcurementOptions {
  client: PartnerCenterClient;
  ledger: PurchaseLedger;
  /** The customer's tenant id in Partner Center (by default the tenant Dialtone provisions in). */
  customerId: string;
  /** Ledger key: the tenant Dialtone provisions in. */
  tenantId: string;
  ceilings: PurchaseCeilings;
  /** Which offer to buy, and the term and billing cycle of a new subscription. */
  offer: OfferSelection;
  /** Called while a purchase waits (an activity heartbeats). */
  onProgress?: (detail: string) => void;
  /** Ends a wait for Partner Center: in an activity, its cancellation signal. */
  cancellation?: () => AbortSignal;
  now?: () => number;
  /** Longest one attempt waits for an accepted (202) quantity change to show in the subscription; default 5 minutes. */
  quantityChangeBudgetMs?: number;
  /** Pause between reads of the subscription while a change runs: 1 s, doubling up to this; default 15 s. */
  maxPollIntervalMs?: number;
}

interface Offer extends ResolvedOffer {
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
      ? { via: 'subscription-quantity', productTitle: offer.product.title, subscriptionId: offer.subscription.id, currentQuantity: offer.subscription.quantity, units }
      : { via: 'cart', productTitle: offer.product.title, catalogItemId: offer.availability.catalogItemId, units };
    const leftToday = Math.max(0, ceilings.perDay - usedToday);
    const how = described.via === 'subscription-quantity'
      ? `raise subscription ${described.subscriptionId} from ${described.currentQuantity} to ${(described.currentQuantity ?? 0) + units} seats`
      : `order ${units} seat${units === 1 ? '' : 's'} of ${described.catalogItemId} (SKU "${offer.sku.title}", ${this.options.offer.segment}, ` +
        `${this.options.offer.termDuration}, billed ${this.options.offer.billingCycle}) through a new cart`;
    return {
      kind: 'partner-center',
      canPurchase: true,
      shortfall,
      instructions: `An approval buys ${units} "${offer.product.title}" license${units === 1 ? '' : 's'} in Partner Center for customer ${this.options.customerId}: ${how}. ` +
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
    let proposed: LedgerPlan;
    if (offer.subscription?.status.toLowerCase() === 'pending') {
      // A change is under way: this purchase's own (an earlier attempt's), or another one whose target is
      // unknown, so no new target can be planned from the quantity shown now.
      const earlier = await this.options.ledger.entry(day, request.idempotencyKey);
      if (!earlier) {
        throw ApplicationFailure.create({
          type: QUANTITY_CHANGE_PENDING,
          message: `Partner Center is still changing the quantity of subscription ${offer.subscription.id} (status pending, ${offer.subscription.quantity} seats); ` +
            'nothing was bought; the purchase is retried once that change has finished.',
        });
      }
      proposed = earlier.plan;
    } else {
      proposed = offer.subscription
        ? { via: 'subscription-quantity', subscriptionId: offer.subscription.id, fromQuantity: offer.subscription.quantity, targetQuantity: offer.subscription.quantity + request.units }
        : { via: 'cart', catalogItemId: offer.availability.catalogItemId };
    }
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
    const budgetMs = this.options.quantityChangeBudgetMs ?? DEFAULT_QUANTITY_CHANGE_BUDGET_MS;
    const deadline = this.now() + budgetMs;
    const maxInterval = this.options.maxPollIntervalMs ?? 15_000;
    let interval = Math.min(1_000, maxInterval);
    let patched = false;
    for (;;) {
      // Read first, every time: an earlier attempt's change may have landed (its answer lost) or be under way.
      const subscription = await client.getSubscription(customerId, plan.subscriptionId);
      const status = subscription.status.toLowerCase();
      if (status === 'active' && subscription.quantity >= plan.targetQuantity) {
        await this.options.ledger.record(day, { key: entry.key, state: 'done' });
        return result(existing && !patched);
      }
      if (status !== 'active' && status !== 'pending') {
        // Counted still (not released): whether an earlier attempt's change went through before it cannot be told.
        throw procurementFailure(ProcurementError.PurchaseRejected,
          `Subscription ${plan.subscriptionId} is ${subscription.status} at ${subscription.quantity} seats, so its quantity cannot be raised to ${plan.targetQuantity}; ` +
          'reactivate it in Partner Center, or buy by hand.');
      }
      if (status === 'active' && !patched) {
        // The same absolute target as every attempt of this purchase: a repeat cannot buy twice.
        const change = await client.changeQuantity(customerId, subscription, plan.targetQuantity);
        patched = true;
        if (change.done) continue;
      }
      const detail = `waiting for Partner Center to raise subscription ${plan.subscriptionId} to ${plan.targetQuantity} seats ` +
        `(now ${subscription.quantity}, ${subscription.status})`;
      if (this.now() >= deadline) {
        throw ApplicationFailure.create({
          type: QUANTITY_CHANGE_PENDING,
          message: `Partner Center has not finished raising subscription ${plan.subscriptionId} to ${plan.targetQuantity} seats within ${budgetMs >= 1_000 ? `${Math.round(budgetMs / 1000)} s` : `${budgetMs} ms`} ` +
            `(it shows ${subscription.quantity}, ${subscription.status}); the purchase is retried, and reads the subscription again before changing anything. ` +
            'If Partner Center finishes the change later, its seats arrive without another approval.',
        });
      }
      await this.pause(interval, detail);
      interval = Math.min(interval * 2, maxInterval);
    }
  }

  /** Waits, heartbeating every second, and gives up at the activity's cancellation. */
  private async pause(ms: number, detail: string): Promise<void> {
    const end = Date.now() + ms;
    const signal = this.options.cancellation?.();
    while (Date.now() < end) {
      if (signal?.aborted) throw signal.reason;
      this.options.onProgress?.(detail);
      await sleep(Math.min(1_000, end - Date.now()), signal);
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
        billingCycle: this.options.offer.billingCycle,
        termDuration: this.options.offer.termDuration,
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

  /** The offer (product, SKU, availability) and the customer's subscription of it, if any. */
  private async findOffer(): Promise<Offer> {
    const { client, customerId } = this.options;
    const [resolved, subscriptions] = await Promise.all([resolveOffer(client, this.options.offer), client.listSubscriptions(customerId)]);
    const subscription = subscriptionOf(subscriptions.items, resolved);
    return { ...resolved, ...(subscription ? { subscription } : {}) };
  }

  /** The SKU's availability read again now: a cart is made with a current id. */
  private async currentAvailability(offer: Offer): Promise<PcAvailability> {
    const { client, offer: selection } = this.options;
    const availabilities = await client.listAvailabilities(offer.product.id, offer.sku.id, selection.country);
    const availability = matchingAvailability(availabilities.items, selection);
    if (!availability) {
      throw procurementFailure(ProcurementError.PurchaseOfferNotFound,
        `${offer.product.id}:${offer.sku.id} no longer has a purchasable ${selection.segment} availability with term ${selection.termDuration} billed ${selection.billingCycle} ` +
        `in the ${selection.country} catalog (${OFFER_SETTINGS.segment}, ${OFFER_SETTINGS.term}, ${OFFER_SETTINGS.billingCycle}).`);
    }
    return availability;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
