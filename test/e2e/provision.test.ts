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
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
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

  test('a number held by another account waits for a decision; rollback removes what the run made', async () => {
    const holder = await (await start(input({ phoneNumber: '+442079460005' }))).result();
    const request = input({ phoneNumber: '+442079460005' });
    const handle = await start(request);
    const status = await untilAttention(handle);
    assert.equal(status.attention?.error.type, 'NumberAlreadyAssigned');
    assert.match(status.attention?.error.message ?? '', new RegExp(holder.accountId ?? 'missing'));

    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', reason: 'wrong number in the request' }] });
    await assert.rejects(handle.result());
    const final = await handle.query(getStatusQuery);
    assert.equal(final.state, 'rolled-back');
    const state = await simState();
    const deleted = state.users.find((u) => u.id === final.accountId);
    assert.ok(deleted?.deletedDateTime, 'the account this run created is deleted (Entra keeps it 30 days in deleted users)');
    assert.deepEqual(deleted.assignedLicenses, [], 'its license was removed first');
    assert.match(final.steps.find((step) => step.name === 'createAccount')?.detail ?? '', /keeps it 30 days.*onDeletedAccount/);
    assert.equal(state.numbers.find((n) => n.telephoneNumber === request.phoneNumber)?.assignmentTargetId, holder.accountId, 'the other account keeps its number');
  });

  test('roll back, then resubmit the same UPN: the deleted account is reported, and purging it on the operator\'s word lets the run finish', async () => {
    const request = input({ phoneNumber: '+442079460006' });
    const first = await start(request);
    await first.result();
    // Undo it the way an operator would: a second run of the same account cannot start while the first is completed,
    // so roll back a run that needs attention instead.
    const request2 = input({ phoneNumber: '+442079460006' });
    const blocked = await start(request2);
    const attention = await untilAttention(blocked);
    assert.equal(attention.attention?.error.type, 'NumberAlreadyAssigned');
    await blocked.executeUpdate(decideUpdate, { args: [{ decision: 'rollback' }] });
    await assert.rejects(blocked.result());
    const deletedId = (await blocked.query(getStatusQuery)).accountId;

    const again = await start({ ...request2, phoneNumber: '+442079460007' });
    const held = await untilAttention(again);
    assert.equal(held.attention?.error.type, 'DeletedAccountHoldsUpn');
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
