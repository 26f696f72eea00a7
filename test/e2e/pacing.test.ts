/**
 * Dialtone paces itself: with the tenant's budget at 300 resource units per 10 s and 30 % transient
 * faults, every account of a concurrent batch completes, progress is steady, and the budget's own 429s
 * stay under 5 % of the calls — because the worker waits for budget instead of learning it from 429s.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { provisionResourceAccount } from '../../workflows';
import { PROVISION_WORKFLOW_TYPE, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

const ACCOUNTS = 100;
const BUDGET = { resourceUnits: 300, windowMs: 10_000 };

interface RequestSummary {
  total: number;
  routes: Array<{ route: string; count: number; statuses: Record<string, number> }>;
  throttled: Record<string, number>;
}

describe('pacing to a tight tenant budget with faults', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack(
      { throttle: BUDGET, faultRate: 0.3, numbers: Array.from({ length: ACCOUNTS }, (_, i) => ({ telephoneNumber: `+1206555${String(2000 + i)}`, isoCountryCode: 'US', city: 'Seattle' })) },
      // This worker's share: 90 % of the budget, the rest left for what the pacer cannot see (token requests aside, faults' retries).
      { resourceUnits: 270, windowMs: 10_000 },
      // The worker's own cadence for checks inside waits (seconds, not the tests' milliseconds).
      {},
    );
  });
  after(async () => {
    await stack?.shutdown();
  });

  test(`${ACCOUNTS} concurrent accounts all complete, progress is steady up to the last stragglers, and the budget's 429s stay under 5 %`, async () => {
    const units = await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: ACCOUNTS + 25 } });
    assert.equal(units.statusCode, 200, units.body);
    const handles = await Promise.all(
      Array.from({ length: ACCOUNTS }, (_, i) => {
        const upn = `paced-${i}-${randomUUID().slice(0, 6)}@contoso.onmicrosoft.com`;
        return stack.temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
          taskQueue: stack.taskQueue,
          workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, upn),
          args: [{
            tenantId: LOCAL_TENANT_ID, upn, displayName: `Paced ${i}`, kind: 'autoAttendant', usageLocation: 'US',
            phoneNumber: `+1206555${String(2000 + i)}`, phoneNumberType: 'callingPlan',
          }],
        });
      }),
    );
    const started = Date.now();
    const completedAt: number[] = [];
    const progress = setInterval(() => console.log(`paced: ${completedAt.length}/${ACCOUNTS} completed after ${Math.round((Date.now() - started) / 1000)} s`), 15_000);
    const results = await Promise.all(handles.map((h) => h.result().then((r) => {
      completedAt.push(Date.now() - started);
      return r;
    }))).finally(() => clearInterval(progress));
    assert.deepEqual(results.map((r) => r.state), results.map(() => 'completed'), JSON.stringify(results.filter((r) => r.state !== 'completed').map((r) => r.attention)));

    // Steady: once the first account is done, no 30 s pass without another one finishing, up to the last
    // 5 % — those are runs in Temporal's growing backoff after faults in a row (30 % faults make some).
    completedAt.sort((a, b) => a - b);
    const body = completedAt.slice(0, Math.ceil(ACCOUNTS * 0.95));
    const gaps = body.slice(1).map((t, i) => t - (body[i] ?? 0));
    assert.ok(Math.max(...gaps) < 30_000, `longest pause between completions ${Math.max(...gaps)} ms`);

    const summary = (await stack.simulator.app.inject({ method: 'GET', url: '/_simulator/requests' })).json() as RequestSummary;
    const tenantCalls = summary.routes.filter((r) => !r.route.includes('oauth2') && !r.route.includes('discovery')).reduce((sum, r) => sum + r.count, 0);
    const budget429s = (summary.throttled.ResourceUnitLimitExceeded ?? 0) + (summary.throttled.WriteLimitExceeded ?? 0);
    const share = budget429s / tenantCalls;
    console.log(`paced: ${ACCOUNTS} accounts in ${(completedAt[completedAt.length - 1] ?? 0) / 1000} s, ${tenantCalls} tenant calls ` +
      `(${(tenantCalls / ACCOUNTS).toFixed(1)} per account), budget 429s ${budget429s} (${(share * 100).toFixed(1)} %), injected 429s ${summary.throttled.CPULimitExceeded ?? 0}`);
    assert.ok(share < 0.05, `the budget's 429s are ${(share * 100).toFixed(1)} % of ${tenantCalls} calls`);
  });
});
