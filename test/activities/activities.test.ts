/**
 * The real activities against the tenant simulator over HTTPS: real `@azure/identity` credential,
 * real Graph SDK client, real Teams admin client. Failures must carry the stable types the workflow
 * relies on.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import { LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET } from '../../lib/local-defaults';
import { RESOURCE_ACCOUNT_APP_IDS, RESOURCE_ACCOUNT_SERVICE_PLAN_ID, RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import { createActivities } from '../../activities';
import { createGraphClient } from '../../activities/graph/client';
import { RestTeamsAdmin } from '../../activities/teams-admin/rest-client';
import { createCredential } from '../../worker/credentials';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';

import { activitiesPerSuite, failureOf, provisionedAccount, requestCount, retried, run, state, upn } from './harness';

describe('activities against the tenant simulator', () => {
  let sim: TestSimulator;
  let acts: Activities;
  activitiesPerSuite((started) => ({ sim, acts } = started));

  test('checkLicenseAvailability counts free units of the resource-account SKU and names its service plans', async () => {
    const result = await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 });
    assert.equal(result.skuId, RESOURCE_ACCOUNT_SKU_ID);
    assert.equal(result.skuPartNumber, 'PHONESYSTEM_VIRTUALUSER');
    assert.equal(result.needed, 1);
    assert.equal(result.available, result.enabled - result.consumed);
    assert.ok(result.enabled >= 25);
    assert.deepEqual(result.servicePlanIds, [RESOURCE_ACCOUNT_SERVICE_PLAN_ID], 'read from the tenant, not assumed');
  });

  test('checkLicenseAvailability finds the account\'s own license by a $filter with the UPN\'s quote doubled', async () => {
    const name = `o'brien-${randomUUID().slice(0, 6)}@contoso.onmicrosoft.com`;
    const seeded = await sim.app.inject({
      method: 'POST', url: '/_simulator/seed',
      payload: { users: [{ userPrincipalName: name, displayName: "O'Brien", usageLocation: 'US', licenses: ['PHONESYSTEM_VIRTUALUSER'] }] },
    });
    assert.equal(seeded.statusCode, 201, seeded.body);
    assert.equal((await run(acts, 'checkLicenseAvailability', { upn: name, needed: 1 })).needed, 0);
  });

  test('createResourceAccount creates an application instance; a second request waits until Teams lists it, then adopts it', async () => {
    const name = upn('cq');
    const first = await run(acts, 'createResourceAccount', { upn: name, displayName: 'Queue', kind: 'callQueue' });
    assert.equal(first.adopted, false);
    // Teams does not list the new instance at once, and Graph 400s the second create: that must mean "wait", not "conflict".
    const second = await retried(acts, 'createResourceAccount', { upn: name, displayName: 'Queue', kind: 'callQueue' });
    assert.equal(second.result.accountId, first.accountId);
    assert.equal(second.result.adopted, true);
    assert.ok(second.retries.every((failure) => failure.type === ErrorType.NotYetVisible));
    const user = (await state(sim)).users.find((u) => String(u.userPrincipalName).toLowerCase() === name);
    assert.ok(user, 'the simulator holds the new directory user');
    assert.equal(user.accountEnabled, false);
  });

  test('a retried create that finds the account it made itself does not call it adopted', async () => {
    const name = upn();
    await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' });
    for (let attempt = 2; ; attempt += 1) {
      const retry = await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' }, {
        attempt,
        heartbeatDetails: { createUnknown: true },
      }).catch((err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.type === ErrorType.NotYetVisible && !err.nonRetryable, String(err));
        return undefined;
      });
      if (retry) {
        assert.equal(retry.adopted, false);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  test('an account on a later page of the Teams list is found by paging, not by a filter the service may lack', async () => {
    const users = Array.from({ length: 120 }, (_, index) => ({
      userPrincipalName: `filler-${index}-${randomUUID().slice(0, 6)}@contoso.onmicrosoft.com`, displayName: `Filler ${index}`,
      applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant,
    }));
    const last = users[users.length - 1]?.userPrincipalName ?? '';
    const seeded = await sim.app.inject({ method: 'POST', url: '/_simulator/seed', payload: { users } });
    assert.equal(seeded.statusCode, 201, seeded.body);
    const found = await run(acts, 'createResourceAccount', { upn: last, displayName: 'Filler', kind: 'autoAttendant' });
    assert.equal(found.adopted, true);
  });

  test('an existing account of the other kind is a conflict a person must resolve', async () => {
    const name = upn();
    await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' });
    const failure = await failureOf(retried(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'callQueue' }));
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

  test('a UPN held by an ordinary user is a UPN conflict (Graph\'s 400 ObjectConflict), naming that user', async () => {
    const failure = await failureOf(run(acts, 'createResourceAccount', { upn: 'AdeleV@contoso.onmicrosoft.com', displayName: 'AA', kind: 'autoAttendant' }));
    assert.equal(failure.type, ErrorType.UpnConflict);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /"Adele Vance", a directory user that is not a resource account/);
  });

  test('assignLicense right after creation waits out replication and the usage location\'s own lag, then assigns the license', async () => {
    const name = upn();
    const { accountId } = await run(acts, 'createResourceAccount', { upn: name, displayName: 'AA', kind: 'autoAttendant' });
    const { result, retries } = await retried(acts, 'assignLicense', { accountId, usageLocation: 'GB', skuId: RESOURCE_ACCOUNT_SKU_ID });
    assert.ok(retries.length > 0 && retries.every((failure) => failure.type === ErrorType.NotYetVisible), 'the simulator hides a new account for its replication window');
    assert.ok(retries.some((failure) => /Usage location not replicated yet/.test(failure.message)), 'and the license service sees the usage location late');
    assert.equal(result.licenseAdded, true);
    const again = await run(acts, 'assignLicense', { accountId, usageLocation: 'GB', skuId: RESOURCE_ACCOUNT_SKU_ID });
    assert.deepEqual(again, { usageLocationChanged: false, licenseAdded: false }, 'idempotent');
    const user = (await state(sim)).users.find((u) => u.id === accountId);
    assert.equal(user?.usageLocation, 'GB');
  });

  test('waitForLicense returns once the license\'s plans are provisioned, counting its checks, without asking Teams', async () => {
    const before = await requestCount(sim, '/v1.0/admin/teams/userConfigurations/:id');
    const accountId = await provisionedAccount(acts);
    const again = await run(acts, 'waitForLicense', { accountId, skuId: RESOURCE_ACCOUNT_SKU_ID }, { attempt: 2, heartbeatDetails: { checks: 4 } });
    assert.equal(again.checks, 5, 'checks carry over from the previous attempt');
    assert.equal(await requestCount(sim, '/v1.0/admin/teams/userConfigurations/:id'), before,
      'userConfigurations may not list resource accounts, so readiness never depends on it');
  });

  test('waitForLicense takes the plans to wait for from the tenant, not from a hard-coded plan id', async () => {
    const bought = await sim.app.inject({ method: 'POST', url: '/_simulator/licenses/purchase', payload: { skuPartNumber: 'MCOEV', units: 1 } });
    assert.equal(bought.statusCode, 200, bought.body);
    const { servicePlans, skuId } = bought.json() as { skuId: string; servicePlans: { servicePlanId: string }[] };
    const { accountId } = await run(acts, 'createResourceAccount', { upn: upn(), displayName: 'Phone', kind: 'autoAttendant' });
    await retried(acts, 'assignLicense', { accountId, usageLocation: 'US', skuId });
    const ready = await run(acts, 'waitForLicense', { accountId, skuId, servicePlanIds: servicePlans.map((plan) => plan.servicePlanId) });
    assert.ok(ready.checks >= 1);
  });

  test('assignPhoneNumber assigns a service number through the async operation, and is idempotent', async () => {
    const accountId = await provisionedAccount(acts);
    const phoneNumber = '+12065550107';
    // Teams may lag behind the directory: the number step itself waits for it (retryably).
    const { result } = await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
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
    const accountId = await provisionedAccount(acts);
    const other = await provisionedAccount(acts, 'callQueue');
    await retried(acts, 'assignPhoneNumber', { accountId: other, phoneNumber: '+12065550111', numberType: 'callingPlan' });

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
    const accountId = await provisionedAccount(acts);
    const phoneNumber = '+12065550123';
    await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
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

describe('activities when the tenant is as strict as Microsoft', () => {
  let sim: TestSimulator;
  let acts: Activities;
  activitiesPerSuite((started) => ({ sim, acts } = started));

  /** Creates, licenses and numbers an account, then deletes it as a roll-back would: number, license, account. */
  async function rolledBackAccount(name: string, phoneNumber: string): Promise<string> {
    const accountId = await provisionedAccount(acts, 'autoAttendant', name);
    await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
    await run(acts, 'unassignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
    await run(acts, 'removeLicense', { accountId, skuId: RESOURCE_ACCOUNT_SKU_ID });
    assert.deepEqual(await run(acts, 'deleteResourceAccount', { accountId }), { deleted: true });
    return accountId;
  }

  test('a UPN held by a deleted account stops with the exact reason and the fix, by default', async () => {
    const name = upn();
    const deletedId = await rolledBackAccount(name, '+12065550124');
    const failure = await failureOf(retried(acts, 'createResourceAccount', { upn: name, displayName: 'Again', kind: 'autoAttendant' }));
    assert.equal(failure.type, ErrorType.DeletedAccountHoldsUpn);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, new RegExp(`deleted account \\(object id ${deletedId}, deleted `));
    assert.match(failure.message, /30 days, until .*"restore".*"purge".*Deleted users/);
  });

  test('onDeletedAccount purge deletes the deleted account permanently and creates a new one', async () => {
    const name = upn();
    const deletedId = await rolledBackAccount(name, '+12065550125');
    const { result } = await retried(acts, 'createResourceAccount', { upn: name, displayName: 'Again', kind: 'autoAttendant', onDeletedAccount: 'purge' });
    assert.notEqual(result.accountId, deletedId);
    assert.equal(result.adopted, false);
    assert.equal(result.purgedDeletedAccountId, deletedId);
    const deleted = (await state(sim)).users.find((user) => user.id === deletedId);
    assert.equal(deleted, undefined, 'gone from deleted items');
  });

  test('onDeletedAccount restore brings the deleted account back and owns it, as if created', async () => {
    const name = upn();
    const deletedId = await rolledBackAccount(name, '+12065550126');
    const { result } = await retried(acts, 'createResourceAccount', { upn: name, displayName: 'Again', kind: 'autoAttendant', onDeletedAccount: 'restore' });
    assert.deepEqual(result, { accountId: deletedId, adopted: false, restored: true });
  });

  test('the worker\'s onDeletedAccount applies when the run does not choose', async () => {
    const name = upn();
    const deletedId = await rolledBackAccount(name, '+12065550127');
    const purging = createActivities({
      graph: createGraphClient({ credential: createCredential(sim.tenant), baseUrl: sim.tenant.graphBaseUrl }),
      teamsAdmin: new RestTeamsAdmin({ credential: createCredential(sim.tenant), baseUrl: sim.tenant.teamsAdminBaseUrl }),
      polling: TEST_POLLING,
      onDeletedAccount: 'purge',
    });
    const { result } = await retried(purging, 'createResourceAccount', { upn: name, displayName: 'Again', kind: 'autoAttendant' });
    assert.equal(result.purgedDeletedAccountId, deletedId);
  });

  test('deleteResourceAccount refuses while a number is on the account, so the number is never stuck pending', async () => {
    const { accountId } = await run(acts, 'createResourceAccount', { upn: upn(), displayName: 'Holder', kind: 'autoAttendant' });
    await retried(acts, 'assignLicense', { accountId, usageLocation: 'US', skuId: RESOURCE_ACCOUNT_SKU_ID });
    await run(acts, 'waitForLicense', { accountId, skuId: RESOURCE_ACCOUNT_SKU_ID });
    await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+12065550128', numberType: 'callingPlan' });
    const failure = await failureOf(run(acts, 'deleteResourceAccount', { accountId }));
    assert.equal(failure.type, ErrorType.AccountHoldsNumber);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /\+12065550128.*stuck pending.*Unassign/);
    const number = (await state(sim)).numbers.find((entry) => entry.telephoneNumber === '+12065550128');
    assert.equal(number?.assignmentTargetId, accountId);
    assert.equal(number?.activationState, 'activated', 'nothing was deleted, nothing is stuck');
  });

  test('an unassignment Teams refuses is a failure a person must look at, not a success', async () => {
    const accountId = await provisionedAccount(acts);
    await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+12065550129', numberType: 'callingPlan' });
    const stuck = await sim.app.inject({ method: 'POST', url: `/_simulator/numbers/${encodeURIComponent('+12065550129')}/stuck` });
    assert.equal(stuck.statusCode, 200, stuck.body);
    const failure = await failureOf(run(acts, 'unassignPhoneNumber', { accountId, phoneNumber: '+12065550129', numberType: 'callingPlan' }));
    assert.equal(failure.type, ErrorType.NumberUnassignFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /keeps the number for now/);
    await sim.app.inject({ method: 'POST', url: `/_simulator/numbers/${encodeURIComponent('+12065550129')}/release` });
  });

  test('a number operation that fails in words nobody documented is retried while the account settles in Teams', async () => {
    // Teams sees the license long after the directory: the first assignments fail with a text the product must not parse.
    await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { teamsSync: 1_500 } } });
    try {
      const accountId = await provisionedAccount(acts);
      const { result, retries } = await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+12065550119', numberType: 'callingPlan' });
      assert.equal(result.assigned, true);
      assert.ok(retries.length > 0, 'Teams refused at first');
      assert.ok(retries.every((failure) => failure.type === ErrorType.AccountNotReadyForNumber && !failure.nonRetryable));
      assert.match(retries[0]?.message ?? '', /is not eligible/, 'the refusal is reported as Teams worded it');
    } finally {
      await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { teamsSync: { minMs: 50, maxMs: 150 } } } });
    }
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
      apps: [{ clientId: LOCAL_CLIENT_ID, clientSecret: LOCAL_CLIENT_SECRET, graphRoles: ['User.ReadWrite.All'], directoryRoles: [] }],
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

  test('consumedUnits lags: a stale free count passes the check, and the assignment that finds no unit is LicensesInsufficient', async () => {
    const sim = await startTestSimulator({ licenses: [{ skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', units: 1 }], users: [], delays: { consumedUnits: 60_000 } });
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      await provisionedAccount(acts);
      const stale = await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 });
      assert.equal(stale.available, 1, 'subscribedSkus does not count the unit just taken yet');
      const { accountId } = await run(acts, 'createResourceAccount', { upn: upn(), displayName: 'Second', kind: 'autoAttendant' });
      const failure = await failureOf(retried(acts, 'assignLicense', { accountId, usageLocation: 'US', skuId: RESOURCE_ACCOUNT_SKU_ID }));
      assert.equal(failure.type, ErrorType.LicensesInsufficient);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /Purchase services/);
    } finally {
      await sim.close();
    }
  });

  test('a suspended subscription is LicenseSubscriptionInactive with the way to reactivate it; a lapsed one in its grace period still counts', async () => {
    const sim = await startTestSimulator({ licenses: [{ skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', units: 5, capabilityStatus: 'Suspended' }], users: [] });
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      const failure = await failureOf(run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 }));
      assert.equal(failure.type, ErrorType.LicenseSubscriptionInactive);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /is Suspended: its 5 units cannot be assigned\. Reactivate or renew it/);

      await sim.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { capabilityStatus: 'Warning' } });
      const grace = await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 });
      assert.deepEqual({ enabled: grace.enabled, warning: grace.warning, available: grace.available }, { enabled: 5, warning: 5, available: 5 });
    } finally {
      await sim.close();
    }
  });

  test('a 429 without Retry-After is retried with Temporal\'s own backoff', async () => {
    const sim = await startTestSimulator({ throttle: { resourceUnits: 1, windowMs: 60_000 }, retryAfterOmissionRate: 1 });
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      let throttled: ApplicationFailure | undefined;
      for (let i = 0; i < 5 && !throttled; i++) {
        await run(acts, 'unassignPhoneNumber', { accountId: randomUUID(), phoneNumber: '+12065550100', numberType: 'callingPlan' }).catch((err: unknown) => {
          if (err instanceof ApplicationFailure && err.type === ErrorType.Throttled) throttled = err;
          else throw err;
        });
      }
      assert.ok(throttled, 'the number inventory answered 429');
      assert.equal(throttled.nonRetryable, false);
      assert.equal(throttled.nextRetryDelay, undefined, 'no Retry-After: the retry policy\'s backoff decides');
    } finally {
      await sim.close();
    }
  });
});
