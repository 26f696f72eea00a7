/**
 * The routes that need the workflow to answer (status, decisions, cancel, re-provisioning), with a
 * real worker running the real workflow on a real Temporal dev server. Only the activities are
 * fakes, of the real `Activities` type; each account's UPN prefix picks how they behave.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import type { AccountStatusResponse } from '../../api/schemas/resource-accounts';
import { ErrorType } from '../../lib/error-types';
import { personMustFix, scriptedActivities } from '../helpers/fake-activities';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { AUTH, accountBody, eventually, statusPath, testConfig } from './helpers';

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

const { activities } = scriptedActivities({
  async createResourceAccount({ upn }) {
    if (upn.startsWith('taken-')) throw personMustFix(ErrorType.UpnConflict, `${upn} belongs to a user, not a resource account`);
    return { accountId: `acc-${upn}`, adopted: false, licensed: false };
  },
  async assignLicense({ accountId }) {
    if (accountId.startsWith('acc-nolicense-')) throw personMustFix(ErrorType.UsageLocationInvalid, 'usage location XX is not valid');
    return { usageLocationChanged: true, licenseAdded: true };
  },
  async waitForLicense({ accountId }) {
    if (accountId.startsWith('acc-slow-')) {
      throw ApplicationFailure.retryable('the license is still PendingProvisioning', ErrorType.LicenseNotYetProvisioned);
    }
    return { checks: 1 };
  },
});

describe('/v1/resource-accounts with a worker running the workflow', () => {
  let temporal: TestTemporal;
  let app: ApiApp;
  let worker: Worker;
  let running: Promise<void>;

  before(async () => {
    temporal = await startTestTemporal();
    const config = testConfig({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
    worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('../../workflows'),
      activities,
    });
    running = worker.run();
    app = await buildApp(config, { temporalClient: temporal.client });
  });
  after(async () => {
    await app?.close();
    if (worker) {
      worker.shutdown();
      await running;
    }
    await temporal?.teardown();
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

  function decide(upn: string, decision: string, reason?: string) {
    return app.inject({ method: 'POST', url: `${statusPath(upn)}/decision`, headers: AUTH, payload: { decision, ...(reason ? { reason } : {}) } });
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

    const ended = await eventually(() => status(body.upn), (s) => s.workflowStatus === 'FAILED', 'the run ending');
    assert.equal(ended.state, 'abandoned');
    assert.equal(ended.source, 'result');
    assert.equal(ended.decisions[0]?.decision, 'abandon');
    assert.equal(ended.decisions[0]?.reason, 'ops: UPN belongs to a person');
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

    const ended = await eventually(() => status(body.upn), (s) => s.workflowStatus === 'FAILED', 'the roll-back finishing');
    assert.equal(ended.state, 'rolled-back');
    assert.equal(ended.steps.find((s) => s.name === 'createAccount')?.status, 'undone');

    const again = await submit(body, 202);
    assert.equal(again.existing, false);
    assert.notEqual(again.runId, first.runId);
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
