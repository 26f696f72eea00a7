import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { DEFAULT_VOICE_APPS } from '../../simulator/catalog';
import type { provisionResourceAccount } from '../../workflows';
import { PROVISION_WORKFLOW_TYPE, decideUpdate, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import type { ProvisionResourceAccountInput, ProvisionResourceAccountStatus } from '../../workflows/provision-resource-account/definitions';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

const SALES = DEFAULT_VOICE_APPS.find((app) => app.name === 'Sales')?.identity ?? '';

interface SimState {
  users: Array<{ id: string; userPrincipalName: string; deletedDateTime: string | null }>;
  numbers: Array<{ telephoneNumber: string; assignmentTargetId?: string | null }>;
  associations: Array<{ objectId: string; configurationId: string; configurationType: string; callPriority: number }>;
}

for (const adapter of ['powershell', 'rest-experimental'] as const) describe(`the optional association step through the ${adapter} adapter, end to end on a real Temporal server and the simulator`, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({}, undefined, undefined, { adapter });
  });
  after(async () => {
    await stack?.shutdown();
  });

  const simState = async (): Promise<SimState> => (await stack.simulator.app.inject({ method: 'GET', url: '/_simulator/state' })).json();

  function input(phoneNumber: string, association: ProvisionResourceAccountInput['association']): ProvisionResourceAccountInput {
    const id = randomUUID().slice(0, 8);
    return {
      tenantId: LOCAL_TENANT_ID, upn: `cq-${id}@contoso.onmicrosoft.com`, displayName: `Queue ${id}`, kind: 'callQueue',
      usageLocation: 'GB', phoneNumber, phoneNumberType: 'callingPlan', ...(association ? { association } : {}),
    };
  }

  function start(request: ProvisionResourceAccountInput) {
    return stack.temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue: stack.taskQueue, workflowId: resourceAccountWorkflowId(request.tenantId, request.upn), args: [request],
    });
  }

  test('a request naming a call queue ends with the account associated, after its number', async () => {
    const request = input('+442079460010', { configurationId: SALES, configurationType: 'CallQueue', callPriority: 1 });
    const result = await (await start(request)).result();
    assert.equal(result.state, 'completed', JSON.stringify(result.steps));
    assert.deepEqual(result.steps.map((s) => [s.name, s.status]), [
      ['preflight', 'succeeded'], ['createAccount', 'succeeded'], ['assignLicense', 'succeeded'], ['waitForLicense', 'succeeded'],
      ['assignNumber', 'succeeded'], ['associate', 'succeeded'],
    ]);
    assert.match(result.steps.at(-1)?.detail ?? '', new RegExp(`associated with the call queue ${SALES}`));
    const associations = (await simState()).associations.filter((a) => a.objectId === result.accountId);
    assert.deepEqual(associations.map((a) => [a.configurationId, a.configurationType, a.callPriority]), [[SALES, 'CallQueue', 1]]);
  });

  test('without an association the run has its five steps only', async () => {
    const result = await (await start(input('+442079460011', undefined))).result();
    assert.equal(result.state, 'completed');
    assert.equal(result.steps.some((s) => s.name === 'associate'), false);
  });

  test('the call queue deleted while the run waits: the step needs attention, and a roll-back undoes number, license and account', async () => {
    const created = await stack.simulator.app.inject({ method: 'POST', url: '/_simulator/voice-apps', payload: { name: `Doomed ${randomUUID().slice(0, 4)}`, configurationType: 'CallQueue' } });
    assert.equal(created.statusCode, 201, created.body);
    const queue = (created.json() as { identity: string }).identity;
    const before = (await stack.simulator.app.inject({ method: 'GET', url: '/_simulator/config' })).json() as { delays: { licensePropagation: unknown } };
    await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { licensePropagation: 3000 } } });
    try {
      const request = input('+442079460012', { configurationId: queue });
      const handle = await start(request);
      let status: ProvisionResourceAccountStatus | undefined;
      for (let i = 0; i < 600 && status?.currentStep !== 'waitForLicense'; i++) {
        status = await handle.query(getStatusQuery);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(status?.currentStep, 'waitForLicense', 'the pre-flight found the call queue');
      const deleted = await stack.simulator.app.inject({ method: 'DELETE', url: `/_simulator/voice-apps/${queue}` });
      assert.equal(deleted.statusCode, 204);
      for (let i = 0; i < 600 && status?.state !== 'needs-attention'; i++) {
        status = await handle.query(getStatusQuery);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(status?.attention?.step, 'associate', JSON.stringify(status?.attention));
      assert.equal(status?.attention?.error.type, 'VoiceAppNotFound');
      assert.match(status?.attention?.error.message ?? '', /Get-CsCallQueue \| Select Identity, Name/);
      assert.deepEqual(status?.attention?.allowedDecisions, ['retry', 'rollback', 'abandon']);

      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'ops@contoso', reason: 'queue is gone' }] });
      const final = await handle.result();
      assert.equal(final.state, 'rolled-back', final.outcome);
      assert.deepEqual(final.steps.filter((s) => s.status === 'undone').map((s) => s.name).sort(), ['assignLicense', 'assignNumber', 'associate', 'createAccount']);
      const after = await simState();
      assert.equal(after.numbers.find((n) => n.telephoneNumber === request.phoneNumber)?.assignmentTargetId ?? null, null, 'the number is free again');
      assert.ok(after.users.find((u) => u.id === final.accountId)?.deletedDateTime, 'the account is deleted');
      assert.equal(after.associations.some((a) => a.objectId === final.accountId), false);
    } finally {
      await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { licensePropagation: before.delays.licensePropagation } } });
    }
  });
});
