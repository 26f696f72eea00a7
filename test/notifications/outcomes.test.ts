/**
 * Notifications for every way a run ends and every answer a receiver gives, on a real Temporal server
 * with the real workflows and the real notification activities; the tenant's activities are scripted
 * (each UPN prefix picks a behaviour), so a run can be made to need a roll-back on cue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApiApp } from '../../api/app';
import { createNotificationActivities } from '../../activities/notifications';
import type { NotificationSettings } from '../../activities/notifications';
import type { Activities } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import type { NotificationEvent, RunEventData } from '../../workflows/notification/definitions';
import type { deliverNotification } from '../../workflows/notification/workflow';
import { AUTH, accountBody, accountCalls, eventually, statusPath } from '../api/helpers';
import { startApiWithWorker } from '../api/with-worker';
import type { ApiWithWorker } from '../api/with-worker';
import { personMustFix, scriptedActivities } from '../helpers/fake-activities';
import { startTestReceiver } from '../helpers/receiver';
import type { TestReceiver } from '../helpers/receiver';
import { freeLoopbackPort } from '../../lib/free-port';

const SECRET = 'outcomes-test-signing-secret-0123456789abcdef';

const scripted = scriptedActivities({
  async assignLicense({ accountId }) {
    if (accountId.startsWith('acc-nolicense-')) throw personMustFix(ErrorType.UsageLocationInvalid, 'usage location XX is not valid');
    return { usageLocationChanged: true, licenseAdded: true };
  },
  async createResourceAccount({ upn }) {
    return { accountId: `acc-${upn}`, adopted: false };
  },
  async waitForLicense({ accountId }) {
    if (accountId.startsWith('acc-slow-')) throw ApplicationFailure.retryable('the license is still PendingProvisioning', ErrorType.LicenseNotYetProvisioned);
    return { checks: 1 };
  },
});

describe('notifications for every outcome and every receiver answer (real workflows, scripted tenant)', () => {
  let stack: ApiWithWorker;
  let app: ApiApp;
  let receiver: TestReceiver;
  const settings: NotificationSettings = { urls: [], signingSecret: SECRET, timeoutMs: 2_000, retryWindowMs: 10 * 60_000 };

  before(async () => {
    receiver = await startTestReceiver();
    const activities: Activities = { ...scripted.activities, ...createNotificationActivities(settings) };
    stack = await startApiWithWorker(require.resolve('../../workflows'), activities);
    app = stack.app;
    receiver.fail('/gone', { attempts: 1000, status: 410 });
    receiver.fail('/refuses', { attempts: 1000, status: 400 });
  });
  after(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const { submit, status } = accountCalls(() => app);
  const ended = (upn: string) => eventually(() => status(upn), (s) => s.workflowStatus !== 'RUNNING', 'the run ending', 600);
  const eventsAt = (path: string) => receiver.delivered(path).map((r) => JSON.parse(r.body) as NotificationEvent<RunEventData>);

  test('needs attention after a change, then rolled back: the caller hears both, each with its own id', async () => {
    const body = accountBody('nolicense', { notify: { url: receiver.url('/rollback') } } as object);
    await submit(body);
    await eventually(() => status(body.upn), (s) => s.state === 'needs-attention', 'the run waiting');
    const waiting = await eventually(async () => eventsAt('/rollback'), (list) => list.length === 1, 'the needs-attention event');
    assert.equal(waiting[0]?.data.attention?.errorType, ErrorType.UsageLocationInvalid);
    assert.deepEqual(waiting[0]?.data.attention?.allowedDecisions, ['retry', 'rollback', 'abandon']);
    const decided = await app.inject({ method: 'POST', url: `${statusPath(body.upn)}/decision`, headers: AUTH, payload: { decision: 'rollback' } });
    assert.equal(decided.statusCode, 200, decided.body);
    const finished = await ended(body.upn);
    assert.equal(finished.state, 'rolled-back');
    const events = await eventually(async () => eventsAt('/rollback'), (list) => list.length === 2, 'the rolled-back event');
    assert.deepEqual(events.map((e) => e.type), ['com.dialtone.resource-account.needs-attention', 'com.dialtone.resource-account.rolled-back']);
    assert.notEqual(events[0]?.id, events[1]?.id);
    assert.deepEqual(events.map((e) => e.id), finished.notifications?.map((n) => n.id));
  });

  test('a cancelled run tells its caller what it left in the tenant', async () => {
    const body = accountBody('slow', { notify: { url: receiver.url('/cancelled') } } as object);
    const started = await submit(body);
    await eventually(() => status(body.upn), (s) => s.currentStep === 'waitForLicense', 'the run waiting for its license');
    await stack.temporal.client.workflow.getHandle(started.workflowId, started.runId).cancel();
    const [event] = await eventually(async () => eventsAt('/cancelled'), (list) => list.length === 1, 'the cancelled event');
    assert.equal(event?.type, 'com.dialtone.resource-account.cancelled');
    assert.ok(event?.data.leftBehind?.some((line) => line.startsWith('resource account')), JSON.stringify(event?.data.leftBehind));
  });

  test('410 Gone ends the delivery at once; another 4xx fails it without retries; the run completes either way', async () => {
    for (const [path, expected] of [['/gone', 'gone'], ['/refuses', 'failed']] as const) {
      const body = accountBody('answer', { notify: { url: receiver.url(path) } } as object);
      await submit(body);
      const finished = await ended(body.upn);
      assert.equal(finished.state, 'completed', `${path}: the receiver's answer does not change the run`);
      const sent = finished.notifications?.[0];
      assert.ok(sent);
      const handle = stack.temporal.client.workflow.getHandle<typeof deliverNotification>(sent.workflowId);
      if (expected === 'gone') {
        const delivery = await handle.result();
        assert.deepEqual(delivery.deliveries.map((d) => [d.state, d.httpStatus]), [['gone', 410]]);
      } else {
        const failure = await handle.result().then(() => undefined, (err: unknown) => err);
        assert.ok(failure instanceof WorkflowFailedError, String(failure));
        const cause = failure.cause as ApplicationFailure;
        assert.equal(cause.type, 'NotificationNotDelivered');
        assert.match(cause.message, /answered 400: the receiver refused the event, so it is not sent again/);
      }
      assert.equal(receiver.requests.filter((r) => r.path === path && r.headers['dialtone-event-id'] === sent.id).length, 1, `${path}: not retried`);
    }
  });

  test('a dead receiver never holds up the run: it completes while the delivery keeps retrying', async () => {
    const body = accountBody('dead', { notify: { url: `http://127.0.0.1:${await freeLoopbackPort()}/hook` } } as object);
    await submit(body);
    const finished = await ended(body.upn);
    assert.equal(finished.state, 'completed');
    const sent = finished.notifications?.[0];
    assert.ok(sent);
    const handle = stack.temporal.client.workflow.getHandle(sent.workflowId);
    const retrying = await eventually(() => handle.describe(), (d) => (d.raw.pendingActivities?.[0]?.attempt ?? 0) >= 2, 'the delivery retrying');
    assert.equal(retrying.status.name, 'RUNNING');
    assert.match(retrying.raw.pendingActivities?.[0]?.lastFailure?.message ?? '', /could not be reached: ECONNREFUSED/);
    await handle.terminate('test: the receiver stays dead');
  });

  test('without a signing secret nothing is sent: the event waits, retrying, and goes once the worker has one', async () => {
    settings.signingSecret = undefined;
    try {
      const body = accountBody('unsigned', { notify: { url: receiver.url('/unsigned') } } as object);
      await submit(body);
      const finished = await ended(body.upn);
      const sent = finished.notifications?.[0];
      assert.ok(sent);
      const handle = stack.temporal.client.workflow.getHandle(sent.workflowId);
      const waiting = await eventually(() => handle.describe(), (d) => (d.raw.pendingActivities?.[0]?.attempt ?? 0) >= 2, 'the delivery waiting');
      assert.equal(waiting.raw.pendingActivities?.[0]?.lastFailure?.applicationFailureInfo?.type, 'NotificationSigningSecretMissing');
      assert.match(waiting.raw.pendingActivities?.[0]?.lastFailure?.message ?? '', /set DIALTONE_NOTIFY_SIGNING_SECRET/);
      assert.equal(receiver.requests.filter((r) => r.path === '/unsigned').length, 0, 'never sent unsigned');
      settings.signingSecret = SECRET;
      await eventually(async () => receiver.delivered('/unsigned').length, (n) => n === 1, 'the event delivered once signed', 600);
      assert.equal(receiver.delivered('/unsigned')[0]?.headers['dialtone-event-id'], sent.id);
    } finally {
      settings.signingSecret = SECRET;
    }
  });
});
