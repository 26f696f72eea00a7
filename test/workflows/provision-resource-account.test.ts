import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import {
  PROVISION_WORKFLOW_TYPE,
  STEP_TITLES,
  getStatusQuery,
  decideUpdate,
  resourceAccountWorkflowId,
  searchAttributes,
  stepsOf,
} from '../../workflows/provision-resource-account/definitions';
import type { ProvisionResourceAccountInput, ProvisionResourceAccountStatus } from '../../workflows/provision-resource-account/definitions';
import type { provisionResourceAccount } from '../../workflows';
import { personMustFix, scriptedActivities } from '../helpers/fake-activities';
import { startTestTemporal, startTimeSkippingTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { WorkerMetrics } from '../../worker/metrics';

const TENANT = '8d3f1a52-6c1e-4b7a-9f0e-2d1c5b7a9e10';

function request(overrides: Partial<ProvisionResourceAccountInput> = {}): ProvisionResourceAccountInput {
  const id = randomUUID().slice(0, 8);
  return {
    tenantId: TENANT,
    upn: `aa-${id}@contoso.onmicrosoft.com`,
    displayName: `Auto attendant ${id}`,
    kind: 'autoAttendant',
    usageLocation: 'US',
    phoneNumber: '+12065550100',
    phoneNumberType: 'callingPlan',
    ...overrides,
  };
}

async function waitForState(
  get: () => Promise<ProvisionResourceAccountStatus>,
  state: ProvisionResourceAccountStatus['state'],
): Promise<ProvisionResourceAccountStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await get().catch(() => undefined);
    if (status?.state === state) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  const last = await get();
  assert.fail(`run never reached ${state}; last state ${last.state}`);
}

