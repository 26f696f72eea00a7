/**
 * Durable delivery: a real worker process is killed (SIGKILL) while it is POSTing an event; a new
 * worker delivers the same event — same id, same bytes, same signature — and the run it came from had
 * long completed.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { provisionResourceAccount } from '../../workflows';
import { PROVISION_WORKFLOW_TYPE, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import type { NotificationEvent } from '../../workflows/notification/definitions';
import { eventually } from '../api/helpers';
import { startTestReceiver } from '../helpers/receiver';
import type { TestReceiver } from '../helpers/receiver';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { killHard, workerProcesses } from '../helpers/worker-process';

const SECRET = `kill-test-signing-secret-${randomUUID()}`;

describe('a worker killed in the middle of a delivery', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  let receiver: TestReceiver;
  let worker: ChildProcess | undefined;
  const taskQueue = `notify-kill-${randomUUID()}`;
  const workers = workerProcesses(() => temporal, () => sim, () => taskQueue, () => ({
    DIALTONE_NOTIFY_SIGNING_SECRET: SECRET,
    DIALTONE_NOTIFY_TIMEOUT_MS: '5000',
  }));

  before(async () => {
    receiver = await startTestReceiver();
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
  });
  after(async () => {
    await killHard(worker);
    await sim?.close();
    await temporal?.teardown();
    await receiver?.close();
  });

  test('the event still arrives, with the id, bytes and signature of the attempt that was cut off', async () => {
    // The receiver hangs on the first attempt of each event: the worker is killed while it waits.
    receiver.hold('/hook', 1);
    worker = workers.start();
    const upn = `notify-kill-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    const handle = await temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, upn),
      args: [{
        tenantId: LOCAL_TENANT_ID,
        upn,
        displayName: 'Kill test',
        kind: 'autoAttendant',
        usageLocation: 'US',
        phoneNumber: '+12065550124',
        notify: { url: receiver.url('/hook') },
      }],
    });
    const status = await handle.result();
    assert.equal(status.state, 'completed', workers.log());
    const sent = status.notifications?.[0];
    assert.ok(sent);

    const cutOff = await eventually(async () => receiver.requests.filter((r) => r.path === '/hook'), (list) => list.length === 1, 'the first attempt arriving', 1200);
    await killHard(worker);
    worker = workers.start();
    await eventually(async () => receiver.delivered('/hook').length, (n) => n === 1, `the event delivered by the new worker\n${workers.log()}`, 1200);

    const [first, again] = receiver.requests.filter((r) => r.path === '/hook');
    assert.equal(first?.status, 0, 'the first attempt was never answered');
    assert.equal(again?.status, 204);
    assert.equal(again?.headers['dialtone-event-id'], sent.id);
    assert.equal(again?.body, cutOff[0]?.body, 'the same bytes');
    assert.equal(again?.headers['dialtone-signature'], first?.headers['dialtone-signature']);
    assert.equal(again?.headers['dialtone-signature'], `sha256=${createHmac('sha256', SECRET).update(again?.body ?? '').digest('hex')}`);
    const event = JSON.parse(again?.body ?? '{}') as NotificationEvent;
    assert.equal(event.id, sent.id);
    assert.equal(event.type, 'com.dialtone.resource-account.completed');
  });
});
