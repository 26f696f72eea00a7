/**
 * The pre-flight against the tenant simulator: everything knowable before the first write, every
 * problem at once, and not one write to the tenant on the way.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Activities, PreflightInput } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import type { TestSimulator } from '../helpers/simulator';
import { ApplicationFailureCategory } from '@temporalio/common';
import { activitiesPerSuite, failureOf, provisionedAccount, retried, run, upn } from './harness';

function request(overrides: Partial<PreflightInput> = {}): PreflightInput {
  return { upn: upn(), kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550103', numberType: 'callingPlan', ...overrides };
}

/** Requests that change the tenant (anything but a read), the token endpoint aside. */
async function writes(sim: TestSimulator): Promise<number> {
  const summary = (await sim.app.inject({ method: 'GET', url: '/_simulator/requests' })).json() as { routes: { method: string; route: string; count: number }[] };
  return summary.routes
    .filter((r) => r.method !== 'GET' && !r.route.includes('oauth2') && !r.route.startsWith('/_simulator'))
    .reduce((sum, r) => sum + r.count, 0);
}

describe('preflight against the tenant simulator', () => {
  let sim: TestSimulator;
  let acts: Activities;
  activitiesPerSuite((started) => ({ sim, acts } = started));

  test('a request nothing stands in the way of: no problem, the stock, and that the account will be created', async () => {
    const result = await run(acts, 'preflight', request());
    assert.deepEqual(result.problems, []);
    assert.equal(result.account.state, 'absent');
    assert.ok((result.license?.available ?? 0) >= 1);
    assert.deepEqual(result.number, { numberType: 'callingPlan', isoCountryCode: 'US', city: result.number?.city, onThisAccount: false });
  });

  test('lists every problem at once — domain, user number, country, licenses — and writes nothing', async () => {
    await sim.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { capabilityStatus: 'Suspended' } });
    try {
      const before = await writes(sim);
      const result = await run(acts, 'preflight', request({
        upn: `aa-${randomUUID().slice(0, 6)}@fabrikam.com`,
        usageLocation: 'GB',
        phoneNumber: '+14255550150',
      }));
      assert.equal(await writes(sim), before, 'the pre-flight only reads');
      assert.deepEqual(result.problems.map((p) => [p.type, p.field]).sort(), [
        [ErrorType.DomainNotVerified, 'upn'],
        [ErrorType.LicenseSubscriptionInactive, 'licenses'],
        [ErrorType.NumberCountryMismatch, 'usageLocation'],
        [ErrorType.NumberNotServiceNumber, 'phoneNumber'],
      ].sort());
      const byType = new Map(result.problems.map((p) => [p.type, p.message]));
      assert.match(byType.get(ErrorType.DomainNotVerified) ?? '', /fabrikam\.com is not a verified domain of the tenant \(verified: contoso\.onmicrosoft\.com\)/);
      assert.match(byType.get(ErrorType.NumberCountryMismatch) ?? '', /\+14255550150 is a US number but the usage location is GB.*Set usageLocation US/);
    } finally {
      await sim.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { capabilityStatus: 'Enabled' } });
    }
  });

  test('a number held by another account is named by that account\'s UPN; the same number on this account is fine', async () => {
    const holderUpn = upn('holder');
    const holder = await provisionedAccount(acts, 'autoAttendant', holderUpn);
    await retried(acts, 'assignPhoneNumber', { accountId: holder, phoneNumber: '+12065550104', numberType: 'callingPlan' });

    const other = await run(acts, 'preflight', request({ phoneNumber: '+12065550104' }));
    assert.deepEqual(other.problems.map((p) => p.type), [ErrorType.NumberAlreadyAssigned]);
    assert.match(other.problems[0]?.message ?? '', new RegExp(`already assigned to ${holderUpn.replace(/[.+]/g, '\\$&')} \\("Test"\\)`));

    const same = await run(acts, 'preflight', request({ upn: holderUpn, phoneNumber: '+12065550104' }));
    assert.deepEqual(same.problems, []);
    assert.equal(same.account.state, 'resource-account');
    assert.equal(same.account.accountId, holder);
    assert.equal(same.account.holdsLicense, true);
    assert.equal(same.license?.needed, 0, 'its own license is not counted again');
    assert.equal(same.number?.onThisAccount, true);
  });

  test('an existing account of the other kind, or a user that is not a resource account, holds the UPN', async () => {
    const queue = upn('cq');
    await run(acts, 'createResourceAccount', { upn: queue, displayName: 'Queue', kind: 'callQueue' });
    // A new account reaches Graph's replicas, then the Teams list, a moment after its creation.
    let kind = await retried(acts, 'preflight', request({ upn: queue }));
    for (let i = 0; i < 100 && kind.result.account.state === 'absent'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      kind = await retried(acts, 'preflight', request({ upn: queue }));
    }
    assert.ok(kind.retries.every((r) => r.type === ErrorType.NotYetVisible), 'waits until Teams lists the new account');
    assert.deepEqual(kind.result.problems.map((p) => [p.type, p.field]), [[ErrorType.AccountKindConflict, 'kind']]);

    const person = upn('person');
    const seeded = await sim.app.inject({ method: 'POST', url: '/_simulator/seed', payload: { users: [{ userPrincipalName: person, displayName: 'A person' }] } });
    assert.equal(seeded.statusCode, 201, seeded.body);
    const user = await run(acts, 'preflight', request({ upn: person }));
    assert.deepEqual(user.problems.map((p) => p.type), [ErrorType.UpnConflict]);
  });

  test('failures that are part of normal operation are marked benign: logged without a stack, not counted as errors', async () => {
    await sim.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { capabilityStatus: 'Suspended' } });
    try {
      const expected = await failureOf(run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 }));
      assert.equal(expected.type, ErrorType.LicenseSubscriptionInactive);
      assert.equal(expected.category, ApplicationFailureCategory.BENIGN);
      assert.equal(expected.nonRetryable, true, 'marking keeps the failure as it was');
      assert.doesNotMatch(expected.stack ?? '', /\n\s+at /, 'no stack frames');
    } finally {
      await sim.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { capabilityStatus: 'Enabled' } });
    }
  });

  test('a deleted account holding the UPN is a problem under "stop", and the plan under "restore"', async () => {
    const name = upn('gone');
    const accountId = await provisionedAccount(acts, 'autoAttendant', name);
    await run(acts, 'removeLicense', { accountId, skuId: (await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 })).skuId });
    await run(acts, 'deleteResourceAccount', { accountId });
    const stop = await run(acts, 'preflight', request({ upn: name }));
    assert.deepEqual(stop.problems.map((p) => p.type), [ErrorType.DeletedAccountHoldsUpn]);
    const restore = await run(acts, 'preflight', request({ upn: name, onDeletedAccount: 'restore' }));
    assert.deepEqual(restore.problems, []);
    assert.deepEqual(restore.account, { state: 'deleted', accountId, policy: 'restore' });
  });
});
