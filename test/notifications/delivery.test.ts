/**
 * Notifications on the product path: real runs and a batch against the tenant simulator, on a real
 * Temporal server, with the real worker's notification activities POSTing to a local receiver that
 * fails the first attempts of each event. Checks the CloudEvents attributes, the signature, the one id
 * of an event across its retries, distinct ids across events, and the operator's global receiver.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import type { AccountStatusResponse, SubmitResponse } from '../../api/schemas/resource-accounts';
import type { BatchStatusResponse, SubmitBatchResponse } from '../../api/schemas/batches';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { deliverNotification } from '../../workflows/notification/workflow';
import type { BatchEventData, NotificationEvent, RunEventData } from '../../workflows/notification/definitions';
import { createDialtoneWorker, createTenantActivities } from '../../worker/worker';
import { AUTH, accountBody, accountCalls, eventually, statusPath, testConfig } from '../api/helpers';
import { startTestReceiver } from '../helpers/receiver';
import type { ReceivedRequest, TestReceiver } from '../helpers/receiver';
import { startTestSimulator, TEST_POLLING } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';

const SECRET = `test-signing-secret-${randomUUID()}`;

/** How a receiver checks an event: HMAC-SHA256 of the exact body with the shared secret, compared in constant time. */
function verifies(request: ReceivedRequest, secret: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(request.body).digest('hex')}`);
  const given = Buffer.from(String(request.headers['dialtone-signature'] ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function eventOf<D = RunEventData>(request: ReceivedRequest): NotificationEvent<D> {
  return JSON.parse(request.body) as NotificationEvent<D>;
}

describe('notifications: signed CloudEvents to callers and the operator, delivered durably', () => {
  let temporal: TestTemporal;
  let simulator: TestSimulator;
  let receiver: TestReceiver;
  let app: ApiApp;
  let stop: () => Promise<void>;

  before(async () => {
    receiver = await startTestReceiver();
    temporal = await startTestTemporal();
    simulator = await startTestSimulator();
    const taskQueue = `notify-${randomUUID()}`;
    const worker = await createDialtoneWorker({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      activities: createTenantActivities(simulator.tenant, TEST_POLLING, undefined, undefined, { kind: 'manual' }, {
        urls: [receiver.url('/ops')],
        signingSecret: SECRET,
        timeoutMs: 5_000,
        retryWindowMs: 10 * 60_000,
      }),
    });
    const running = worker.run();
    app = await buildApp(testConfig({ TEMPORAL_TASK_QUEUE: taskQueue }), { temporalClient: temporal.client });
    stop = async () => {
      await app.close();
      worker.shutdown();
      await running;
    };
    // Every event's first attempts fail: the caller's with 500 twice, the operator's with 503 and Retry-After once.
    receiver.fail('/caller', { attempts: 2, status: 500 });
    receiver.fail('/ops', { attempts: 1, status: 503, retryAfter: '1' });
  });
  after(async () => {
    await stop?.();
    await simulator?.close();
    await temporal?.teardown();
    await receiver?.close();
  });

  const { submit, status } = accountCalls(() => app);

  /** The run's final status, once it has ended (a bounded wait, so a run stuck waiting fails the test). */
  async function ended(upn: string): Promise<AccountStatusResponse> {
    return eventually(() => status(upn), (s) => s.workflowStatus !== 'RUNNING', 'the run ending', 600);
  }

  /** Every request that carried event `id` to `path`, in arrival order, once one of them was taken. */
  async function attemptsOf(path: string, id: string): Promise<ReceivedRequest[]> {
    await eventually(async () => receiver.delivered(path).some((r) => eventOf(r).id === id), Boolean, `event ${id} delivered to ${path}`, 600);
    return receiver.requests.filter((r) => r.path === path && eventOf(r).id === id);
  }

  test('a completed run: the caller and the operator each get one signed CloudEvent, the same id and bytes on every retry', async () => {
    const body = accountBody('notify-done', { phoneNumber: '+12065550120', notify: { url: receiver.url('/caller?token=kept-out-of-statuses') } } as object);
    const started = await submit(body);
    const result = await ended(body.upn);
    assert.equal(result.state, 'completed');
    assert.equal(result.notifications?.length, 1, 'the run lists the event it sent');
    const sent = result.notifications?.[0];
    assert.ok(sent);
    assert.equal(sent.type, 'com.dialtone.resource-account.completed');
    assert.equal(sent.id, `${started.workflowId}/${started.runId}/1`, 'the id comes from the workflow id, the run id and the run\'s sequence');

    const attempts = await attemptsOf('/caller', sent.id);
    assert.deepEqual(attempts.map((r) => r.status), [500, 500, 204], 'retried after each failure until taken, then not again');
    assert.equal(new Set(attempts.map((r) => r.body)).size, 1, 'every attempt sends the same bytes');
    assert.equal(new Set(attempts.map((r) => r.headers['dialtone-signature'])).size, 1);
    const taken = attempts[2] as ReceivedRequest;
    assert.equal(taken.method, 'POST');
    assert.match(String(taken.headers['content-type']), /^application\/cloudevents\+json/);
    assert.equal(taken.headers['dialtone-event-id'], sent.id);
    assert.ok(verifies(taken, SECRET), 'the signature verifies with the shared secret');
    assert.ok(!verifies(taken, `${SECRET}-other`), 'and not with another');

    const event = eventOf(taken);
    const upn = body.upn.toLowerCase();
    assert.deepEqual(
      { specversion: event.specversion, id: event.id, source: event.source, type: event.type, subject: event.subject, datacontenttype: event.datacontenttype },
      {
        specversion: '1.0',
        id: sent.id,
        source: `/dialtone/tenants/${LOCAL_TENANT_ID}`,
        type: 'com.dialtone.resource-account.completed',
        subject: `resource-accounts/${upn}`,
        datacontenttype: 'application/json',
      },
    );
    assert.equal(event.time, sent.at, "the time is the workflow's time of the transition");
    assert.equal(event.data.upn, upn);
    assert.equal(event.data.state, 'completed');
    assert.equal(event.data.phoneNumber, '+12065550120');
    assert.equal(event.data.accountId, result.accountId);
    assert.equal(event.data.statusUrl, `${statusPath(upn)}?runId=${started.runId}`);
    assert.match(event.data.message, /is provisioned with \+12065550120/);

    const ops = await attemptsOf('/ops', sent.id);
    assert.deepEqual(ops.map((r) => r.status), [503, 204], 'the operator\'s receiver gets the same event, after its Retry-After');
    assert.equal(ops[1]?.body, taken.body);

    const delivery = await temporal.client.workflow.getHandle<typeof deliverNotification>(sent.workflowId).result();
    assert.deepEqual(
      delivery.deliveries.map((d) => [d.url, d.origin, d.state, d.httpStatus, d.attempts]),
      [[receiver.url('/caller'), 'request', 'delivered', 204, 3], [receiver.url('/ops'), 'operator', 'delivered', 204, 2]],
      'the delivery shows each receiver\'s outcome, without the URL\'s query',
    );
  });

  test('needs attention, then abandoned: two events with distinct ids, the first saying what failed and how to decide', async () => {
    // A US number for a GB usage location: the pre-flight stops the run before any change.
    const body = accountBody('notify-attn', { phoneNumber: '+12065550121', usageLocation: 'GB', notify: { url: receiver.url('/caller') } } as object);
    const started = await submit(body);
    const waiting = await eventually(() => status(body.upn), (s) => s.state === 'needs-attention' && (s.notifications?.length ?? 0) === 1, 'the run waiting, its event sent');
    const first = waiting.notifications?.[0];
    assert.equal(first?.type, 'com.dialtone.resource-account.needs-attention');
    const [attention] = (await attemptsOf('/caller', first?.id ?? '')).filter((r) => r.status === 204).map((r) => eventOf(r));
    assert.ok(attention);
    assert.equal(attention.data.state, 'needs-attention');
    assert.equal(attention.data.attention?.errorType, 'PreflightFailed');
    assert.deepEqual(attention.data.attention?.allowedDecisions, ['retry', 'abandon']);
    assert.ok(attention.data.attention?.howToDecide.some((c) => c.startsWith(`dialtone decide ${body.upn.toLowerCase()} abandon`)));
    assert.equal(attention.data.decisionUrl, `${statusPath(body.upn)}/decision`);

    const decided = await app.inject({ method: 'POST', url: `${statusPath(body.upn)}/decision`, headers: AUTH, payload: { decision: 'abandon', reason: 'wrong country' } });
    assert.equal(decided.statusCode, 200, decided.body);
    const finished = await ended(body.upn);
    assert.equal(finished.state, 'abandoned');
    assert.deepEqual(finished.notifications?.map((n) => n.type), ['com.dialtone.resource-account.needs-attention', 'com.dialtone.resource-account.abandoned']);
    const second = finished.notifications?.[1];
    assert.ok(second);
    assert.notEqual(second.id, first?.id, 'distinct events have distinct ids');
    assert.equal(second.id, `${started.workflowId}/${started.runId}/2`);
    const [abandoned] = (await attemptsOf('/caller', second.id)).filter((r) => r.status === 204).map((r) => eventOf(r));
    assert.equal(abandoned?.type, 'com.dialtone.resource-account.abandoned');
    assert.match(abandoned?.data.message ?? '', /abandoned by .* \(wrong country\)/);
    await attemptsOf('/ops', second.id);
  });

  test("a batch's receiver gets every row's event and the batch's own; the operator's gets them too", async () => {
    const id = randomUUID().slice(0, 6);
    const rows = ['+12065550122', '+12065550123'].map((phoneNumber, i) => ({
      upn: `notify-batch-${id}-${i + 1}@contoso.onmicrosoft.com`,
      displayName: `Batch ${id} ${i + 1}`,
      kind: 'autoAttendant',
      usageLocation: 'US',
      phoneNumber,
    }));
    const res = await app.inject({ method: 'POST', url: '/v1/batches', headers: AUTH, payload: { rows, notify: { url: receiver.url('/batch') } } });
    assert.equal(res.statusCode, 202, res.body);
    const { batchId } = res.json<SubmitBatchResponse>();
    const done = await eventually(
      async () => (await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: AUTH })).json<BatchStatusResponse>(),
      (s) => s.state === 'completed',
      'the batch completing',
      600,
    );
    assert.equal(done.counts.completed, 2);
    const events = await eventually(
      async () => receiver.delivered('/batch').map((r) => eventOf<RunEventData | BatchEventData>(r)),
      (list) => list.length >= 3,
      'three events at the batch\'s receiver',
      600,
    );
    const runEvents = events.filter((e) => e.data.kind === 'resource-account') as Array<NotificationEvent<RunEventData>>;
    assert.deepEqual(runEvents.map((e) => [e.type, e.data.batchId]).sort(), [
      ['com.dialtone.resource-account.completed', batchId],
      ['com.dialtone.resource-account.completed', batchId],
    ]);
    assert.deepEqual(runEvents.map((e) => e.data.upn).sort(), rows.map((r) => r.upn.toLowerCase()).sort());
    const batchEvents = events.filter((e) => e.data.kind === 'batch') as Array<NotificationEvent<BatchEventData>>;
    assert.equal(batchEvents.length, 1);
    const batchEvent = batchEvents[0] as NotificationEvent<BatchEventData>;
    assert.equal(batchEvent.type, 'com.dialtone.batch.completed');
    assert.equal(batchEvent.subject, `batches/${batchId}`);
    assert.equal(batchEvent.data.counts.completed, 2);
    assert.equal(batchEvent.data.statusUrl, `/v1/batches/${batchId}`);
    assert.ok(receiver.delivered('/batch').every((r) => verifies(r, SECRET)));
    assert.equal(new Set(events.map((e) => e.id)).size, 3, 'each event once at the receiver, each with its own id');
    for (const event of events) await attemptsOf('/ops', event.id);
  });

  test('a batch that stops for licenses tells its receiver it needs attention; cancelled, it says so', async () => {
    const state = (await simulator.app.inject({ method: 'GET', url: '/_simulator/state' })).json<{ licenses: Array<{ skuPartNumber: string; consumed: number; enabled: number }> }>();
    const sku = state.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER');
    assert.ok(sku);
    const short = await simulator.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: sku.consumed } });
    assert.equal(short.statusCode, 200, short.body);
    try {
      const row = { upn: `notify-short-${randomUUID().slice(0, 6)}@contoso.onmicrosoft.com`, displayName: 'Short', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550125' };
      const res = await app.inject({ method: 'POST', url: '/v1/batches', headers: AUTH, payload: { rows: [row], notify: { url: receiver.url('/short') } } });
      assert.equal(res.statusCode, 202, res.body);
      const { batchId } = res.json<SubmitBatchResponse>();
      const [waiting] = await eventually(
        async () => receiver.delivered('/short').map((r) => eventOf<BatchEventData>(r)),
        (list) => list.length === 1,
        'the batch\'s needs-attention event',
        600,
      );
      assert.equal(waiting?.type, 'com.dialtone.batch.needs-attention');
      assert.deepEqual([waiting?.data.state, waiting?.data.batchState, waiting?.data.batchId], ['needs-attention', 'waiting-for-licenses', batchId]);
      assert.match(waiting?.data.message ?? '', /licen/i);

      const cancel = await app.inject({ method: 'POST', url: `/v1/batches/${batchId}/cancel`, headers: AUTH, payload: { reason: 'no licenses this week' } });
      assert.equal(cancel.statusCode, 200, cancel.body);
      const events = await eventually(
        async () => receiver.delivered('/short').map((r) => eventOf<BatchEventData>(r)),
        (list) => list.length === 2,
        'the batch\'s cancelled event',
        600,
      );
      assert.equal(events[1]?.type, 'com.dialtone.batch.cancelled');
      assert.equal(events[1]?.data.counts.skipped, 1);
      assert.notEqual(events[0]?.id, events[1]?.id);
    } finally {
      await simulator.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: sku.enabled } });
    }
  });

  test('a batch whose rows have all ended, some not completed, tells its receiver it waits for retry-failed', async () => {
    const id = randomUUID().slice(0, 6);
    const rows = [
      { upn: `notify-cwf-${id}-1@contoso.onmicrosoft.com`, displayName: 'Done', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550126' },
      // No number of that city: the row fails without starting.
      { upn: `notify-cwf-${id}-2@contoso.onmicrosoft.com`, displayName: 'No number', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: 'any', numberCity: 'Nowhere' },
    ];
    const res = await app.inject({ method: 'POST', url: '/v1/batches', headers: AUTH, payload: { rows, notify: { url: receiver.url('/cwf') } } });
    assert.equal(res.statusCode, 202, res.body);
    const { batchId } = res.json<SubmitBatchResponse>();
    const batchEvents = async () => receiver.delivered('/cwf').map((r) => eventOf<RunEventData | BatchEventData>(r)).filter((e): e is NotificationEvent<BatchEventData> => e.data.kind === 'batch');
    const [waiting] = await eventually(batchEvents, (list) => list.length === 1, 'the batch\'s needs-attention event', 600);
    assert.equal(waiting?.type, 'com.dialtone.batch.needs-attention');
    assert.equal(waiting?.data.batchState, 'completed-with-failures');
    assert.deepEqual([waiting?.data.counts.completed, waiting?.data.counts.failed], [1, 1]);
    const cancel = await app.inject({ method: 'POST', url: `/v1/batches/${batchId}/cancel`, headers: AUTH, payload: {} });
    assert.equal(cancel.statusCode, 200, cancel.body);
    const events = await eventually(batchEvents, (list) => list.length === 2, 'the batch\'s end event', 600);
    assert.equal(events[1]?.type, 'com.dialtone.batch.cancelled');
  });

  test('the API refuses a callback URL it would not deliver to, naming the field and the fix', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ url: 'ftp://hooks.example.com/x' }, /notify\.url must be an https URL \(got ftp\)/],
      [{ url: 'http://hooks.example.com/x' }, /notify\.url must be an https URL: .*loopback host .*DIALTONE_NOTIFY_ALLOW_HTTP=true/],
      [{ url: 'https://user:pass@hooks.example.com/x' }, /notify\.url must not carry user:password: the URL is kept in workflow history/],
      [{ url: 'hooks.example.com/x' }, /notify\.url is not an absolute URL/],
      [{ url: `https://hooks.example.com/${'a'.repeat(2100)}` }, /notify\.url is 2\d\d\d characters long: at most 2048/],
      ['https://hooks.example.com/x', /notify must be an object like \{"url": /],
      [{ url: 'https://hooks.example.com/x', secret: 's' }, /unknown field "notify\.secret"/],
    ];
    for (const [notify, message] of cases) {
      const res = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: { ...accountBody('bad-url'), notify } });
      assert.equal(res.statusCode, 400, res.body);
      const error = res.json<{ error: { message: string; details: Array<{ field: string; message: string }> } }>().error;
      assert.match(error.message, message);
      assert.ok(error.details.some((d) => d.field.startsWith('notify')), JSON.stringify(error.details));
    }
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: AUTH,
      payload: { rows: [{ upn: 'x@contoso.onmicrosoft.com', displayName: 'x', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: 'any' }], notify: { url: 'http://10.0.0.1/hook' } },
    });
    assert.equal(batch.statusCode, 400, batch.body);
    assert.match(batch.body, /notify\.url must be an https URL/);
    const csv = await app.inject({
      method: 'POST',
      url: `/v1/batches?notifyUrl=${encodeURIComponent('https://u:p@hooks.example.com/')}`,
      headers: { ...AUTH, 'content-type': 'text/csv' },
      payload: 'upn,displayName,kind,usageLocation,phoneNumber\nx@contoso.onmicrosoft.com,x,autoAttendant,US,any\n',
    });
    assert.equal(csv.statusCode, 400, csv.body);
    assert.match(csv.body, /notifyUrl must not carry user:password/);
  });

  test('with DIALTONE_NOTIFY_ALLOW_HTTP=true the API takes an http URL for any host', async () => {
    const open = await buildApp(testConfig({ DIALTONE_NOTIFY_ALLOW_HTTP: 'true', TEMPORAL_TASK_QUEUE: `idle-${randomUUID()}` }), { temporalClient: temporal.client });
    try {
      const res = await open.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: { ...accountBody('open-http'), notify: { url: 'http://hooks.internal:8080/dialtone' } } });
      assert.equal(res.statusCode, 202, res.body);
      await temporal.client.workflow.getHandle(res.json<SubmitResponse>().workflowId).terminate('test: nothing serves this task queue');
    } finally {
      await open.close();
    }
  });
});
