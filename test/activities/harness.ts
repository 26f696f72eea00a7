/** Shared by the activity tests: run activities as the worker and Temporal's retry policy would, against one simulator per suite. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { TeamsAdminAdapterName } from '../../activities/teams-admin/teams-admin';
import type { Activities } from '../../activities/types';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';

export function upn(prefix = 'aa'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
}

/** Runs an activity inside an activity context, as the worker would. */
export function run<K extends keyof Activities>(
  activities: Activities,
  name: K,
  input: Parameters<Activities[K]>[0],
  info: { attempt?: number; heartbeatDetails?: unknown } = {},
  onHeartbeat?: (details: unknown) => void,
): ReturnType<Activities[K]> {
  // Expected failures are asserted below; the environment need not log them too.
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  if (onHeartbeat) env.on('heartbeat', onHeartbeat);
  const fn = activities[name] as (i: typeof input) => ReturnType<Activities[K]>;
  return env.run(fn, input) as ReturnType<Activities[K]>;
}

/**
 * Runs an activity the way Temporal's retry policy would: a retryable failure is tried again (after a
 * short pause) with the attempt number and the last heartbeat details carried over, until it succeeds,
 * fails for good, or `maxAttempts` run out. Returns the result and the retryable failures seen on the way.
 */
export async function retried<K extends keyof Activities>(
  activities: Activities,
  name: K,
  input: Parameters<Activities[K]>[0],
  maxAttempts = 300,
): Promise<{ result: Awaited<ReturnType<Activities[K]>>; retries: ApplicationFailure[] }> {
  const retries: ApplicationFailure[] = [];
  let heartbeatDetails: unknown;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const result = await run(activities, name, input, { attempt, heartbeatDetails }, (details) => (heartbeatDetails = details));
      return { result: result as Awaited<ReturnType<Activities[K]>>, retries };
    } catch (err) {
      if (!(err instanceof ApplicationFailure) || err.nonRetryable || attempt >= maxAttempts) throw err;
      retries.push(err);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => assert.fail('expected the activity to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

/** How many requests the simulator answered on one route pattern (of one method, when given). */
export async function requestCount(sim: TestSimulator, route: string, method?: string): Promise<number> {
  const summary = (await sim.app.inject({ method: 'GET', url: '/_simulator/requests' })).json() as { routes: { method: string; route: string; count: number }[] };
  return summary.routes.filter((entry) => entry.route === route && (method === undefined || entry.method === method)).reduce((sum, entry) => sum + entry.count, 0);
}

export async function state(sim: TestSimulator): Promise<{ users: Array<Record<string, unknown>>; numbers: Array<Record<string, unknown>> }> {
  return (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json();
}

/**
 * One simulator and the real activities against it for the enclosing describe block; `use` receives them
 * once started. The Teams side is the REST adapter unless `teamsAdmin` names the PowerShell one (then
 * through the simulator's stand-in for pwsh, as a worker process in simulator mode runs it).
 */
export function activitiesPerSuite(use: (started: { sim: TestSimulator; acts: Activities }) => void, teamsAdmin: TeamsAdminAdapterName = 'rest-experimental'): void {
  let sim: TestSimulator | undefined;
  before(async () => {
    sim = await startTestSimulator();
    const tenant = { ...sim.tenant, teamsAdmin: { ...sim.tenant.teamsAdmin, adapter: teamsAdmin } };
    use({ sim, acts: createTenantActivities(tenant, TEST_POLLING) });
  });
  after(async () => {
    await sim?.close();
  });
}

/** Creates an account and licenses it; the replication and usage-location lags are retried as Temporal would. */
export async function provisionedAccount(acts: Activities, kind: 'autoAttendant' | 'callQueue' = 'autoAttendant', name = upn()): Promise<string> {
  const { accountId } = await run(acts, 'createResourceAccount', { upn: name, displayName: 'Test', kind });
  await retried(acts, 'assignLicense', { accountId, usageLocation: 'US', skuId: RESOURCE_ACCOUNT_SKU_ID });
  await run(acts, 'waitForLicense', { accountId, skuId: RESOURCE_ACCOUNT_SKU_ID });
  return accountId;
}
