/**
 * The real activities against the tenant simulator over HTTPS: real `@azure/identity` credential,
 * real Graph SDK client, real Teams admin client. Failures must carry the stable types the workflow
 * relies on.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Activities } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import { LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET } from '../../lib/local-defaults';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';

function upn(prefix = 'aa'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
}

/** Runs an activity inside an activity context, as the worker would. */
function run<K extends keyof Activities>(
  activities: Activities,
  name: K,
  input: Parameters<Activities[K]>[0],
  info: { attempt?: number; heartbeatDetails?: unknown } = {},
): ReturnType<Activities[K]> {
  // Expected failures are asserted below; the environment need not log them too.
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  const fn = activities[name] as (i: typeof input) => ReturnType<Activities[K]>;
  return env.run(fn, input) as ReturnType<Activities[K]>;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => assert.fail('expected the activity to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

async function state(sim: TestSimulator): Promise<{ users: Array<Record<string, unknown>>; numbers: Array<Record<string, unknown>> }> {
  return (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json();
}

describe('activities against the tenant simulator', () => {
  let sim: TestSimulator;
  let acts: Activities;
  before(async () => {
    sim = await startTestSimulator();
    acts = createTenantActivities(sim.tenant, TEST_POLLING);
  });
  after(async () => {
    await sim?.close();
  });

  async function provisionedAccount(kind: 'autoAttendant' | 'callQueue' = 'autoAttendant'): Promise<string> {
    const { accountId } = await run(acts, 'createResourceAccount', { upn: upn(), displayName: 'Test', kind });
    // Replication lag: retry as Temporal would until the account is visible.
    for (let i = 0; ; i++) {
      try {
        await run(acts, 'assignLicense', { accountId, usageLocation: 'US', skuId: RESOURCE_ACCOUNT_SKU_ID });
        break;
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.type === ErrorType.NotYetVisible) || i > 100) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await run(acts, 'waitForLicense', { accountId });
    return accountId;
  }

  test('checkLicenseAvailability counts free units of the resource-account SKU', async () => {
    const result = await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 });
    assert.equal(result.skuId, RESOURCE_ACCOUNT_SKU_ID);
    assert.equal(result.skuPartNumber, 'PHONESYSTEM_VIRTUALUSER');
    assert.equal(result.needed, 1);
    assert.equal(result.available, result.enabled - result.consumed);
    assert.ok(result.enabled >= 25);
  });

  test('createResourceAccount creates an application instance, then adopts it on a second call', async () => {
    const name = upn('cq');
    const first = await run(acts, 'createResourceAccount', { upn: name, displayName: 'Queue', kind: 'callQueue' });
    assert.equal(first.adopted, false);
    const second = await run(acts, 'createResourceAccount', { upn: name, displayName: 'Queue', kind: 'callQueue' });
    assert.equal(second.accountId, first.accountId);
    assert.equal(second.adopted, true);
    const user = (await state(sim)).users.find((u) => String(u.userPrincipalName).toLowerCase() === name);
    assert.ok(user, 'the simulator holds the new directory user');
    assert.equal(user.accountEnabled, false);
  });

  test('a retried create that finds the account it made itself does not call it adopted', async () => {
    const name = upn();
    await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' });
    const retry = await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' }, {
      attempt: 2,
      heartbeatDetails: { preExisting: false },
    });
    assert.equal(retry.adopted, false);
  });

  test('an existing account of the other kind is a conflict a person must resolve', async () => {
    const name = upn();
    await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' });
    const failure = await failureOf(run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'callQueue' }));
    assert.equal(failure.type, ErrorType.AccountKindConflict);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /auto attendant/);
  });

  test('a UPN on an unverified domain is refused with the fix named', async () => {
    const failure = await failureOf(
      run(acts, 'createResourceAccount', { upn: `aa-${randomUUID().slice(0, 6)}@fabrikam.example`, displayName: 'AA', kind: 'autoAttendant' }),
    );
    assert.equal(failure.type, ErrorType.DomainNotVerified);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /verif/i);
  });

  test('a UPN held by an ordinary user is a UPN conflict', async () => {
    const failure = await failureOf(run(acts, 'createResourceAccount', { upn: 'AdeleV@contoso.onmicrosoft.com', displayName: 'AA', kind: 'autoAttendant' }));
    assert.equal(failure.type, ErrorType.UpnConflict);
    assert.equal(failure.nonRetryable, true);
  });

  test('assignLicense right after creation waits out replication, then sets usage location and license', async () => {
    const name = upn();
    const { accountId } = await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' });
    let sawLag = false;
    let result;
    for (let i = 0; i < 200 && !result; i++) {
      try {
        result = await run(acts, 'assignLicense', { accountId, usageLocation: 'GB', skuId: RESOURCE_ACCOUNT_SKU_ID });
      } catch (err) {
        assert.ok(err instanceof ApplicationFailure && err.type === ErrorType.NotYetVisible && !err.nonRetryable, String(err));
        sawLag = true;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    assert.ok(sawLag, 'the simulator hides a new account for its replication window');
    assert.deepEqual(result, { usageLocationChanged: true, licenseAdded: true });
    const again = await run(acts, 'assignLicense', { accountId, usageLocation: 'GB', skuId: RESOURCE_ACCOUNT_SKU_ID });
    assert.deepEqual(again, { usageLocationChanged: false, licenseAdded: false }, 'idempotent');
    const user = (await state(sim)).users.find((u) => u.id === accountId);
    assert.equal(user?.usageLocation, 'GB');
  });

  test('waitForLicense returns once the plan is provisioned and Teams sees it, counting its checks', async () => {
    const accountId = await provisionedAccount();
    const again = await run(acts, 'waitForLicense', { accountId }, { attempt: 2, heartbeatDetails: { checks: 4 } });
    assert.equal(again.checks, 5, 'checks carry over from the previous attempt');
  });

  test('assignPhoneNumber assigns a service number through the async operation, and is idempotent', async () => {
    const accountId = await provisionedAccount();
    const phoneNumber = '+12065550107';
    const result = await run(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
    assert.equal(result.assigned, true);
    assert.equal(result.alreadyAssigned, false);
    assert.ok(result.operationId);
    const number = (await state(sim)).numbers.find((n) => n.telephoneNumber === phoneNumber);
    assert.equal(number?.assignmentTargetId, accountId);
    assert.equal(number?.assignmentStatus, 'voiceApplicationAssigned');
    const again = await run(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
    assert.equal(again.alreadyAssigned, true);
    assert.equal(again.assigned, false);
  });

  test('number failures a person must fix are typed and final', async () => {
    const accountId = await provisionedAccount();
    const other = await provisionedAccount('callQueue');
    await run(acts, 'assignPhoneNumber', { accountId: other, phoneNumber: '+12065550111', numberType: 'callingPlan' });

    const taken = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+12065550111', numberType: 'callingPlan' }));
    assert.equal(taken.type, ErrorType.NumberAlreadyAssigned);
    assert.equal(taken.nonRetryable, true);

    const userNumber = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+14255550150', numberType: 'callingPlan' }));
    assert.equal(userNumber.type, ErrorType.NumberNotServiceNumber);

    const unknown = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+19995550100', numberType: 'callingPlan' }));
    assert.equal(unknown.type, ErrorType.NumberNotFound);
    assert.match(unknown.message, /inventory/);
  });

  test('compensations undo number, license and account, and are idempotent', async () => {
    const accountId = await provisionedAccount();
    const phoneNumber = '+12065550123';
    await run(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
    assert.deepEqual(await run(acts, 'unassignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' }), { unassigned: true });
    assert.deepEqual(await run(acts, 'unassignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' }), { unassigned: false });
    assert.deepEqual(await run(acts, 'removeLicense', { accountId, skuId: RESOURCE_ACCOUNT_SKU_ID }), { removed: true });
    assert.deepEqual(await run(acts, 'removeLicense', { accountId, skuId: RESOURCE_ACCOUNT_SKU_ID }), { removed: false });
    assert.deepEqual(await run(acts, 'deleteResourceAccount', { accountId }), { deleted: true });
    assert.deepEqual(await run(acts, 'deleteResourceAccount', { accountId }), { deleted: false });
    const number = (await state(sim)).numbers.find((n) => n.telephoneNumber === phoneNumber);
    assert.equal(number?.assignmentStatus, 'unassigned');
  });
});

describe('activities against a tenant that is not ready', () => {
  test('no free licenses: LicensesInsufficient with the purchase path', async () => {
    const sim = await startTestSimulator({ licenses: [{ skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', units: 0 }], users: [] });
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      const failure = await failureOf(run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 }));
      assert.equal(failure.type, ErrorType.LicensesInsufficient);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /Purchase services/);
      // An operator buys licenses (simulated), and the same check passes.
      const bought = await sim.app.inject({ method: 'POST', url: '/_simulator/licenses/purchase', payload: { skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', units: 5 } });
      assert.equal(bought.statusCode, 200, bought.body);
      assert.equal((await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 })).available, 5);
    } finally {
      await sim.close();
    }
  });

  test('no resource-account subscription at all: LicenseSkuMissing', async () => {
    const sim = await startTestSimulator({ licenses: [{ skuPartNumber: 'ENTERPRISEPACK', units: 5 }], users: [] });
    try {
      const failure = await failureOf(run(createTenantActivities(sim.tenant, TEST_POLLING), 'checkLicenseAvailability', { upn: upn(), needed: 1 }));
      assert.equal(failure.type, ErrorType.LicenseSkuMissing);
    } finally {
      await sim.close();
    }
  });

  test('a license that has not propagated yet fails retryably after the attempt budget', async () => {
    const sim = await startTestSimulator({ delays: { licensePropagation: 600_000 } });
    try {
      const acts = createTenantActivities(sim.tenant, { initialIntervalMs: 10, maxIntervalMs: 20, budgetMs: 200 });
      const { accountId } = await run(acts, 'createResourceAccount', { upn: upn(), displayName: 'AA', kind: 'autoAttendant' });
      await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { replication: 0 } } });
      let assigned = false;
      for (let i = 0; i < 200 && !assigned; i++) {
        assigned = await run(acts, 'assignLicense', { accountId, usageLocation: 'US', skuId: RESOURCE_ACCOUNT_SKU_ID }).then(
          () => true,
          async () => {
            await new Promise((r) => setTimeout(r, 10));
            return false;
          },
        );
      }
      assert.ok(assigned);
      const failure = await failureOf(run(acts, 'waitForLicense', { accountId }));
      assert.equal(failure.type, ErrorType.LicenseNotYetProvisioned);
      assert.equal(failure.nonRetryable, false);
      assert.match(failure.message, /Pending/i);
    } finally {
      await sim.close();
    }
  });

  test('a missing permission is PermissionDenied naming the permission to grant', async () => {
    const sim = await startTestSimulator({
      apps: [{ clientId: LOCAL_CLIENT_ID, clientSecret: LOCAL_CLIENT_SECRET, graphRoles: ['User.ReadWrite.All'], teamsAdministrator: false }],
    });
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      const skus = await failureOf(run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 }));
      assert.equal(skus.type, ErrorType.PermissionDenied);
      assert.match(skus.message, /Organization\.Read\.All/);
      const teams = await failureOf(run(acts, 'createResourceAccount', { upn: upn(), displayName: 'AA', kind: 'autoAttendant' }));
      assert.equal(teams.type, ErrorType.PermissionDenied);
      assert.match(teams.message, /Teams Administrator/);
    } finally {
      await sim.close();
    }
  });

  test('a wrong client secret is AuthenticationFailed, and the secret never appears in the message', async () => {
    const sim = await startTestSimulator();
    try {
      const secret = `wrong-${randomUUID()}`;
      const acts = createTenantActivities({ ...sim.tenant, credential: { kind: 'secret', secret } }, TEST_POLLING);
      const failure = await failureOf(run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 }));
      assert.equal(failure.type, ErrorType.AuthenticationFailed);
      assert.equal(failure.nonRetryable, true);
      assert.ok(!failure.message.includes(secret));
      assert.match(failure.message, /AADSTS7000215/);
    } finally {
      await sim.close();
    }
  });

  test('throttling becomes a retryable failure whose next retry waits for Retry-After', async () => {
    const sim = await startTestSimulator({ throttle: { resourceUnits: 4, windowMs: 60_000 } });
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      let throttled: ApplicationFailure | undefined;
      for (let i = 0; i < 10 && !throttled; i++) {
        await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 }).catch((err: unknown) => {
          if (err instanceof ApplicationFailure && err.type === ErrorType.Throttled) throttled = err;
          else throw err;
        });
      }
      assert.ok(throttled, 'the budget runs out within ten checks');
      assert.equal(throttled.nonRetryable, false);
      assert.ok(throttled.nextRetryDelay !== undefined, 'Retry-After becomes nextRetryDelay');
    } finally {
      await sim.close();
    }
  });
});
