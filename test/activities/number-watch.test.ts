/**
 * The number step through the worker's shared number watch: concurrent waits share each look at the
 * inventory, a success is seen in the inventory without reading the operation, a failure is still
 * read from the operation, and a number whose activation failed stops the step for a person.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Activities } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import { NUMBER_OPERATION_FAILURES } from '../../simulator/state';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { failureOf, provisionedAccount, requestCount, retried, run, state, upn } from './harness';

const INVENTORY = '/v1.0/admin/teams/telephoneNumberManagement/numberAssignments';
const OPERATION = '/v1.0/admin/teams/telephoneNumberManagement/operations/:id';
const ASSIGN = '/v1.0/admin/teams/telephoneNumberManagement/numberAssignments/assignNumber';
const WAITS = 8;
const NUMBERS = Array.from({ length: WAITS }, (_, i) => `+1206555010${i}`);

interface Counts { inventory: number; operation: number; assign: number }

async function counts(sim: TestSimulator): Promise<Counts> {
  // The simulator counts a request once its answer is sent: let the last answers be counted.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { inventory: await requestCount(sim, INVENTORY), operation: await requestCount(sim, OPERATION), assign: await requestCount(sim, ASSIGN) };
}

function since(start: Counts, end: Counts): Counts {
  return { inventory: end.inventory - start.inventory, operation: end.operation - start.operation, assign: end.assign - start.assign };
}

const activation = (sim: TestSimulator, phoneNumber: string, body: unknown) =>
  sim.app.inject({ method: 'POST', url: `/_simulator/numbers/${encodeURIComponent(phoneNumber)}/activation`, payload: body as Record<string, unknown> });

/** Waits out the fast profile's Teams sync, so that an assignment is not refused as "Teams not ready yet". */
const teamsSynced = () => new Promise((resolve) => setTimeout(resolve, 400));

describe('the shared number watch', () => {
  let sim: TestSimulator;
  let acts: Activities;
  before(async () => {
    // Operations long enough that every wait looks many times.
    sim = await startTestSimulator({ delays: { numberOperation: { minMs: 1500, maxMs: 2500 } } });
    acts = createTenantActivities(sim.tenant, TEST_POLLING);
  });
  after(async () => {
    await sim?.close();
  });

  test(`${WAITS} assignments waiting at once share each inventory read, and succeed without one operation read`, async () => {
    const accounts = await Promise.all(NUMBERS.map(() => provisionedAccount(acts)));
    await teamsSynced();
    const start = await counts(sim);
    const heartbeats: { operationId?: string; checks?: number }[][] = NUMBERS.map(() => []);
    const results = await Promise.all(NUMBERS.map((phoneNumber, i) =>
      run(acts, 'assignPhoneNumber', { accountId: accounts[i] ?? '', phoneNumber, numberType: 'callingPlan' }, {}, (details) => heartbeats[i]?.push(details as { operationId?: string }))));
    const used = since(start, await counts(sim));
    assert.ok(results.every((r) => r.assigned), 'every number assigned in one attempt');
    results.forEach((result, i) => {
      // Each activity heartbeats its own operation at each look, though the looks are shared.
      const own = heartbeats[i] ?? [];
      assert.ok(own.length > result.checks / 2, `${own.length} heartbeats for ${result.checks} looks`);
      assert.ok(own.every((details) => details.operationId === result.operationId), JSON.stringify(own.slice(0, 3)));
    });
    const looks = Math.max(...results.map((r) => r.checks));
    assert.ok(looks >= 5, `each wait looked several times (at most ${looks})`);
    assert.equal(used.assign, WAITS);
    assert.equal(used.operation, 0, 'success is read from the inventory, not from the operations');
    // Alone, each wait would read at every one of its looks: about WAITS × looks reads. Shared: one per
    // look, plus the gathered lookups before the POSTs.
    assert.ok(used.inventory <= looks + 3, `${used.inventory} inventory reads for ${WAITS} waits of up to ${looks} looks each`);
    const numbers = (await state(sim)).numbers;
    NUMBERS.forEach((phoneNumber, i) => {
      const entry = numbers.find((n) => n.telephoneNumber === phoneNumber);
      assert.equal(entry?.assignmentTargetId, accounts[i], `${phoneNumber} is on its account`);
      assert.equal(entry?.activationState, 'activated');
    });

    // The roll-back shares the same way and needs no operation read either once the numbers are off.
    const undo = await counts(sim);
    const unassigned = await Promise.all(NUMBERS.map((phoneNumber, i) =>
      run(acts, 'unassignPhoneNumber', { accountId: accounts[i] ?? '', phoneNumber, numberType: 'callingPlan' })));
    assert.ok(unassigned.every((r) => r.unassigned));
    const undone = since(undo, await counts(sim));
    assert.ok(undone.inventory <= looks + 3, `${undone.inventory} inventory reads for ${WAITS} unassignments`);
  });

  test('a failed operation is still read from the operation, with its text in the message', async () => {
    const accountId = await provisionedAccount(acts);
    await teamsSynced();
    const start = await counts(sim);
    // A GB number on a US account: Teams accepts the request and the operation fails.
    const failure = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+442079460005', numberType: 'callingPlan' }));
    assert.equal(failure.type, ErrorType.AccountNotReadyForNumber);
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, new RegExp(NUMBER_OPERATION_FAILURES.countryMismatch.replace(/[.']/g, '.')));
    const used = since(start, await counts(sim));
    assert.equal(used.operation, 1, 'the operation is read once, when the inventory no longer shows a change under way');
  });

  test('an attempt that ends while the operation runs leaves its id for the next, which does not assign again', async () => {
    const short = createTenantActivities(sim.tenant, { ...TEST_POLLING, budgetMs: 300 });
    const accountId = await provisionedAccount(acts);
    await teamsSynced();
    const start = await counts(sim);
    const { result, retries } = await retried(short, 'assignPhoneNumber', { accountId, phoneNumber: '+12065550110', numberType: 'callingPlan' });
    assert.equal(result.assigned, true);
    assert.ok(retries.length >= 1 && retries.every((r) => /still running/.test(r.message)), retries.map((r) => r.message).join('\n'));
    assert.equal(since(start, await counts(sim)).assign, 1, 'one POST, whatever the attempts');
  });

  test('a pending marking alone never decides: an operation that failed under a stuck number is read at the end of the attempt', async () => {
    const accountId = await provisionedAccount(acts);
    await teamsSynced();
    assert.equal((await sim.app.inject({ method: 'POST', url: `/_simulator/numbers/${encodeURIComponent('+12065550111')}/stuck` })).statusCode, 200);
    try {
      const start = await counts(sim);
      const failure = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber: '+12065550111', numberType: 'callingPlan' }));
      assert.equal(failure.type, ErrorType.AccountNotReadyForNumber);
      assert.match(failure.message, /pending operation/);
      assert.equal(since(start, await counts(sim)).operation, 1);
    } finally {
      await sim.app.inject({ method: 'POST', url: `/_simulator/numbers/${encodeURIComponent('+12065550111')}/release` });
    }
  });
});

