/**
 * A run whose workflow task keeps failing (a bug in the deployed workflow code, or non-determinism
 * after a deployment): the status says so, with the attempt and the failure's first line, and a
 * decision or a cancel is refused with what to do instead of a 500. The worker runs a stand-in
 * workflow whose code throws a plain Error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiApp } from '../../api/app';
import type { AccountStatusResponse, SubmitResponse } from '../../api/schemas/resource-accounts';
import type { TestTemporal } from '../helpers/temporal';
import { BUG_MESSAGE } from './fixtures/failing-workflow-task';
import { AUTH, accountBody, eventually, statusPath } from './helpers';
import { startApiWithWorker } from './with-worker';
import type { ApiWithWorker } from './with-worker';

interface ErrorJson {
  error: { code: string; message: string };
}

describe('a run whose workflow task keeps failing', () => {
  let temporal: TestTemporal;
  let app: ApiApp;
  let stack: ApiWithWorker;
  let run: SubmitResponse;
  let upn: string;

  before(async () => {
    stack = await startApiWithWorker(require.resolve('./fixtures/failing-workflow-task'));
    ({ temporal, app } = stack);

    upn = accountBody('buggy').upn;
    const res = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: accountBody('buggy', { upn }) });
    assert.equal(res.statusCode, 202, res.body);
    run = res.json<SubmitResponse>();
    // From the third attempt on, Temporal itself refuses updates to the run.
    await eventually(
      () => temporal.client.workflow.getHandle(run.workflowId).describe(),
      (d) => (d.raw.pendingWorkflowTask?.attempt ?? 0) >= 3,
      'the workflow task failed twice',
    );
  });
  after(async () => {
    await temporal?.client.workflow.getHandle(run?.workflowId ?? '').terminate('test over').catch(() => undefined);
    await stack?.close();
  });

  test('the status says the workflow task is failing, with the attempt and the first line of the failure', async () => {
    const res = await app.inject({ method: 'GET', url: statusPath(upn), headers: AUTH });
    assert.equal(res.statusCode, 200, res.body);
    const status = res.json<AccountStatusResponse>();
    assert.equal(status.workflowStatus, 'RUNNING');
    assert.equal(status.source, 'fallback');
    assert.ok(status.workflowTaskFailure, res.body);
    assert.ok(status.workflowTaskFailure.attempt >= 3);
    assert.equal(status.workflowTaskFailure.message, BUG_MESSAGE);
    assert.equal(status.workflowTaskFailure.cause, 'the workflow code threw an error');
    assert.ok(!Number.isNaN(Date.parse(status.workflowTaskFailure.since ?? '')));
    assert.match(status.note ?? '', /workflow task is failing \(attempt \d+, since .*\): stand-in bug: the workflow code cannot read its input\. /);
    assert.match(status.note ?? '', /Fix or roll back the worker deployment/);
    assert.doesNotMatch(res.body, /this second line is not shown/);
  });

  test('a decision is refused with workflow_task_failing and what to do, never a 500', async () => {
    const res = await app.inject({ method: 'POST', url: `${statusPath(upn)}/decision`, headers: AUTH, payload: { decision: 'retry' } });
    assert.equal(res.statusCode, 503, res.body);
    const { error } = res.json<ErrorJson>();
    assert.equal(error.code, 'workflow_task_failing');
    assert.match(error.message, /^cannot take the decision: the run's workflow task is failing \(attempt \d+/);
    assert.match(error.message, /Fix or roll back the worker deployment .* terminate it/);
  });

  test('a cancel is refused likewise, and the run is left as it was', async () => {
    const res = await app.inject({ method: 'POST', url: `${statusPath(upn)}/cancel`, headers: AUTH });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json<ErrorJson>().error.code, 'workflow_task_failing');
    assert.match(res.json<ErrorJson>().error.message, /^cannot cancel the run: /);
    const { history } = await temporal.client.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.namespace,
      execution: { workflowId: run.workflowId },
    });
    assert.ok(!history?.events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes), 'no cancel was requested');
  });
});
