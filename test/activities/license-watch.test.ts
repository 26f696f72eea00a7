/**
 * License waits share their looks: many accounts waiting at once cost one list read per look between
 * them, not one read per account per look; and each still returns as soon as its license is there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Activities } from '../../activities/types';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { retried, run, upn } from './harness';

const ACCOUNTS = 12;

interface Summary { routes: Array<{ method?: string; route: string; count: number }> }

async function userReads(sim: TestSimulator): Promise<number> {
  const summary = (await sim.app.inject({ method: 'GET', url: '/_simulator/requests' })).json() as Summary;
  return summary.routes
    .filter((r) => (r.method ?? 'GET') === 'GET' && (r.route === '/v1.0/users' || r.route === '/v1.0/users/:id'))
    .reduce((sum, r) => sum + r.count, 0);
}

describe('the shared license watch', () => {
  let sim: TestSimulator;
  let acts: Activities;
  before(async () => {
    // Propagation long enough that every wait looks many times.
    sim = await startTestSimulator({ delays: { licensePropagation: { minMs: 1500, maxMs: 2500 } } });
    acts = createTenantActivities(sim.tenant, TEST_POLLING);
  });
  after(async () => {
    await sim?.close();
  });

  test(`${ACCOUNTS} accounts waiting at once share each look at the tenant`, async () => {
    const accounts = await Promise.all(Array.from({ length: ACCOUNTS }, async () => {
      const { accountId } = await run(acts, 'createResourceAccount', { upn: upn('watch'), displayName: 'Watched', kind: 'autoAttendant' });
      await retried(acts, 'assignLicense', { accountId, usageLocation: 'US', skuId: RESOURCE_ACCOUNT_SKU_ID });
      return accountId;
    }));
    const readsBefore = await userReads(sim);
    const results = await Promise.all(accounts.map((accountId) =>
      retried(acts, 'waitForLicense', { accountId, skuId: RESOURCE_ACCOUNT_SKU_ID }).then(({ result }) => result)));
    const reads = (await userReads(sim)) - readsBefore;
    const looks = Math.max(...results.map((r) => r.checks));
    assert.ok(looks >= 5, `each wait looked several times (at most ${looks})`);
    // Alone, each wait would read its account at every look: about ACCOUNTS × looks reads.
    assert.ok(reads <= looks + 5, `${reads} user reads for ${ACCOUNTS} waits of up to ${looks} looks each`);
    const state = (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { users: Array<{ id: string; licenses?: Array<{ provisioned: boolean }> }> };
    for (const accountId of accounts) {
      const user = state.users.find((u) => u.id === accountId);
      assert.ok(user?.licenses?.every((l) => l.provisioned), `${accountId} is provisioned when its wait returns`);
    }
  });
});
