/**
 * What a person or an internal system does: the `dialtone` command (a child process) talks HTTP to
 * the API, which starts the workflow on a real Temporal server; the worker provisions the account
 * in the tenant simulator.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { REPO_ROOT } from '../../lib/paths';
import { AUTH, TOKEN, testConfig } from '../api/helpers';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

const run = promisify(execFile);

describe('the dialtone command and the REST API, end to end', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  let apiUrl: string;
  before(async () => {
    stack = await startTestStack();
    app = await buildApp(testConfig({ TEMPORAL_TASK_QUEUE: stack.taskQueue }), { temporalClient: stack.temporal.client });
    apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await stack?.shutdown();
  });

  function dialtone(...args: string[]) {
    return run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cli/dialtone.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DIALTONE_API_URL: apiUrl, DIALTONE_API_TOKEN: TOKEN },
    });
  }

  test('submit, follow to completion, and find the account provisioned in the tenant', async () => {
    const upn = `aa-${randomUUID().slice(0, 8)}@contoso.onmicrosoft.com`;
    const submitted = await dialtone('submit', '--upn', upn, '--display-name', 'Main line', '--kind', 'autoAttendant', '--usage-location', 'US', '--phone-number', '+12065550121');
    const accepted = JSON.parse(submitted.stdout) as { id: string; existing: boolean; state: string };
    assert.equal(accepted.id, upn);
    assert.equal(accepted.existing, false);

    let status: { state: string; accountId?: string; steps: Array<{ status: string }> } = { state: 'unknown', steps: [] };
    for (let i = 0; i < 100 && status.state !== 'completed'; i++) {
      status = JSON.parse((await dialtone('status', upn)).stdout) as typeof status;
      if (status.state !== 'completed') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status.state, 'completed');
    assert.ok(status.steps.every((s) => s.status === 'succeeded'));

    const tenant = (await stack.simulator.app.inject({ method: 'GET', url: '/_simulator/state' })).json<{
      numbers: Array<{ telephoneNumber: string; assignmentTargetId?: string }>;
    }>();
    assert.equal(tenant.numbers.find((n) => n.telephoneNumber === '+12065550121')?.assignmentTargetId, status.accountId);

    const description = await stack.temporal.client.workflow.getHandle(`resource-account:${stack.simulator.tenant.tenantId}:${upn}`).describe();
    assert.equal(await description.staticSummary(), `Auto attendant ${upn} → +12065550121 (US)`, 'operators see what the run is for in the Web UI');

    const again = await app.inject({
      method: 'POST',
      url: '/v1/resource-accounts',
      headers: AUTH,
      payload: { upn, displayName: 'Main line', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550121' },
    });
    assert.equal(again.statusCode, 200, 'a provisioned account is reported, not provisioned twice');
    assert.equal(again.json<{ existing: boolean }>().existing, true);
  });

  test('a refused request exits non-zero with the field and the fix', async () => {
    const err = await dialtone('submit', '--upn', 'no-at-sign', '--display-name', 'X', '--kind', 'autoAttendant', '--usage-location', 'US', '--phone-number', '+12065550122').then(
      () => assert.fail('must exit non-zero'),
      (e: unknown) => e as { code: number; stderr: string },
    );
    assert.equal(err.code, 1);
    assert.match(err.stderr, /"field": "upn"/);
    assert.match(err.stderr, /is not a user principal name: use exactly one/);
  });

  test('without the token the API refuses the command', async () => {
    const err = await run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cli/dialtone.ts'), 'list'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DIALTONE_API_URL: apiUrl, DIALTONE_API_TOKEN: '' },
    }).then(
      () => assert.fail('must exit non-zero'),
      (e: unknown) => e as { code: number; stderr: string },
    );
    assert.equal(err.code, 1);
    assert.match(err.stderr, /unauthorized|token/i);
  });
});
