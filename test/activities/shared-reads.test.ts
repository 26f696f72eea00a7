/**
 * The pre-flight's tenant-wide reads (verified domains, subscribed SKUs, deleted users) and its user
 * lookups by UPN (15 to a read) are shared by
 * the runs of one worker: pre-flights that start together cost one read of each, every verdict stays its
 * own, and no caller is answered from a read that began before it asked.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatheredLookups, Gathering } from '../../activities/gather';
import type { Activities, PreflightInput } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import type { TestSimulator } from '../helpers/simulator';
import { activitiesPerSuite, provisionedAccount, requestCount, run, upn } from './harness';

const ROUTES = ['/v1.0/organization', '/v1.0/subscribedSkus', '/v1.0/directory/deletedItems/microsoft.graph.user', '/v1.0/users'];
/** More than one `userPrincipalName in (...)` read holds (15 UPNs): the users are read twice. */
const RUNS = 20;

function request(overrides: Partial<PreflightInput> = {}): PreflightInput {
  return { upn: upn(), kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550103', numberType: 'callingPlan', ...overrides };
}

async function counts(sim: TestSimulator): Promise<number[]> {
  // The simulator counts a request once its answer is sent.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return Promise.all(ROUTES.map((route) => requestCount(sim, route, 'GET')));
}

describe('the shared tenant-wide reads of the pre-flight', () => {
  let sim: TestSimulator;
  let acts: Activities;
  activitiesPerSuite((started) => ({ sim, acts } = started));

  test(`${RUNS} pre-flights at once read the domains, the SKUs and the deleted users once, the users 15 a read, each with its own verdict`, async () => {
    const kept = upn('kept');
    const keptId = await provisionedAccount(acts, 'autoAttendant', kept);
    const gone = upn('gone');
    const accountId = await provisionedAccount(acts, 'autoAttendant', gone);
    await run(acts, 'removeLicense', { accountId, skuId: (await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 })).skuId });
    await run(acts, 'deleteResourceAccount', { accountId });

    const requests = Array.from({ length: RUNS }, () => request());
    requests[1] = request({ upn: gone });
    requests[2] = request({ upn: 'aa-unverified@fabrikam.example' });
    requests[3] = request({ upn: kept.toUpperCase() });
    const start = await counts(sim);
    const results = await Promise.all(requests.map((input) => run(acts, 'preflight', input)));
    const end = await counts(sim);

    assert.deepEqual(end.map((n, i) => n - (start[i] ?? 0)), [1, 1, 1, Math.ceil(RUNS / 15)], `reads of ${ROUTES.join(', ')}`);
    assert.deepEqual(results[1]?.problems.map((p) => p.type), [ErrorType.DeletedAccountHoldsUpn]);
    assert.deepEqual(results[1]?.account, { state: 'deleted', accountId, policy: 'stop' });
    assert.deepEqual(results[2]?.problems.map((p) => p.type), [ErrorType.DomainNotVerified]);
    assert.equal(results[3]?.account.state, 'resource-account');
    assert.equal(results[3]?.account.state === 'resource-account' ? results[3].account.accountId : undefined, keptId);
    results.filter((_, i) => i > 3).forEach((result) => {
      assert.deepEqual(result.problems, []);
      assert.equal(result.license?.skuPartNumber, 'PHONESYSTEM_VIRTUALUSER');
    });
  });

  test('a pre-flight after a change sees it: a read under way when it asked is not shared with it', async () => {
    const name = upn('later');
    const first = run(acts, 'preflight', request({ upn: name }));
    // While the first pre-flight's reads are gathering or running, the account appears and is deleted.
    const accountId = await provisionedAccount(acts, 'autoAttendant', name);
    await run(acts, 'removeLicense', { accountId, skuId: (await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 })).skuId });
    await run(acts, 'deleteResourceAccount', { accountId });
    await first;
    const second = await run(acts, 'preflight', request({ upn: name }));
    assert.deepEqual(second.problems.map((p) => p.type), [ErrorType.DeletedAccountHoldsUpn]);
  });
});

describe('Gathering', () => {
  test('callers that ask before the read starts share it; a caller that asks while it runs gets the next one', async () => {
    let reads = 0;
    let release: (() => void) | undefined;
    const shared = new Gathering(async () => {
      reads += 1;
      const n = reads;
      await new Promise<void>((resolve) => { release = resolve; });
      return n;
    }, 10);
    const early = [shared.join(), shared.join(), shared.join()];
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(reads, 1, 'the gathered callers started one read');
    const late = shared.join();
    release?.();
    assert.deepEqual(await Promise.all(early), [1, 1, 1]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    release?.();
    assert.equal(await late, 2, 'the caller that asked during the first read got a read of its own');
  });

  test('a failed read fails the callers that joined it, and the next caller reads again', async () => {
    let reads = 0;
    const shared = new Gathering(async () => {
      reads += 1;
      if (reads === 1) throw new Error('throttled');
      return reads;
    }, 5);
    const joined = await Promise.allSettled([shared.join(), shared.join()]);
    assert.deepEqual(joined.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(await shared.join(), 2);
  });
});

describe('GatheredLookups', () => {
  test('keys asked before the read starts are read together; each caller gets its own entry, a key not found none', async () => {
    const reads: string[][] = [];
    const lookups = new GatheredLookups<number>(async (keys) => {
      reads.push([...keys].sort());
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.length]));
    }, 10);
    const answers = await Promise.all([lookups.get('a'), lookups.get('bbb'), lookups.get('a'), lookups.get('missing')]);
    assert.deepEqual(answers, [1, 3, 1, undefined]);
    assert.deepEqual(reads, [['a', 'bbb', 'missing']], 'one read, each key once');
    assert.equal(await lookups.get('cc'), 2);
    assert.deepEqual(reads[1], ['cc'], 'a later caller gets a read of its own');
  });
});
