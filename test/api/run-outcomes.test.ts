/**
 * A new request for an account whose latest run has closed: only a completed account is "already
 * provisioned"; any other outcome is provisioned afresh, whether the run completed with that outcome
 * or failed with it (older runs). The runs are a stand-in workflow that ends at once as told.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ApiApp } from '../../api/app';
import type { AccountStatusResponse, SubmitResponse } from '../../api/schemas/resource-accounts';
import type { TestTemporal } from '../helpers/temporal';
import { AUTH, accountBody, eventually, statusPath } from './helpers';
import { startApiWithWorker } from './with-worker';
import type { ApiWithWorker } from './with-worker';

describe('submitting for an account whose latest run has closed', () => {
  let temporal: TestTemporal;
  let app: ApiApp;
  let stack: ApiWithWorker;

  before(async () => {
    stack = await startApiWithWorker(require.resolve('./fixtures/finished-runs'));
    ({ temporal, app } = stack);
  });
  after(async () => {
    await stack?.close();
  });

  async function submit(body: object): Promise<{ statusCode: number; json: SubmitResponse }> {
    const res = await app.inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: body });
    return { statusCode: res.statusCode, json: res.json<SubmitResponse>() };
  }

  async function closedRun(ending: 'completes' | 'fails', state: string) {
    const body = accountBody('x', { upn: `${ending}_${state}_${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com` });
    const first = await submit(body);
    assert.equal(first.statusCode, 202);
    const handle = temporal.client.workflow.getHandle(first.json.workflowId, first.json.runId);
    await handle.result().catch(() => undefined);
    return { body, first: first.json };
  }

  async function statusOf(upn: string, runId: string): Promise<AccountStatusResponse> {
    const res = await app.inject({ method: 'GET', url: `${statusPath(upn)}?runId=${runId}`, headers: AUTH });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<AccountStatusResponse>();
  }

  for (const ending of ['completes', 'fails'] as const) {
    for (const state of ['rolled-back', 'abandoned']) {
      test(`a run that ${ending === 'completes' ? 'completes' : 'fails'} ${state}: a new request starts a new run`, async () => {
        const { body, first } = await closedRun(ending, state);
        const again = await submit(body);
        assert.equal(again.statusCode, 202, JSON.stringify(again.json));
        assert.equal(again.json.existing, false);
        assert.notEqual(again.json.runId, first.runId);

        const earlier = await statusOf(body.upn, first.runId);
        assert.deepEqual(
          { state: earlier.state, source: earlier.source, workflowStatus: earlier.workflowStatus },
          { state, source: 'result', workflowStatus: ending === 'completes' ? 'COMPLETED' : 'FAILED' },
        );
      });
    }
  }

  test('a run that completes provisioned: the same request is answered 200 with that run', async () => {
    const { body, first } = await closedRun('completes', 'completed');
    const again = await submit(body);
    assert.equal(again.statusCode, 200, JSON.stringify(again.json));
    assert.deepEqual({ runId: again.json.runId, existing: again.json.existing, state: again.json.state }, { runId: first.runId, existing: true, state: 'completed' });
  });

  test('the list shows an account once, as its latest run, and /runs shows every run newest first', async () => {
    const { body, first } = await closedRun('completes', 'rolled-back');
    const again = await submit(body);
    assert.equal(again.statusCode, 202);
    await temporal.client.workflow.getHandle(again.json.workflowId, again.json.runId).result();
    const id = body.upn.toLowerCase();

    type Runs = { items: Array<{ runId: string; workflowStatus: string; statusUrl: string }> };
    const runs = await eventually(
      async () => (await app.inject({ method: 'GET', url: `${statusPath(id)}/runs`, headers: AUTH })).json<Runs>(),
      (page) => page.items.length === 2,
      'both runs listed',
    );
    assert.deepEqual(
      runs.items.map((r) => r.runId),
      [again.json.runId, first.runId],
    );
    assert.equal(runs.items[1]?.statusUrl, `${statusPath(id)}?runId=${first.runId}`);

    type Page = { items: Array<{ id: string; runId: string }> };
    const list = (await app.inject({ method: 'GET', url: '/v1/resource-accounts?pageSize=1000', headers: AUTH })).json<Page>();
    assert.deepEqual(
      list.items.filter((item) => item.id === id).map((item) => item.runId),
      [again.json.runId],
    );
  });
});
