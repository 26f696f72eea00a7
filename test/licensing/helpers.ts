/** Shared pieces of the license-purchase tests: a ledger worker, the adapter over a test simulator, and simulator reads. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { createLicenseProcurement, createLicensingActivities, offerSelection } from '../../activities/licensing/activities';
import type { PartnerCenterSettings, ProcurementSettings } from '../../activities/licensing/activities';
import { TemporalPurchaseLedger } from '../../activities/licensing/ledger';
import { PartnerCenterProcurement } from '../../activities/licensing/partner-center';
import type { PartnerCenterProcurementOptions } from '../../activities/licensing/partner-center';
import type { OfferSelection } from '../../activities/licensing/partner-center-offer';
import { PartnerCenterClient } from '../../activities/licensing/partner-center-client';
import type { PurchaseCeilings } from '../../activities/licensing/procurement';
import { RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../../lib/microsoft';
import { dialtoneDataConverter } from '../../lib/payload-codec';
import { createCredential, procurementCredential } from '../../worker/credentials';
import { simulatorPartnerCenterApp } from '../../worker/procurement-config';
import { RESOURCE_ACCOUNT_PRODUCT } from '../../simulator/partner-center-catalog';
import { createDialtoneWorker, createTenantActivities } from '../../worker/worker';
import { TEST_POLLING } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import type { TestTemporal } from '../helpers/temporal';

export interface PcSimState {
  config: Record<string, unknown>;
  catalogItemId: string;
  subscriptions: Array<{ id: string; quantity: number; offerId: string; status: string }>;
  carts: Array<{ id: string; status: string }>;
  orders: Array<{ id: string; lineItems: Array<{ quantity: number; offerId: string }> }>;
  quantityChanges: Array<{ id: string; from: number; to: number; status: string }>;
  pendingSeats: Array<{ units: number; at: number }>;
}

export async function pcState(sim: TestSimulator): Promise<PcSimState> {
  return (await sim.app.inject({ method: 'GET', url: '/_simulator/partner-center' })).json();
}

/** The product and commercial SKU of the resource-account license in the simulator's catalog. */
export const RESOURCE_ACCOUNT_OFFER = `${RESOURCE_ACCOUNT_PRODUCT.productId}:${RESOURCE_ACCOUNT_PRODUCT.skuId}`;

/** The customer's subscriptions of the resource-account license (the customer holds others too). */
export function resourceAccountSubscriptions(state: PcSimState): PcSimState['subscriptions'] {
  return state.subscriptions.filter((s) => s.offerId.startsWith(`${RESOURCE_ACCOUNT_OFFER}:`));
}

export async function pcConfig(sim: TestSimulator, config: Record<string, unknown>): Promise<void> {
  const response = await sim.app.inject({ method: 'PUT', url: '/_simulator/partner-center/config', payload: config });
  if (response.statusCode !== 200) throw new Error(`config refused: ${response.body}`);
}

export async function pcReset(sim: TestSimulator): Promise<void> {
  await sim.app.inject({ method: 'POST', url: '/_simulator/partner-center/reset' });
}

/** Enabled units of the resource-account SKU in the tenant (what subscribedSkus reports). */
export async function enabledUnits(sim: TestSimulator): Promise<number> {
  const state = (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { licenses: Array<{ skuPartNumber: string; enabled: number }> };
  return state.licenses.find((l) => l.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER)?.enabled ?? 0;
}

/** Partner Center procurement against a test simulator, as the worker's settings give it in simulator mode (the simulated partner's app). */
export function pcSettings(sim: TestSimulator, ceilings: PurchaseCeilings, offer: Partial<OfferSelection> = {}): PartnerCenterSettings {
  return {
    kind: 'partner-center', baseUrl: sim.url, app: simulatorPartnerCenterApp(sim.url), customerId: sim.tenant.tenantId, country: 'US',
    productTitle: 'Microsoft Teams Phone Resource Account', segment: 'commercial', termDuration: 'P1M', billingCycle: 'monthly', ceilings, ...offer,
  };
}

/** Leaves no resource-account license free in the simulator's tenant: enabled = consumed. */
export async function noneFree(sim: TestSimulator): Promise<void> {
  const state = (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { licenses: Array<{ skuPartNumber: string; consumed: number }> };
  const consumed = state.licenses.find((l) => l.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER)?.consumed ?? 0;
  const response = await sim.app.inject({ method: 'PUT', url: `/_simulator/licenses/${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`, payload: { units: consumed } });
  assert.equal(response.statusCode, 200, response.body);
}

/**
 * Dialtone's worker over the test simulator with the given procurement, running on `taskQueue`.
 * `ledgerKey` keys the purchase ledger: its own per test file, as every file runs its workers on its
 * own task queue of one Temporal server.
 */
export async function startLicensingWorker(temporal: TestTemporal, sim: TestSimulator, taskQueue: string, settings: ProcurementSettings, ledgerKey: string):
  Promise<{ worker: Worker; running: Promise<void>; stop(): Promise<void> }> {
  const worker = await createDialtoneWorker({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    activities: {
      ...createTenantActivities(sim.tenant, TEST_POLLING),
      // The worker's own choice of credential for Partner Center (the partner's app); the ledger keyed by the test.
      ...createLicensingActivities({
        procurement: createLicenseProcurement(settings, procurementCredential(settings, createCredential(sim.tenant)), ledgerKey),
      }),
    },
  });
  const running = worker.run();
  return {
    worker,
    running,
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

/** A worker that runs only the ledger workflow, on its own task queue. */
export async function startLedgerWorker(temporal: TestTemporal): Promise<{ taskQueue: string; stop(): Promise<void> }> {
  const taskQueue = `ledger-${randomUUID()}`;
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowsPath: require.resolve('../../workflows/license-purchase-ledger/workflow'),
    dataConverter: dialtoneDataConverter,
  });
  const running = worker.run();
  return {
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

export function adapterFor(sim: TestSimulator, temporal: TestTemporal, taskQueue: string, ceilings: PurchaseCeilings, tenantId = sim.tenant.tenantId,
  options: Partial<Omit<PartnerCenterProcurementOptions, 'ledger' | 'ceilings' | 'tenantId'>> = {}): PartnerCenterProcurement {
  const settings = pcSettings(sim, ceilings);
  return new PartnerCenterProcurement({
    client: pcClient(sim),
    ledger: new TemporalPurchaseLedger({ tenantId, client: () => temporal.client, taskQueue: () => taskQueue }),
    customerId: sim.tenant.tenantId,
    tenantId,
    ceilings,
    offer: offerSelection(settings),
    maxPollIntervalMs: 100,
    ...options,
  });
}

/** A Partner Center client with the simulated partner's app, as the worker builds it in simulator mode. */
export function pcClient(sim: TestSimulator, app = simulatorPartnerCenterApp(sim.url)): PartnerCenterClient {
  return new PartnerCenterClient({ credential: createCredential(app), baseUrl: sim.url, app });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await sleep(100);
  }
}