describe('numbers whose activation fails or is pending', () => {
  let sim: TestSimulator;
  let acts: Activities;
  before(async () => {
    sim = await startTestSimulator();
    acts = createTenantActivities(sim.tenant, TEST_POLLING);
  });
  after(async () => {
    await sim?.close();
  });

  test('an assignment that succeeds but leaves the number assignmentFailed stops for a person, and the roll-back still unassigns it', async () => {
    const accountId = await provisionedAccount(acts);
    await teamsSynced();
    const phoneNumber = '+12065550112';
    assert.equal((await activation(sim, phoneNumber, { failNextAssignment: true })).statusCode, 200);
    const start = await counts(sim);
    const failure = await failureOf(retried(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' }));
    assert.equal(failure.type, ErrorType.NumberActivationFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, new RegExp(`\\${phoneNumber} is on ${accountId} but Teams reports its activation as assignmentFailed after operation \\S+ reported success`));
    assert.match(failure.message, /Teams admin center \(Voice > Phone numbers\).*assign it again.*retry the step, or roll the run back/);
    assert.equal(since(start, await counts(sim)).operation, 0, 'the inventory told');

    // A new attempt (a person's retry) that finds it so stops at once, without another POST.
    const again = await counts(sim);
    const retry = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' }));
    assert.equal(retry.type, ErrorType.NumberActivationFailed);
    assert.equal(since(again, await counts(sim)).assign, 0);

    assert.deepEqual(await run(acts, 'unassignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' }), { unassigned: true });
    const entry = (await state(sim)).numbers.find((n) => n.telephoneNumber === phoneNumber);
    assert.equal(entry?.assignmentTargetId, null);
    assert.equal(entry?.activationState, 'activated');
  });

  test('updateFailed on the account stops for a person; updatePending keeps the step waiting', async () => {
    const accountId = await provisionedAccount(acts);
    await teamsSynced();
    const phoneNumber = '+12065550113';
    await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });

    assert.equal((await activation(sim, phoneNumber, { state: 'updatePending' })).statusCode, 200);
    const pending = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' }));
    assert.equal(pending.type, ErrorType.AccountNotReadyForNumber);
    assert.equal(pending.nonRetryable, false);
    assert.match(pending.message, /updatePending/);

    assert.equal((await activation(sim, phoneNumber, { state: 'updateFailed' })).statusCode, 200);
    const failed = await failureOf(run(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' }));
    assert.equal(failed.type, ErrorType.NumberActivationFailed);
    assert.equal(failed.nonRetryable, true);
    assert.match(failed.message, /activation as updateFailed/);

    assert.equal((await activation(sim, phoneNumber, { state: 'activated' })).statusCode, 200);
    const settled = await run(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
    assert.equal(settled.alreadyAssigned, true);
  });

  test('the pre-flight names a failed activation on the account; a number failed on another account is taken', async () => {
    const name = upn();
    const accountId = await provisionedAccount(acts, 'autoAttendant', name);
    await teamsSynced();
    const phoneNumber = '+12065550114';
    await retried(acts, 'assignPhoneNumber', { accountId, phoneNumber, numberType: 'callingPlan' });
    assert.equal((await activation(sim, phoneNumber, { state: 'assignmentFailed' })).statusCode, 200);

    const own = await run(acts, 'preflight', { upn: name, kind: 'autoAttendant', usageLocation: 'US', phoneNumber, numberType: 'callingPlan' });
    assert.deepEqual(own.problems.map((p) => [p.type, p.field]), [[ErrorType.NumberActivationFailed, 'phoneNumber']]);
    assert.match(own.problems[0]?.message ?? '', /assignmentFailed.*Teams admin center/);

    const other = await run(acts, 'preflight', { upn: upn(), kind: 'autoAttendant', usageLocation: 'US', phoneNumber, numberType: 'callingPlan' });
    assert.deepEqual(other.problems.map((p) => p.type), [ErrorType.NumberAlreadyAssigned]);
    assert.match(other.problems[0]?.message ?? '', /\(assignmentFailed\)/);
  });
});