describe('provisionResourceAccount on a real Temporal dev server', () => {
  let temporal: TestTemporal;
  before(async () => {
    temporal = await startTestTemporal();
  });
  after(async () => {
    await temporal?.teardown();
  });

  async function withWorker<T>(activities: Activities, fn: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = `wf-test-${randomUUID()}`;
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowsPath: require.resolve('../../workflows'),
      activities,
      sinks: new WorkerMetrics({ defaultMetrics: false }).sinks(),
    });
    return worker.runUntil(fn(taskQueue));
  }

  function start(taskQueue: string, input: ProvisionResourceAccountInput) {
    return temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: resourceAccountWorkflowId(input.tenantId, input.upn),
      args: [input],
    });
  }

  test('runs the five steps in order and reports each one', async () => {
    const { activities, calls } = scriptedActivities();
    const input = request();
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, input);
      const result = await handle.result();
      assert.equal(result.state, 'completed');
      assert.equal(result.accountId, 'acc-1');
      assert.deepEqual(
        result.steps.map((s) => [s.name, s.status]),
        [
          ['preflight', 'succeeded'],
          ['createAccount', 'succeeded'],
          ['assignLicense', 'succeeded'],
          ['waitForLicense', 'succeeded'],
          ['assignNumber', 'succeeded'],
        ],
      );
      assert.equal(result.steps[3]?.attempts, 3, 'the wait reports how many checks it made');
      assert.deepEqual(
        calls.map((c) => c.name),
        ['preflight', 'createResourceAccount', 'assignLicense', 'waitForLicense', 'assignPhoneNumber'],
      );
      assert.deepEqual(calls[2]?.input, { accountId: 'acc-1', usageLocation: 'US', skuId: '440eaaa8-b3e0-484b-a8be-62870b9ba70a' });
      const description = await handle.describe();
      assert.equal(description.typedSearchAttributes.get(searchAttributes.state), 'completed');
      // Operators read the steps in the Web UI: each scheduled activity carries its step's title.
      const history = await handle.fetchHistory();
      const summaries = (history.events ?? [])
        .filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => e.userMetadata?.summary?.data && Buffer.from(e.userMetadata.summary.data).toString('utf8'));
      // Without an association in the request, the association step is not part of the run.
      assert.deepEqual(summaries, stepsOf(input).map((name) => JSON.stringify(STEP_TITLES[name])));
      assert.equal(stepsOf(input).includes('associate'), false);
      assert.equal(description.typedSearchAttributes.get(searchAttributes.upn), input.upn.toLowerCase());
      assert.equal(description.typedSearchAttributes.get(searchAttributes.phoneNumber), input.phoneNumber);
    });
  });

  test('a failure a person must fix waits in needs-attention, and retry resumes at that step', async () => {
    let numberTries = 0;
    const { activities, calls } = scriptedActivities({
      async assignPhoneNumber() {
        numberTries += 1;
        if (numberTries === 1) throw personMustFix(ErrorType.NumberAlreadyAssigned, '+12065550100 is already assigned to someone else');
        return { assigned: true, alreadyAssigned: false, checks: 1 };
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request());
      const waiting = await waitForState(() => handle.query(getStatusQuery), 'needs-attention');
      assert.equal(waiting.attention?.step, 'assignNumber');
      assert.equal(waiting.attention?.error.type, ErrorType.NumberAlreadyAssigned);
      assert.match(waiting.attention?.error.message ?? '', /already assigned/);
      assert.deepEqual(waiting.attention?.allowedDecisions, ['retry', 'rollback', 'abandon']);
      const description = await handle.describe();
      assert.equal(description.typedSearchAttributes.get(searchAttributes.state), 'needs-attention');
      assert.equal(description.typedSearchAttributes.get(searchAttributes.step), 'assignNumber');
      assert.equal(description.typedSearchAttributes.get(searchAttributes.attention), ErrorType.NumberAlreadyAssigned,
        'the list can show why a run waits, even with no worker to answer a query');

      const answer = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'retry', reason: 'freed the number' }] });
      assert.equal(answer.accepted, true);
      const result = await handle.result();
      assert.equal(result.state, 'completed');
      assert.equal(result.decisions.length, 1);
      assert.equal(result.decisions[0]?.decision, 'retry');
      assert.equal(calls.filter((c) => c.name === 'createResourceAccount').length, 1, 'earlier steps are not repeated');
      assert.equal((await handle.describe()).typedSearchAttributes.get(searchAttributes.attention), undefined, 'cleared once decided');
      // Dialtone's own upserts: the SDK adds one of TemporalChangeVersion with the first patched() call of a run.
      const upserts = ((await handle.fetchHistory()).events ?? []).filter((e) => {
        const fields = Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
        return fields.some((name) => name !== 'TemporalChangeVersion');
      }).length;
      assert.equal(upserts, 9, 'search attributes are written once per change: start, five steps, needs-attention, running again, completed');
    });
  });

  test('roll back undoes what was done, newest first, and ends the run as rolled back (a result, not a failure)', async () => {
    const { activities, calls } = scriptedActivities({
      async waitForLicense() {
        throw personMustFix(ErrorType.PermissionDenied, 'grant User.Read.All');
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request());
      await waitForState(() => handle.query(getStatusQuery), 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback' }] });
      const result = await handle.result();
      assert.equal(result.state, 'rolled-back');
      assert.match(result.outcome ?? '', /rolled back by operator decision/);
      assert.equal((await handle.describe()).status.name, 'COMPLETED', 'an operator-chosen outcome is not shown as a failed execution');
      const undo = calls.map((c) => c.name).filter((n) => ['unassignPhoneNumber', 'removeLicense', 'deleteResourceAccount'].includes(n));
      assert.deepEqual(undo, ['removeLicense', 'deleteResourceAccount']);
      const status = await handle.query(getStatusQuery);
      assert.equal(status.state, 'rolled-back');
      assert.equal(status.steps.find((s) => s.name === 'createAccount')?.status, 'undone');
      assert.equal(status.steps.find((s) => s.name === 'assignLicense')?.status, 'undone');
    });
  });

  test('a roll-back takes the number off an account it made even when the number step failed, and stops at an undo that fails', async () => {
    let unassignTries = 0;
    const { activities, calls } = scriptedActivities({
      async assignPhoneNumber() {
        throw personMustFix(ErrorType.NumberAssignmentFailed, 'Teams answered late; the number may be on the account');
      },
      async unassignPhoneNumber() {
        unassignTries += 1;
        if (unassignTries === 1) throw personMustFix(ErrorType.NumberUnassignFailed, 'Unassigning +12065550100 failed: pending');
        return { unassigned: true };
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request());
      await waitForState(() => handle.query(getStatusQuery), 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback' }] });
      const stuck = await waitForState(() => handle.query(getStatusQuery), 'needs-attention');
      assert.equal(stuck.attention?.step, 'assignNumber');
      assert.equal(stuck.attention?.undo, true);
      assert.deepEqual(stuck.attention?.allowedDecisions, ['retry', 'abandon']);
      assert.match(stuck.attention?.error.message ?? '', /roll-back stopped before anything older.*Still in the tenant: \+12065550100 on .*; the PHONESYSTEM_VIRTUALUSER license on .*; resource account/);
      assert.deepEqual(calls.map((c) => c.name).filter((n) => ['removeLicense', 'deleteResourceAccount'].includes(n)), [],
        'nothing older is undone while the number may still be on the account');

      const answer = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'retry', reason: 'support released the number' }] });
      assert.equal(answer.state, 'rolling-back');
      const status = await handle.result();
      assert.equal(status.state, 'rolled-back');
      assert.deepEqual(calls.map((c) => c.name).filter((n) => ['unassignPhoneNumber', 'removeLicense', 'deleteResourceAccount'].includes(n)),
        ['unassignPhoneNumber', 'unassignPhoneNumber', 'removeLicense', 'deleteResourceAccount']);
    });
  });

  test('abandoning a roll-back that cannot finish says what is left in the tenant', async () => {
    const { activities, calls } = scriptedActivities({
      async assignPhoneNumber() {
        throw personMustFix(ErrorType.NumberAssignmentFailed, 'refused');
      },
      async unassignPhoneNumber() {
        throw personMustFix(ErrorType.NumberUnassignFailed, 'stuck pending');
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const input = request();
      const handle = await start(taskQueue, input);
      await waitForState(() => handle.query(getStatusQuery), 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback' }] });
      await waitForState(async () => {
        const status = await handle.query(getStatusQuery);
        return status.attention?.undo ? status : { ...status, state: 'rolling-back' };
      }, 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'abandon', by: 'ops@contoso' }] });
      const status = await handle.result();
      assert.equal(status.state, 'abandoned', 'a failed undo never ends as rolled back');
      assert.deepEqual(status.leftBehind, [
        `${input.phoneNumber} on ${input.upn}, if the assignment reached Teams`,
        `the PHONESYSTEM_VIRTUALUSER license on ${input.upn}`,
        `resource account ${input.upn} (acc-1)`,
      ]);
      assert.match(status.outcome ?? '', /abandoned by ops@contoso; left in the tenant: /);
      assert.equal(calls.filter((c) => c.name === 'deleteResourceAccount').length, 0);
    });
  });

  test('an adopted account is never deleted by a roll back', async () => {
    const { activities, calls } = scriptedActivities({
      async preflight() {
        return {
          problems: [],
          license: { needed: 1, skuId: RESOURCE_ACCOUNT_SKU_ID, skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', enabled: 25, consumed: 0, available: 25 },
          account: { state: 'resource-account', accountId: 'existing-1', kind: 'autoAttendant', holdsLicense: false },
          number: { numberType: 'callingPlan', isoCountryCode: 'US', onThisAccount: false },
        };
      },
      async createResourceAccount() {
        return { accountId: 'existing-1', adopted: true };
      },
      async assignPhoneNumber() {
        throw personMustFix(ErrorType.NumberNotServiceNumber, 'user number');
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request());
      await waitForState(() => handle.query(getStatusQuery), 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback' }] });
      assert.equal((await handle.result()).state, 'rolled-back');
      assert.deepEqual(
        calls.map((c) => c.name).filter((n) => ['removeLicense', 'deleteResourceAccount'].includes(n)),
        ['removeLicense'],
      );
    });
  });

  test('an account the pre-flight did not see is the run\'s own, even when a lost answer makes the create step find it "existing"', async () => {
    const { activities, calls } = scriptedActivities({
      async createResourceAccount() {
        return { accountId: 'acc-lost-answer', adopted: true };
      },
      async assignPhoneNumber() {
        throw personMustFix(ErrorType.NumberAssignmentFailed, 'refused');
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request());
      const waiting = await waitForState(() => handle.query(getStatusQuery), 'needs-attention');
      assert.equal(waiting.adopted, false);
      assert.match(waiting.steps.find((s) => s.name === 'createAccount')?.detail ?? '', /^created account acc-lost-answer/);
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback' }] });
      assert.equal((await handle.result()).state, 'rolled-back');
      assert.deepEqual(
        calls.map((c) => c.name).filter((n) => ['unassignPhoneNumber', 'removeLicense', 'deleteResourceAccount'].includes(n)),
        ['unassignPhoneNumber', 'removeLicense', 'deleteResourceAccount'],
      );
    });
  });

  test('a decision is refused when none is pending', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { activities } = scriptedActivities({
      async waitForLicense() {
        await gate;
        return { checks: 1 };
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request());
      await waitForState(() => handle.query(getStatusQuery), 'running');
      const refused = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'abandon' }] }).then(
        () => assert.fail('the update must be refused'),
        (e: unknown) => e as Error & { cause?: Error },
      );
      assert.match(refused.cause?.message ?? '', /no decision is pending: the run is running/);
      release();
      assert.equal((await handle.result()).state, 'completed');
    });
  });

  test('an option out of range (a deadline past the end of time) fails the run at once, never a workflow task', async () => {
    const { activities, calls } = scriptedActivities();
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request({ options: { attentionTimeoutMs: 9e15, licenseRecheckIntervalMs: 0.5 } }));
      const err = await handle.result().then(() => assert.fail('must fail'), (e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'InvalidInput');
      assert.match(err.cause.message, /options\.attentionTimeoutMs must be a whole number of milliseconds between 1 minute and 90 days/);
      assert.match(err.cause.message, /options\.licenseRecheckIntervalMs/);
      const history = (await handle.fetchHistory()).events ?? [];
      assert.equal(history.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed');
      assert.equal(calls.length, 0);
    });
  });

  test('invalid input fails at once with the field named', async () => {
    const { activities, calls } = scriptedActivities();
    await withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue, request({ phoneNumber: '206-555-0100' }));
      const err = await handle.result().then(
        () => assert.fail('must fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'InvalidInput');
      assert.match(err.cause.message, /phoneNumber/);
      assert.equal(calls.length, 0);
    });
  });
});

