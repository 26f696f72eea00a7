import { allHandlersFinished, condition, setHandler, sleep } from '@temporalio/workflow';
import { getLedgerQuery, recordPurchaseUpdate, reservePurchaseUpdate, unitsCounted } from './definitions';
import type { LedgerEntry, LedgerInput, LedgerState, RecordPurchaseInput, ReservePurchaseInput, ReservePurchaseOutput } from './definitions';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The per-tenant, per-UTC-day purchase ledger. Validators refuse a reservation beyond a ceiling before
 * anything is written, so a refused purchase leaves no trace and buys nothing. The workflow stays open a
 * day past its own day, so retries of a purchase approved late in the day still find their plan.
 */
export async function licensePurchaseLedger(input: LedgerInput): Promise<LedgerState> {
  const state: LedgerState = { tenantId: input.tenantId, day: input.day, entries: [] };
  const find = (key: string): LedgerEntry | undefined => state.entries.find((e) => e.key === key);

  setHandler(getLedgerQuery, () => state);
  setHandler(
    reservePurchaseUpdate,
    (request: ReservePurchaseInput): ReservePurchaseOutput => {
      const existing = find(request.key);
      if (existing) return { entry: existing, existing: true, usedToday: unitsCounted(state.entries) };
      const entry: LedgerEntry = {
        key: request.key,
        units: request.units,
        ...(request.batchId ? { batchId: request.batchId } : {}),
        approvedBy: request.approvedBy,
        ...(request.reason ? { reason: request.reason } : {}),
        at: new Date().toISOString(),
        plan: request.plan,
        state: 'reserved',
      };
      state.entries.push(entry);
      return { entry, existing: false, usedToday: unitsCounted(state.entries) };
    },
    {
      validator: (request: ReservePurchaseInput) => {
        if (find(request.key)) return;
        if (!Number.isInteger(request.units) || request.units < 1) throw new Error('units must be a whole number ≥ 1');
        const used = unitsCounted(state.entries);
        if (used + request.units > request.ceilings.perDay) {
          throw new Error(`refused: ${request.units} more units would make ${used + request.units} bought on ${state.day} (UTC), over the daily ceiling ` +
            `of ${request.ceilings.perDay} (${request.ceilingNames.perDay}; ${Math.max(0, request.ceilings.perDay - used)} left today). ` +
            `Nothing was bought. Raise ${request.ceilingNames.perDay} on the worker, or approve fewer units, or buy the rest tomorrow.`);
        }
        const inBatch = unitsCounted(state.entries, request.batchId ?? request.key) + request.units;
        if (inBatch > request.ceilings.perBatch) {
          throw new Error(`refused: ${request.units} units ${request.batchId ? `for batch ${request.batchId} ` : ''}is over the per-batch ceiling of ` +
            `${request.ceilings.perBatch} (${request.ceilingNames.perBatch}). Nothing was bought. Raise ${request.ceilingNames.perBatch} on the worker, or approve fewer units.`);
        }
      },
    },
  );
  setHandler(
    recordPurchaseUpdate,
    (request: RecordPurchaseInput): LedgerEntry => {
      const entry = find(request.key) as LedgerEntry;
      if (request.cartId && entry.plan.via === 'cart' && !entry.plan.cartId) entry.plan = { ...entry.plan, cartId: request.cartId };
      if (request.orderId) entry.orderId = request.orderId;
      if (request.state && entry.state === 'reserved') entry.state = request.state;
      return entry;
    },
    {
      validator: (request: RecordPurchaseInput) => {
        if (!find(request.key)) throw new Error(`no purchase ${request.key} in the ledger of ${state.day}`);
      },
    },
  );

  const [year, month, day] = input.day.split('-').map(Number);
  const closesAt = Date.UTC(year ?? 1970, (month ?? 1) - 1, day ?? 1) + 2 * DAY_MS;
  await sleep(Math.max(1, closesAt - Date.now()));
  await condition(allHandlersFinished);
  return state;
}
