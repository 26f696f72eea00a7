/**
 * The whole product path: workflow on a real Temporal server, real activities over HTTPS to the
 * tenant simulator, which plays the tenant's replication lag, license propagation and the
 * asynchronous number operation.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { RESOURCE_ACCOUNT_APP_IDS, RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING } from '../helpers/simulator';
import type { provisionResourceAccount } from '../../workflows';
import { PROVISION_WORKFLOW_TYPE, decideUpdate, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import type { ProvisionResourceAccountInput, ProvisionResourceAccountStatus } from '../../workflows/provision-resource-account/definitions';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

interface SimState {
  users: Array<{
    id: string; userPrincipalName: string; usageLocation?: string | null; accountEnabled: boolean; assignedLicenses?: Array<{ skuId: string }>;
    deletedDateTime: string | null;
  }>;
  numbers: Array<{ telephoneNumber: string; assignmentTargetId?: string | null; assignmentStatus: string }>;
}

describe('provisioning against the tenant simulator', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.shutdown();
  });

  function input(overrides: Partial<ProvisionResourceAccountInput> = {}): ProvisionResourceAccountInput {
    const id = randomUUID().slice(0, 8);
    return {
      tenantId: LOCAL_TENANT_ID,
      upn: `cq-${id}@contoso.onmicrosoft.com`,
      displayName: `Support queue ${id}`,
      kind: 'callQueue',
      usageLocation: 'GB',
      phoneNumber: '+442079460003',
      phoneNumberType: 'callingPlan',
      ...overrides,
    };
  }

  function start(request: ProvisionResourceAccountInput) {
    return stack.temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue: stack.taskQueue,
      workflowId: resourceAccountWorkflowId(request.tenantId, request.upn),
      args: [request],
    });
  }

  async function simState(): Promise<SimState> {
    return (await stack.simulator.app.inject({ method: 'GET', url: '/_simulator/state' })).json();
  }

  test('all five steps run against the tenant and leave a licensed account with its number', async () => {
    const request = input();
    const handle = await start(request);
    const result = await handle.result();
    assert.equal(result.state, 'completed');
    assert.ok(result.steps.every((s) => s.status === 'succeeded'), JSON.stringify(result.steps));
    assert.equal(result.adopted, false);

    const state = await simState();
    const user = state.users.find((u) => u.id === result.accountId);
    assert.ok(user, 'the account exists in the directory');
    assert.equal(user.userPrincipalName.toLowerCase(), request.upn);
    assert.equal(user.accountEnabled, false, 'resource accounts stay blocked for sign-in');
    assert.equal(user.usageLocation, 'GB');
    assert.ok(user.assignedLicenses?.some((l) => l.skuId === RESOURCE_ACCOUNT_SKU_ID));
    const number = state.numbers.find((n) => n.telephoneNumber === request.phoneNumber);
    assert.equal(number?.assignmentTargetId, result.accountId);
    assert.equal(number?.assignmentStatus, 'voiceApplicationAssigned');
  });

  test('the same UPN cannot start a second run while the first is open', async () => {
    const request = input({ phoneNumber: '+442079460004' });
    const first = await start(request);
    await assert.rejects(start(request), WorkflowExecutionAlreadyStartedError);
    await first.result();
    const state = await simState();
    assert.equal(state.users.filter((u) => u.userPrincipalName.toLowerCase() === request.upn).length, 1, 'exactly one account');
  });

  async function untilAttention(handle: { query: (q: typeof getStatusQuery) => Promise<ProvisionResourceAccountStatus> }): Promise<ProvisionResourceAccountStatus> {
    let status: ProvisionResourceAccountStatus | undefined;
    for (let i = 0; i < 600 && status?.state !== 'needs-attention'; i++) {
      status = await handle.query(getStatusQuery);
      if (status.state !== 'needs-attention') await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(status);
    assert.equal(status.state, 'needs-attention', JSON.stringify(status));
    return status;
  }

  test('a number held by another account, of another country: the pre-flight names every problem and the holder\'s UPN, before any change', async () => {
    const holderRequest = input({ phoneNumber: '+442079460005' });
    const holder = await (await start(holderRequest)).result();
    const request = input({ phoneNumber: '+442079460005', usageLocation: 'US' });
    const handle = await start(request);
    const status = await untilAttention(handle);
    assert.equal(status.attention?.step, 'preflight');
    assert.equal(status.attention?.error.type, 'PreflightFailed');
    assert.deepEqual(status.attention?.error.problems?.map((p) => p.type).sort(), ['NumberAlreadyAssigned', 'NumberCountryMismatch']);
    assert.match(status.attention?.error.message ?? '', new RegExp(`already assigned to ${holderRequest.upn.replace(/[.+]/g, '\\$&')}`));
    assert.deepEqual(status.attention?.allowedDecisions, ['retry', 'abandon'], 'nothing to roll back');
    assert.equal((await simState()).users.some((u) => u.userPrincipalName.toLowerCase() === request.upn), false, 'no account was created');

    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'abandon', reason: 'wrong number in the request', by: 'ops@contoso' }] });
    const final = await handle.result();
    assert.equal(final.state, 'abandoned');
    assert.deepEqual(final.leftBehind, []);
    assert.equal((await simState()).numbers.find((n) => n.telephoneNumber === request.phoneNumber)?.assignmentTargetId, holder.accountId, 'the other account keeps its number');
  });

  test('two runs race for the last license: one completes, the other waits with the purchase path and continues by itself once a license is bought', async () => {
    const sku = 'PHONESYSTEM_VIRTUALUSER';
    const state = (await stack.simulator.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { licenses: Array<{ skuPartNumber: string; enabled: number; consumed: number }> };
    const before = state.licenses.find((x) => x.skuPartNumber === sku);
    assert.ok(before);
    // One free license left for two runs.
    const set = await stack.simulator.app.inject({ method: 'PUT', url: `/_simulator/licenses/${sku}`, payload: { units: before.consumed + 1 } });
    assert.equal(set.statusCode, 200, set.body);
    try {
      const options = { licenseRecheckIntervalMs: 1000 };
      const racers = [input({ phoneNumber: '+442079460008', options }), input({ phoneNumber: '+442079460009', options })];
      const handles = await Promise.all(racers.map((r) => start(r)));
      let waiting: ProvisionResourceAccountStatus | undefined;
      let waitingIndex = -1;
      for (let i = 0; i < 600 && !waiting; i++) {
        const statuses = await Promise.all(handles.map((h) => h.query(getStatusQuery)));
        waitingIndex = statuses.findIndex((st) => st.state === 'needs-attention');
        waiting = statuses[waitingIndex];
        if (!waiting) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(waiting, 'one of the two runs waits for licenses');
      const other = handles[1 - waitingIndex];
      assert.equal((await other?.result())?.state, 'completed');
      assert.match(waiting.attention?.error.message ?? '', /Purchase services > Add-ons/, 'the message gives the purchase path');
      assert.ok(waiting.attention?.autoRetry, 'and says it checks the stock by itself');
      assert.deepEqual(waiting.attention?.allowedDecisions.includes('abandon'), true);

      const bought = await stack.simulator.app.inject({ method: 'POST', url: '/_simulator/licenses/purchase', payload: { skuPartNumber: sku, units: 1 } });
      assert.equal(bought.statusCode, 200, bought.body);
      const done = await handles[waitingIndex]?.result();
      assert.equal(done?.state, 'completed', 'no one had to say retry');
      const auto = done?.decisions.find((d) => d.automatic);
      assert.equal(auto?.by, 'dialtone');
      assert.equal(auto?.decision, 'retry');
    } finally {
      await stack.simulator.app.inject({ method: 'PUT', url: `/_simulator/licenses/${sku}`, payload: { units: before.enabled } });
    }
  });

  test('roll back, then resubmit the same UPN: the deleted account is reported, and purging it on the operator\'s word lets the run finish', async () => {
    // Someone takes the number while the run waits for its license: found only at the number step, after the
    // account was made; the operator rolls back.
    const seeded = await stack.simulator.app.inject({
      method: 'POST', url: '/_simulator/seed',
      payload: { users: [{ userPrincipalName: `holder-${randomUUID().slice(0, 6)}@contoso.onmicrosoft.com`, displayName: 'Holder',
        applicationId: RESOURCE_ACCOUNT_APP_IDS.callQueue, usageLocation: 'GB', licenses: ['PHONESYSTEM_VIRTUALUSER'] }] },
    });
    assert.equal(seeded.statusCode, 201, seeded.body);
    const holderId = (seeded.json() as { users: Array<{ id: string }> }).users[0]?.id ?? '';
    await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { licensePropagation: 4000 } } });
    const request2 = input({ phoneNumber: '+442079460006' });
    const blocked = await start(request2);
    try {
      for (let i = 0; i < 200 && (await blocked.query(getStatusQuery)).currentStep !== 'waitForLicense'; i++) await new Promise((r) => setTimeout(r, 50));
      const taken: { assigned: boolean } = await new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(
        createTenantActivities(stack.simulator.tenant, TEST_POLLING).assignPhoneNumber,
        { accountId: holderId, phoneNumber: request2.phoneNumber, numberType: 'callingPlan' as const },
      );
      assert.equal(taken.assigned, true);
    } finally {
      await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { licensePropagation: { minMs: 150, maxMs: 300 } } } });
    }
    const attention = await untilAttention(blocked);
    assert.equal(attention.attention?.step, 'assignNumber');
    assert.equal(attention.attention?.error.type, 'NumberAlreadyAssigned');
    assert.deepEqual(attention.attention?.allowedDecisions, ['retry', 'rollback', 'abandon']);
    await blocked.executeUpdate(decideUpdate, { args: [{ decision: 'rollback' }] });
    const rolledBack = await blocked.result();
    assert.equal(rolledBack.state, 'rolled-back');
    const deletedId = rolledBack.accountId;
    const deleted = (await simState()).users.find((u) => u.id === deletedId);
    assert.ok(deleted?.deletedDateTime, 'the account this run created is deleted (Entra keeps it 30 days in deleted users)');
    assert.deepEqual(deleted.assignedLicenses, [], 'its license was removed first');
    assert.equal((await simState()).numbers.find((n) => n.telephoneNumber === request2.phoneNumber)?.assignmentTargetId, holderId, 'the other account keeps its number');
    assert.match(rolledBack.steps.find((step) => step.name === 'createAccount')?.detail ?? '', /keeps it 30 days.*onDeletedAccount/);

    const again = await start({ ...request2, phoneNumber: '+442079460007' });
    const held = await untilAttention(again);
    assert.equal(held.attention?.step, 'preflight', 'found before any change');
    assert.deepEqual(held.attention?.error.problems?.map((p) => p.type), ['DeletedAccountHoldsUpn']);
    assert.match(held.attention?.error.message ?? '', new RegExp(`object id ${deletedId}`));
    await assert.rejects(
      again.executeUpdate(decideUpdate, { args: [{ decision: 'abandon', onDeletedAccount: 'purge' }] }),
      (err: Error) => /onDeletedAccount goes only with retry/.test(String((err.cause as Error | undefined)?.message)),
    );
    await again.executeUpdate(decideUpdate, { args: [{ decision: 'retry', onDeletedAccount: 'purge', reason: 'the old one was a test' }] });
    const done = await again.result();
    assert.equal(done.state, 'completed');
    assert.notEqual(done.accountId, deletedId);
    assert.match(done.steps.find((step) => step.name === 'createAccount')?.detail ?? '', new RegExp(`permanently deleting the deleted account ${deletedId}`));
    assert.deepEqual(done.decisions.map((d) => [d.decision, d.onDeletedAccount]), [['retry', 'purge']]);
    assert.equal((await simState()).users.find((u) => u.id === deletedId), undefined, 'the deleted account is gone for good');
  });
});
