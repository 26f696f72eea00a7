/**
 * The routes that need the workflow to answer (status, decisions, cancel, re-provisioning), with a
 * real worker running the real workflow on a real Temporal dev server. Only the activities are
 * fakes, of the real `Activities` type; each account's UPN prefix picks how they behave.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { ApiApp } from '../../api/app';
import type { AccountStatusResponse } from '../../api/schemas/resource-accounts';
import { ErrorType } from '../../lib/error-types';
import { personMustFix, scriptedActivities } from '../helpers/fake-activities';
import type { TestTemporal } from '../helpers/temporal';
import { buildApp } from '../../api/app';
import { AUTH, TOKEN, accountBody, eventually, statusPath, testConfig } from './helpers';
import { startApiWithWorker } from './with-worker';
import type { ApiWithWorker } from './with-worker';

interface ErrorJson {
  error: { code: string; message: string; details?: Array<{ field: string; message: string }> };
}
interface Submitted {
  id: string;
  workflowId: string;
  runId: string;
  state: string;
  existing: boolean;
}

/** Accounts whose license was refused once already: `licenseonce-` accounts are licensed the second time. */
const refusedOnce = new Set<string>();

const { activities } = scriptedActivities({
  async createResourceAccount({ upn }) {
    if (upn.startsWith('taken-')) throw personMustFix(ErrorType.UpnConflict, `${upn} belongs to a user, not a resource account`);
    return { accountId: `acc-${upn}`, adopted: false, licensed: false };
  },
  async assignLicense({ accountId }) {
    if (accountId.startsWith('acc-nolicense-')) throw personMustFix(ErrorType.UsageLocationInvalid, 'usage location XX is not valid');
    if (accountId.startsWith('acc-licenseonce-') && !refusedOnce.has(accountId)) {
      refusedOnce.add(accountId);
      throw personMustFix(ErrorType.UsageLocationInvalid, 'usage location XX is not valid');
    }
    return { usageLocationChanged: true, licenseAdded: true };
  },
  async waitForLicense({ accountId }) {
    if (accountId.startsWith('acc-slow-')) {
      throw ApplicationFailure.retryable('the license is still PendingProvisioning', ErrorType.LicenseNotYetProvisioned);
    }
    return { checks: 1 };
  },
});

/** How the API records a caller who gives no name: never the token, a fingerprint of it. */
const CALLER = `api-token:${createHash('sha256').update(TOKEN).digest('hex').slice(0, 8)}`;

/** Rolled-back and abandoned runs used to fail the workflow; they now complete it. Either way the run is over. */
const closed = (s: AccountStatusResponse) => s.workflowStatus !== 'RUNNING';

