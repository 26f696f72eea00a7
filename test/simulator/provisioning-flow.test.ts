/**
 * The whole procedure (create → usage location → license → wait for Teams → number) on the real clock,
 * with each profile's own delays, polling the way a client must. It checks that the profiles let a run
 * finish; the deadline only stops a hung test and is not what is asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResponseType } from '@microsoft/microsoft-graph-client';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import type { SimulatorOptions } from '../../simulator/app';
import type { TestSimulator } from './helpers';
import { AUTO_ATTENDANT_APP_ID, DOMAIN, startSimulator } from './helpers';

const GIVE_UP_AFTER_MS = 60_000;

/** Retries `attempt` until it returns a value, like a client waiting out eventual consistency. */
async function eventually<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const giveUpAt = Date.now() + GIVE_UP_AFTER_MS;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}`, { cause: lastError });
    await sleep(20);
  }
}

async function provision(simulator: TestSimulator): Promise<void> {
  const graph = simulator.graph();
  const created = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', {
    method: 'POST',
    body: { userPrincipalName: `aa-flow@${DOMAIN}`, displayName: 'Flow', applicationId: AUTO_ATTENDANT_APP_ID },
  });
  assert.equal(created.status, 200);
  const { objectId } = (await created.json()) as { objectId: string };

  await eventually('the account to replicate', async () => {
    await graph.api(`/users/${objectId}`).patch({ usageLocation: 'US' });
    return true;
  });
  // The license service may not see the usage location yet: retry the assignment as a client must.
  await eventually('the usage location to replicate', async () => {
    await graph.api(`/users/${objectId}/assignLicense`).post({ addLicenses: [{ skuId: RESOURCE_ACCOUNT_SKU_ID, disabledPlans: [] }], removeLicenses: [] });
    return true;
  });

  // Nothing tells when Teams has the license (userConfigurations does not list resource accounts):
  // an assignment that fails is tried again until one succeeds.
  const operation = await eventually('a number assignment to succeed', async () => {
    const accepted = (await graph.api('/admin/teams/telephoneNumberManagement/numberAssignments/assignNumber')
      .responseType(ResponseType.RAW)
      .post({ telephoneNumber: '+12065550100', assignmentTargetId: objectId, numberType: 'callingPlan' })) as Response;
    assert.equal(accepted.status, 202);
    const location = accepted.headers.get('location') ?? '';
    const finished = await eventually('the number operation to finish', async () => {
      const current = ((await graph.api(location).get()) as { value: { status: string } }).value;
      return ['succeeded', 'failed'].includes(current.status) ? current : undefined;
    });
    return finished.status === 'succeeded' ? finished : undefined;
  });
  assert.equal(operation.status, 'succeeded');

  const number = (await graph.api(`/admin/teams/telephoneNumberManagement/numberAssignments?$filter=${encodeURIComponent("telephoneNumber eq '+12065550100'")}`).get()) as {
    value: { assignmentTargetId: string; assignmentStatus: string }[];
  };
  assert.equal(number.value[0]?.assignmentTargetId, objectId);
  assert.equal(number.value[0]?.assignmentStatus, 'voiceApplicationAssigned');
}

const profiles: [string, Omit<SimulatorOptions, 'tls'>][] = [
  ['fast profile at time scale 1', { profile: 'fast' }],
  ['realistic profile compressed with the time scale', { profile: 'realistic', timeScale: 0.0002, faultRate: 0 }],
];

for (const [name, options] of profiles) {
  test(`a full provisioning completes on the ${name}`, async () => {
    // The profile's own delays, latency and throttle apply; only the clock is real instead of manual.
    const simulator = await startSimulator({ ...options, now: Date.now, delays: undefined, latency: undefined, throttle: undefined });
    try {
      await provision(simulator);
    } finally {
      await simulator.close();
    }
  });
}
