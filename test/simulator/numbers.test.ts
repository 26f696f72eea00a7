import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ResponseType } from '@microsoft/microsoft-graph-client';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import { NUMBER_OPERATION_FAILURES } from '../../simulator/state';
import type { TestSimulator } from './helpers';
import { TEST_DELAYS, createResourceAccount, graphFailure, simulatorPerSuite } from './helpers';

const NUMBER_ASSIGNMENTS = '/admin/teams/telephoneNumberManagement/numberAssignments';
const US_SERVICE_NUMBER = '+12065550100';
const OTHER_US_SERVICE_NUMBER = '+12065550101';
const GB_SERVICE_NUMBER = '+442079460000';
const US_USER_NUMBER = '+14255550150';

interface NumberAssignment {
  id: string;
  telephoneNumber: string;
  activationState: string;
  assignmentStatus: string;
  assignmentTargetId: string | null;
  capabilities: string[];
  isoCountryCode: string;
  numberType: string;
}

interface Operation {
  id: string;
  status: string;
  numbers: { status: string; statusDetail?: string; resourceLocation: string | null }[];
}

describe('telephone numbers', () => {
  let simulator: TestSimulator;
  simulatorPerSuite((started) => (simulator = started));

  const list = async (query: string) =>
    ((await simulator.graph().api(`${NUMBER_ASSIGNMENTS}?${query}`).get()) as { value: NumberAssignment[]; '@odata.nextLink'?: string });

  const number = async (telephoneNumber: string) =>
    (await list(`$filter=${encodeURIComponent(`telephoneNumber eq '${telephoneNumber}'`)}`)).value[0];

  /** A resource account whose license has reached Teams, ready for a number. */
  const readyAccount = async (name: string, usageLocation = 'US') => {
    const id = await createResourceAccount(simulator, name);
    simulator.clock.advance(TEST_DELAYS.replication);
    await simulator.graph().api(`/users/${id}`).patch({ usageLocation });
    simulator.clock.advance(TEST_DELAYS.usageLocationReplication);
    await simulator.graph().api(`/users/${id}/assignLicense`).post({ addLicenses: [{ skuId: RESOURCE_ACCOUNT_SKU_ID, disabledPlans: [] }], removeLicenses: [] });
    simulator.clock.advance(TEST_DELAYS.licensePropagation + TEST_DELAYS.teamsSync);
    return id;
  };

  /** Posts assignNumber/unassignNumber with the Graph client and returns the Location of the operation. */
  const start = async (action: 'assignNumber' | 'unassignNumber', body: Record<string, unknown>): Promise<string> => {
    const response = (await simulator.graph().api(`${NUMBER_ASSIGNMENTS}/${action}`).responseType(ResponseType.RAW).post(body)) as Response;
    assert.equal(response.status, 202);
    assert.equal(await response.text(), '', '202 has no body');
    const location = response.headers.get('location');
    assert.ok(location);
    return location;
  };
  /** The operation, unwrapped from the `value` Graph's documentation shows it in. */
  const poll = async (location: string) => ((await simulator.graph().api(location).get()) as { value: Operation }).value;
  const finish = async (location: string) => {
    simulator.clock.advance(TEST_DELAYS.numberOperation);
    return poll(location);
  };
  const assignNumber = (telephoneNumber: string, assignmentTargetId: string) =>
    start('assignNumber', { telephoneNumber, assignmentTargetId, numberType: 'callingPlan' });

  test('the inventory has at least 50 activated, unassigned Calling Plan service numbers (US toll, US toll-free, GB)', async () => {
    const free = await list(`$filter=${encodeURIComponent(
      "activationState eq 'activated' and assignmentStatus eq 'unassigned' and capabilities/any(c:c eq 'voiceApplicationAssignment')")}&$top=1000`);
    assert.ok(free.value.length >= 50);
    assert.ok(free.value.every((entry) => entry.numberType === 'callingPlan' && entry.telephoneNumber.startsWith('+')));
    assert.ok(free.value.some((entry) => entry.telephoneNumber.startsWith('+1206')));
    assert.ok(free.value.some((entry) => /^\+18\d\d/.test(entry.telephoneNumber)));
    assert.ok(free.value.some((entry) => entry.isoCountryCode === 'GB'));
  });

  test('$filter combines eq clauses and capabilities/any with and', async () => {
    const gb = await list(`$filter=${encodeURIComponent("isoCountryCode eq 'GB' and capabilities/any(x:x eq 'voiceApplicationAssignment')")}`);
    assert.equal(gb.value.length, 15);
    assert.ok(gb.value.every((entry) => entry.isoCountryCode === 'GB'));
    const users = await list(`$filter=${encodeURIComponent("capabilities/any(c:c eq 'userAssignment')")}`);
    assert.ok(users.value.length > 0);
    assert.ok(users.value.every((entry) => entry.capabilities.join() === 'userAssignment'));
    assert.equal((await number(US_SERVICE_NUMBER))?.telephoneNumber, US_SERVICE_NUMBER);
  });

  test('an unsupported $filter is a 400 that says what is supported', async () => {
    for (const filter of ["startswith(telephoneNumber,'+1')", "city eq 'London'", "isoCountryCode eq 'GB' or isoCountryCode eq 'US'"]) {
      const error = await graphFailure(simulator.graph().api(`${NUMBER_ASSIGNMENTS}?$filter=${encodeURIComponent(filter)}`).get());
      assert.equal(error.statusCode, 400, filter);
      assert.match(error.message, /capabilities\/any/, filter);
    }
  });

  test('$top and $skip page the list; there is no @odata.nextLink, as documented', async () => {
    const all = await list('$top=1000');
    const seen: string[] = [];
    for (let skip = 0; ; skip += 20) {
      const page = await list(`$top=20&$skip=${skip}`);
      assert.equal(page['@odata.nextLink'], undefined);
      seen.push(...page.value.map((entry) => entry.telephoneNumber));
      if (page.value.length < 20) break;
    }
    assert.deepEqual(seen, all.value.map((entry) => entry.telephoneNumber));
    assert.equal((await graphFailure(simulator.graph().api(`${NUMBER_ASSIGNMENTS}?$top=1001`).get())).statusCode, 400);
  });

  test('numberAssignment ids are opaque: base64url of an id and the number, as in Graph\'s samples', async () => {
    const entry = await number(US_SERVICE_NUMBER);
    assert.ok(entry);
    assert.match(entry.id, /^[A-Za-z0-9_-]+$/);
    assert.match(Buffer.from(entry.id, 'base64url').toString(), /^[0-9a-f-]{36}\|\+12065550100$/);
    const single = (await simulator.graph().api(`${NUMBER_ASSIGNMENTS}/${entry.id}`).get()) as { value: NumberAssignment };
    assert.equal(single.value.telephoneNumber, US_SERVICE_NUMBER, 'a single assignment comes wrapped in value, as documented');
  });

  test('a raw "+" in the filter is read as a space and matches nothing; %2B matches', async () => {
    const raw = await simulator.graph().api(`${NUMBER_ASSIGNMENTS}?$filter=telephoneNumber eq '${US_SERVICE_NUMBER}'`).get() as { value: unknown[] };
    assert.deepEqual(raw.value, []);
    assert.equal((await number(US_SERVICE_NUMBER))?.telephoneNumber, US_SERVICE_NUMBER);
  });

  test('assignNumber answers 202 with an operation that goes notStarted → running → succeeded, then the number is the account\'s', async () => {
    const account = await readyAccount('aa-success');
    const location = await start('assignNumber', { telephoneNumber: US_SERVICE_NUMBER.slice(1), assignmentTargetId: account, numberType: 'callingPlan' });
    assert.match(location, /\/v1\.0\/admin\/teams\/telephoneNumberManagement\/operations\('[A-Za-z0-9_-]+'\)$/);
    const operationId = /operations\('(.+)'\)$/.exec(location)?.[1] ?? '';
    assert.match(Buffer.from(operationId, 'base64url').toString(), /^Assignment\|[0-9a-f-]{36}$/);

    assert.equal((await poll(location)).status, 'notStarted');
    const pending = await number(US_SERVICE_NUMBER);
    assert.equal(pending?.assignmentStatus, 'unassigned', 'nothing changes before the operation runs');
    assert.equal(pending?.activationState, 'assignmentPending', 'but the number shows the pending assignment');
    simulator.clock.advance(TEST_DELAYS.numberOperation / 2);
    assert.equal((await poll(location)).status, 'running');
    const done = await finish(location);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(Object.keys(done.numbers[0] ?? {}).sort(), ['resourceLocation', 'status'], 'the documented fields, no more');
    assert.equal(done.numbers[0]?.status, 'succeeded');
    const assigned = await number(US_SERVICE_NUMBER);
    assert.equal(done.numbers[0]?.resourceLocation?.endsWith(`/numberAssignments/${assigned?.id}`), true);

    const bySegment = ((await simulator.graph().api(`/admin/teams/telephoneNumberManagement/operations/${operationId}`).get()) as { value: Operation }).value;
    assert.equal(bySegment.id, operationId);
    assert.equal(bySegment.status, 'succeeded');

    assert.equal(assigned?.assignmentStatus, 'voiceApplicationAssigned');
    assert.equal(assigned?.activationState, 'activated');
    assert.equal(assigned?.assignmentTargetId, account);
    const instance = (await (await simulator.teams(`/Teams.PlatformService/v2/ApplicationInstances/${account}`)).json()) as { phoneNumber: string };
    assert.equal(instance.phoneNumber, `tel:${US_SERVICE_NUMBER}`);
  });

  test('assigning a number already on the same account succeeds again; on another account it fails', async () => {
    const owner = await readyAccount('aa-owner');
    const other = await readyAccount('aa-other');
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, owner))).status, 'succeeded');
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, owner))).status, 'succeeded');
    const stolen = await finish(await assignNumber(US_SERVICE_NUMBER, other));
    assert.equal(stolen.status, 'failed');
    assert.equal(stolen.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.numberUnavailable);
    assert.equal((await number(US_SERVICE_NUMBER))?.assignmentTargetId, owner);
  });

  test('the operation fails for a number the tenant does not own or of another type', async () => {
    const account = await readyAccount('aa-missing');
    const missing = await finish(await assignNumber('+12065559999', account));
    assert.equal(missing.status, 'failed');
    assert.equal(missing.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.numberUnavailable);
    const wrongType = await finish(await start('assignNumber', { telephoneNumber: US_SERVICE_NUMBER, assignmentTargetId: account, numberType: 'directRouting' }));
    assert.equal(wrongType.status, 'failed');
    assert.equal(wrongType.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.numberUnavailable);
  });

  test('a user (subscriber) number cannot go on a resource account', async () => {
    const account = await readyAccount('aa-user-number');
    const failed = await finish(await assignNumber(US_USER_NUMBER, account));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.capabilityMismatch);
    assert.equal((await number(US_USER_NUMBER))?.assignmentStatus, 'unassigned');
  });

  test('the outcome is decided when the operation runs: an account still replicating cannot be resolved', async () => {
    const account = await createResourceAccount(simulator, 'aa-too-new');
    const failed = await finish(await assignNumber(US_SERVICE_NUMBER, account));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.targetUnresolved(account));
  });

  test('an account whose license has not reached Teams lacks appropriate licenses', async () => {
    const account = await createResourceAccount(simulator, 'aa-unlicensed');
    simulator.clock.advance(TEST_DELAYS.replication);
    await simulator.graph().api(`/users/${account}`).patch({ usageLocation: 'US' });
    simulator.clock.advance(TEST_DELAYS.usageLocationReplication);
    await simulator.graph().api(`/users/${account}/assignLicense`).post({ addLicenses: [{ skuId: RESOURCE_ACCOUNT_SKU_ID, disabledPlans: [] }], removeLicenses: [] });
    const failed = await finish(await assignNumber(US_SERVICE_NUMBER, account));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.targetNotEligible(account));

    simulator.clock.advance(TEST_DELAYS.licensePropagation + TEST_DELAYS.teamsSync);
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, account))).status, 'succeeded');
  });

  test('a Calling Plan number must match the account\'s usage location', async () => {
    const account = await readyAccount('aa-us');
    const failed = await finish(await assignNumber(GB_SERVICE_NUMBER, account));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.countryMismatch);
  });

  test('an invalid body is refused at once with 400 and starts no operation', async () => {
    const account = await readyAccount('aa-invalid');
    const cases: Record<string, unknown>[] = [
      { telephoneNumber: US_SERVICE_NUMBER, assignmentTargetId: account, numberType: 'landline' },
      { telephoneNumber: 'call me', assignmentTargetId: account, numberType: 'callingPlan' },
      { telephoneNumber: US_SERVICE_NUMBER, numberType: 'callingPlan' },
      { telephoneNumber: US_SERVICE_NUMBER, assignmentTargetId: account, numberType: 'callingPlan', assignmentCategory: 'main' },
    ];
    for (const body of cases) {
      const error = await graphFailure(simulator.graph().api(`${NUMBER_ASSIGNMENTS}/assignNumber`).post(body));
      assert.equal(error.statusCode, 400, JSON.stringify(body));
      assert.equal(error.code, 'BadRequest');
    }
    const state = (await (await simulator.control('/state')).json()) as { operations: unknown[] };
    assert.equal(state.operations.length, 0);
  });

  test('unassignNumber frees the number; unassigning a free number succeeds too', async () => {
    const account = await readyAccount('aa-unassign');
    await finish(await assignNumber(OTHER_US_SERVICE_NUMBER, account));
    const released = await finish(await start('unassignNumber', { telephoneNumber: OTHER_US_SERVICE_NUMBER, numberType: 'callingPlan' }));
    assert.equal(released.status, 'succeeded');
    const free = await number(OTHER_US_SERVICE_NUMBER);
    assert.equal(free?.assignmentStatus, 'unassigned');
    assert.equal(free?.assignmentTargetId, null);
    assert.equal((await finish(await start('unassignNumber', { telephoneNumber: OTHER_US_SERVICE_NUMBER, numberType: 'callingPlan' }))).status, 'succeeded');
  });

  test('deleting the account while it holds a number leaves the number stuck pending until support releases it', async () => {
    const account = await readyAccount('aa-deleted');
    await finish(await assignNumber(US_SERVICE_NUMBER, account));
    await simulator.graph().api(`/users/${account}`).delete();
    const stuck = await number(US_SERVICE_NUMBER);
    assert.equal(stuck?.activationState, 'assignmentPending');
    assert.equal(stuck?.assignmentTargetId, account);
    const unassign = await finish(await start('unassignNumber', { telephoneNumber: US_SERVICE_NUMBER, numberType: 'callingPlan' }));
    assert.equal(unassign.status, 'failed');
    assert.equal(unassign.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.pending);
    const other = await readyAccount('aa-next');
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, other))).status, 'failed');

    const released = await simulator.control(`/numbers/${encodeURIComponent(US_SERVICE_NUMBER)}/release`, { method: 'POST' });
    assert.equal(released.status, 200);
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, other))).status, 'succeeded');
  });

  const activation = (telephoneNumber: string, body: unknown) =>
    simulator.control(`/numbers/${encodeURIComponent(telephoneNumber)}/activation`, { method: 'POST', body });

  test('an activation that fails leaves the number on the account as assignmentFailed although the operation succeeded', async () => {
    const account = await readyAccount('aa-activation');
    const armed = await activation(US_SERVICE_NUMBER, { failNextAssignment: true });
    assert.equal(armed.status, 200);
    assert.equal(((await armed.json()) as { failNextAssignment: boolean }).failNextAssignment, true);
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, account))).status, 'succeeded', 'the operation says nothing of it');
    const failed = await number(US_SERVICE_NUMBER);
    assert.equal(failed?.assignmentTargetId, account);
    assert.equal(failed?.assignmentStatus, 'voiceApplicationAssigned');
    assert.equal(failed?.activationState, 'assignmentFailed');
    assert.equal((await list(`$filter=${encodeURIComponent("activationState eq 'assignmentFailed'")}`)).value.length, 1);

    // Assigning it again "succeeds" and changes nothing; another account cannot take it; unassigning frees it.
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, account))).status, 'succeeded');
    assert.equal((await number(US_SERVICE_NUMBER))?.activationState, 'assignmentFailed');
    const other = await readyAccount('aa-activation-other');
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, other))).status, 'failed');
    assert.equal((await finish(await start('unassignNumber', { telephoneNumber: US_SERVICE_NUMBER, numberType: 'callingPlan' }))).status, 'succeeded');
    const free = await number(US_SERVICE_NUMBER);
    assert.equal(free?.assignmentTargetId, null);
    assert.equal(free?.activationState, 'activated');
    // The failure was one-shot: the next assignment activates.
    assert.equal((await finish(await assignNumber(US_SERVICE_NUMBER, account))).status, 'succeeded');
    assert.equal((await number(US_SERVICE_NUMBER))?.activationState, 'activated');
  });

  test('updatePending holds the number as a pending operation does; updateFailed and assignmentFailed can be unassigned', async () => {
    const account = await readyAccount('aa-update');
    await finish(await assignNumber(US_SERVICE_NUMBER, account));
    assert.equal((await activation(US_SERVICE_NUMBER, { state: 'updatePending' })).status, 200);
    assert.equal((await number(US_SERVICE_NUMBER))?.activationState, 'updatePending');
    const refused = await finish(await start('unassignNumber', { telephoneNumber: US_SERVICE_NUMBER, numberType: 'callingPlan' }));
    assert.equal(refused.status, 'failed');
    assert.equal(refused.numbers[0]?.statusDetail, NUMBER_OPERATION_FAILURES.pending);
    assert.equal((await number(US_SERVICE_NUMBER))?.assignmentTargetId, account);

    for (const state of ['updateFailed', 'assignmentFailed'] as const) {
      await finish(await assignNumber(US_SERVICE_NUMBER, account));
      assert.equal((await activation(US_SERVICE_NUMBER, { state })).status, 200);
      assert.equal((await number(US_SERVICE_NUMBER))?.activationState, state);
      assert.equal((await finish(await start('unassignNumber', { telephoneNumber: US_SERVICE_NUMBER, numberType: 'callingPlan' }))).status, 'succeeded', state);
      assert.equal((await number(US_SERVICE_NUMBER))?.activationState, 'activated');
    }
    assert.equal((await activation(US_SERVICE_NUMBER, { state: 'assignmentFailed' })).status, 200);
    assert.equal((await activation(US_SERVICE_NUMBER, { state: 'activated' })).status, 200);
    assert.equal((await number(US_SERVICE_NUMBER))?.activationState, 'activated');
  });

  test('the activation control names what it takes', async () => {
    for (const body of [{}, { state: 'assignmentPending' }, { failNextAssignment: 'yes' }]) {
      const answer = await activation(US_SERVICE_NUMBER, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.match(((await answer.json()) as { error: { message: string } }).error.message, /state|failNextAssignment/);
    }
    assert.equal((await activation('+19995550100', { state: 'updateFailed' })).status, 404);
  });
});