describe('provisionResourceAccount deadlines (time-skipping server)', () => {
  test('a license that never propagates asks for a decision after 48 h, then is abandoned after 7 days', async () => {
    const env = await startTimeSkippingTemporal();
    try {
      const { activities } = scriptedActivities({
        async waitForLicense() {
          throw ApplicationFailure.create({ type: ErrorType.LicenseNotYetProvisioned, message: 'still PendingProvisioning' });
        },
      });
      const taskQueue = `wf-ts-${randomUUID()}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowsPath: require.resolve('../../workflows'),
        activities,
        sinks: new WorkerMetrics({ defaultMetrics: false }).sinks(),
      });
      const input = request();
      await worker.runUntil(async () => {
        const handle = await env.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: resourceAccountWorkflowId(input.tenantId, input.upn),
          args: [input],
        });
        const status = await handle.result();
        assert.equal(status.state, 'abandoned');
        assert.equal(status.steps.find((s) => s.name === 'waitForLicense')?.lastError?.type, 'Timeout');
        assert.match(status.steps.find((s) => s.name === 'waitForLicense')?.lastError?.message ?? '', /within 48 h/);
        assert.match(status.decisions[0]?.reason ?? '', /^no decision before the deadline/);
        assert.equal(status.decisions[0]?.by, 'dialtone');
        assert.equal(status.decisions[0]?.automatic, true);
        const started = Date.parse(status.startedAt);
        const ended = Date.parse(status.endedAt ?? '');
        // Retries stop once the next backoff would pass the 48 h deadline, so allow one backoff interval.
        assert.ok(ended - started >= (47 + 7 * 24) * 3600_000, `workflow time covered both deadlines (${(ended - started) / 3600_000} h)`);
        assert.ok(ended - started < (49 + 7 * 24) * 3600_000, `and not much more (${(ended - started) / 3600_000} h)`);
      });
    } finally {
      await env.teardown();
    }
  });
});