describe('/v1/resource-accounts with a worker running the workflow', () => {
  let temporal: TestTemporal;
  let taskQueue: string;
  let app: ApiApp;
  let stack: ApiWithWorker;

  before(async () => {
    stack = await startApiWithWorker(require.resolve('../../workflows'), activities);
    ({ temporal, app } = stack);
    taskQueue = stack.taskQueue;
  });
  after(async () => {
    await stack?.close();
  });

  async function submit(body: object, expected = 202): Promise<Submitted> {
    const res = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: body });
    assert.equal(res.statusCode, expected, res.body);
    return res.json<Submitted>();
  }

  async function status(upn: string): Promise<AccountStatusResponse> {
    const res = await app.inject({ method: 'GET', url: statusPath(upn), headers: AUTH });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<AccountStatusResponse>();
  }

  function decide(upn: string, decision: string, reason?: string, extra: { by?: string; key?: string } = {}) {
    return app.inject({
      method: 'POST',
      url: `${statusPath(upn)}/decision`,
      headers: { ...AUTH, ...(extra.key ? { 'idempotency-key': extra.key } : {}) },
      payload: { decision, ...(reason ? { reason } : {}), ...(extra.by ? { by: extra.by } : {}) },
    });
  }

  type Page = { items: Array<{ id: string; runId: string; state?: string }>; nextPageToken?: string };
  async function listed(query: string, id: string) {
    const page = (await app.inject({ method: 'GET', url: `/v1/resource-accounts?pageSize=1000${query}`, headers: AUTH })).json<Page>();
    return page.items.filter((item) => item.id === id);
  }

  function cancel(upn: string) {
    return app.inject({ method: 'POST', url: `${statusPath(upn)}/cancel`, headers: AUTH });
  }

  test('a completed account: its final status, then 200 existing for the same request and 409 for another', async () => {
    const body = accountBody('ok');
    const started = await submit(body);
    const done = await eventually(() => status(body.upn), (s) => s.workflowStatus === 'COMPLETED', 'the run completing');
    assert.equal(done.state, 'completed');
    assert.equal(done.source, 'result');
    assert.equal(done.runId, started.runId);
    assert.equal(done.accountId, `acc-${body.upn}`);
    assert.deepEqual(
      done.steps.map((s) => s.status),
      ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded'],
    );
    assert.deepEqual(done.pendingActivities, []);

    const again = await submit(body, 200);
    assert.deepEqual({ runId: again.runId, existing: again.existing, state: again.state }, { runId: started.runId, existing: true, state: 'completed' });

    const other = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: { ...body, kind: 'callQueue' } });
    assert.equal(other.statusCode, 409, other.body);
    assert.equal(other.json<ErrorJson>().error.code, 'conflict');
    assert.deepEqual(other.json<ErrorJson>().error.details?.map((d) => d.field), ['kind']);
    assert.match(other.json<ErrorJson>().error.message, /is already provisioned with different values \(kind\); .*change it in Teams, or choose another UPN$/);
    assert.doesNotMatch(other.json<ErrorJson>().error.message, /cancel/, 'a completed run cannot be cancelled');

    const lateCancel = await cancel(body.upn);
    assert.equal(lateCancel.statusCode, 409, lateCancel.body);
    assert.equal(lateCancel.json<ErrorJson>().error.code, 'invalid_state');
    const lateDecision = await decide(body.upn, 'retry');
    assert.equal(lateDecision.statusCode, 409, lateDecision.body);
    assert.match(lateDecision.json<ErrorJson>().error.message, /the run has finished \(COMPLETED\)/);
  });

  test('needs attention: the status says what failed; a decision not offered is refused by the workflow; abandon ends it', async () => {
    const body = accountBody('taken');
    await submit(body);
    const waiting = await eventually(() => status(body.upn), (s) => s.state === 'needs-attention', 'the run asking for a decision');
    assert.equal(waiting.source, 'workflow');
    assert.equal(waiting.workflowStatus, 'RUNNING');
    assert.equal(waiting.currentStep, 'createAccount');
    assert.equal(waiting.attention?.error.type, ErrorType.UpnConflict);
    assert.deepEqual(waiting.attention?.allowedDecisions, ['retry', 'abandon']);

    const refused = await decide(body.upn, 'rollback');
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.json<ErrorJson>().error.code, 'invalid_state');
    assert.match(refused.json<ErrorJson>().error.message, /decision must be one of retry, abandon/);

    const accepted = await decide(body.upn, 'abandon', 'ops: UPN belongs to a person');
    assert.equal(accepted.statusCode, 200, accepted.body);
    assert.deepEqual(accepted.json(), {
      id: body.upn.toLowerCase(),
      workflowId: waiting.workflowId,
      accepted: true,
      state: 'abandoned',
      statusUrl: statusPath(body.upn),
    });

    const ended = await eventually(() => status(body.upn), closed, 'the run ending');
    assert.equal(ended.state, 'abandoned');
    assert.equal(ended.source, 'result');
    assert.equal(ended.decisions[0]?.decision, 'abandon');
    assert.equal(ended.decisions[0]?.reason, 'ops: UPN belongs to a person');
    assert.equal(ended.decisions[0]?.by, CALLER, 'a decision without by is recorded as the caller');
  });

  test('a decision retried with its Idempotency-Key is answered as the first time and taken once', async () => {
    const body = accountBody('taken');
    await submit(body);
    await eventually(() => status(body.upn), (s) => s.state === 'needs-attention', 'the run asking for a decision');
    const key = randomUUID();
    const first = await decide(body.upn, 'abandon', 'UPN belongs to a person', { by: 'Ada (service desk)', key });
    assert.equal(first.statusCode, 200, first.body);
    // Even after the decision has ended the run, the retry gets the first answer rather than "no decision is pending".
    await eventually(() => status(body.upn), closed, 'the run ending');
    for (const retry of [await decide(body.upn, 'abandon', 'UPN belongs to a person', { by: 'Ada (service desk)', key }), await decide(body.upn, 'retry', undefined, { key })]) {
      assert.equal(retry.statusCode, 200, retry.body);
      assert.deepEqual(retry.json(), first.json());
    }
    const ended = await status(body.upn);
    assert.deepEqual(
      ended.decisions.map((d) => [d.decision, d.by, d.reason]),
      [['abandon', 'Ada (service desk)', 'UPN belongs to a person']],
    );
    const fresh = await decide(body.upn, 'abandon');
    assert.equal(fresh.statusCode, 409, 'another key is another decision, and none is pending');
  });

  test('with authentication disabled, a decision without by is recorded as anonymous', async () => {
    const open = await buildApp(testConfig({ API_AUTH_TOKENS: '', API_AUTH_DISABLED: 'true', TEMPORAL_TASK_QUEUE: taskQueue }), {
      temporalClient: temporal.client,
    });
    try {
      const body = accountBody('taken');
      assert.equal((await open.inject({ method: 'POST', url: '/v1/resource-accounts', payload: body })).statusCode, 202);
      await eventually(() => status(body.upn), (s) => s.state === 'needs-attention', 'the run asking for a decision');
      const res = await open.inject({ method: 'POST', url: `${statusPath(body.upn)}/decision`, payload: { decision: 'abandon' } });
      assert.equal(res.statusCode, 200, res.body);
      const ended = await eventually(() => status(body.upn), closed, 'the run ending');
      assert.equal(ended.decisions[0]?.by, 'anonymous');
    } finally {
      await open.close();
    }
  });

  test('roll back after a later step fails, then the same request provisions the account afresh', async () => {
    const body = accountBody('nolicense');
    const first = await submit(body);
    const waiting = await eventually(() => status(body.upn), (s) => s.state === 'needs-attention', 'the run asking for a decision');
    assert.equal(waiting.currentStep, 'assignLicense');
    assert.deepEqual(waiting.attention?.allowedDecisions, ['retry', 'rollback', 'abandon']);

    const accepted = await decide(body.upn, 'rollback');
    assert.equal(accepted.statusCode, 200, accepted.body);
    assert.equal(accepted.json<{ state: string }>().state, 'rolling-back');

    const ended = await eventually(() => status(body.upn), closed, 'the roll-back finishing');
    assert.equal(ended.state, 'rolled-back');
    assert.equal(ended.steps.find((s) => s.name === 'createAccount')?.status, 'undone');

    const again = await submit(body, 202);
    assert.equal(again.existing, false);
    assert.notEqual(again.runId, first.runId);
  });

  test('rolled back, then provisioned again: listed once as completed; /runs has both runs; ?runId= reads the first', async () => {
    const body = accountBody('licenseonce');
    const id = body.upn.toLowerCase();
    const first = await submit(body);
    await eventually(() => status(body.upn), (s) => s.state === 'needs-attention', 'the run asking for a decision');
    assert.equal((await decide(body.upn, 'rollback')).statusCode, 200);
    await eventually(() => status(body.upn), closed, 'the roll-back finishing');
    await eventually(() => listed('&state=rolled-back', id), (items) => items.length === 1, 'the account listed as rolled back');

    const again = await submit(body, 202);
    assert.equal(again.existing, false);
    const done = await eventually(() => status(body.upn), (s) => s.runId === again.runId && s.workflowStatus === 'COMPLETED', 'the new run completing');
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.decisions, [], 'the new run starts afresh');

    const items = await eventually(() => listed('', id), (found) => found[0]?.state === 'completed', 'the account listed as completed');
    assert.deepEqual(items.map((item) => [item.runId, item.state]), [[again.runId, 'completed']]);
    assert.deepEqual((await listed('&state=completed', id)).map((item) => item.runId), [again.runId]);
    assert.deepEqual(await listed('&state=rolled-back', id), [], 'not listed under a state the account has left');

    type Runs = { items: Array<{ runId: string; state?: string; statusUrl: string }> };
    const runs = await eventually(
      async () => (await app.inject({ method: 'GET', url: `${statusPath(id)}/runs`, headers: AUTH })).json<Runs>(),
      (page) => page.items.length === 2 && page.items[0]?.state === 'completed',
      'both runs listed',
    );
    assert.deepEqual(
      runs.items.map((r) => [r.runId, r.state]),
      [
        [again.runId, 'completed'],
        [first.runId, 'rolled-back'],
      ],
    );
    const earlier = await app.inject({ method: 'GET', url: runs.items[1]?.statusUrl ?? '', headers: AUTH });
    assert.equal(earlier.statusCode, 200, earlier.body);
    const firstRun = earlier.json<AccountStatusResponse>();
    assert.deepEqual([firstRun.runId, firstRun.state, firstRun.source], [first.runId, 'rolled-back', 'result']);
    assert.deepEqual(firstRun.decisions.map((d) => d.decision), ['rollback']);
  });

  test('a step being retried shows its attempt, last failure and next attempt; cancel stops the run', async () => {
    const body = accountBody('slow');
    const first = await submit(body);
    const retrying = await eventually(
      () => status(body.upn),
      (s) => (s.pendingActivities[0]?.attempt ?? 0) >= 2,
      'the license wait being retried',
    );
    assert.equal(retrying.state, 'running');
    assert.equal(retrying.currentStep, 'waitForLicense');
    const activity = retrying.pendingActivities[0];
    assert.equal(activity?.activityType, 'waitForLicense');
    assert.deepEqual(activity?.lastFailure, { type: ErrorType.LicenseNotYetProvisioned, message: 'the license is still PendingProvisioning' });
    assert.ok(!Number.isNaN(Date.parse(activity?.nextAttemptAt ?? '')), `nextAttemptAt is a time: ${activity?.nextAttemptAt}`);

    const premature = await decide(body.upn, 'retry');
    assert.equal(premature.statusCode, 409, premature.body);
    assert.match(premature.json<ErrorJson>().error.message, /no decision is pending: the run is running/);

    const cancelled = await cancel(body.upn);
    assert.equal(cancelled.statusCode, 202, cancelled.body);
    assert.deepEqual(
      { runId: cancelled.json<{ runId: string }>().runId, cancelRequested: cancelled.json<{ cancelRequested: boolean }>().cancelRequested },
      { runId: first.runId, cancelRequested: true },
    );
    const ended = await eventually(() => status(body.upn), (s) => s.workflowStatus === 'CANCELLED', 'the run being cancelled');
    assert.equal(ended.state, 'cancelled');

    const again = await cancel(body.upn);
    assert.equal(again.statusCode, 409, again.body);
    assert.match(again.json<ErrorJson>().error.message, /already finished \(CANCELLED\)/);

    const resubmitted = await submit(body, 202);
    assert.equal(resubmitted.existing, false);
    assert.notEqual(resubmitted.runId, first.runId);
    const cleanup = await cancel(body.upn);
    assert.equal(cleanup.statusCode, 202);
  });
});
