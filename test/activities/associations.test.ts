import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Activities } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import { DEFAULT_VOICE_APPS } from '../../simulator/catalog';
import type { TestSimulator } from '../helpers/simulator';
import { activitiesPerSuite, failureOf, provisionedAccount, retried, run, upn } from './harness';

const MAIN_LINE = DEFAULT_VOICE_APPS.find((app) => app.name === 'Main line')?.identity ?? '';
const AFTER_HOURS = DEFAULT_VOICE_APPS.find((app) => app.name === 'After hours')?.identity ?? '';
const SALES = DEFAULT_VOICE_APPS.find((app) => app.name === 'Sales')?.identity ?? '';

async function associations(sim: TestSimulator): Promise<Array<{ objectId: string; configurationId: string; callPriority: number }>> {
  return ((await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { associations: Array<{ objectId: string; configurationId: string; callPriority: number }> }).associations;
}

for (const adapter of ['rest-experimental', 'powershell'] as const) describe(`association with an auto attendant or call queue (${adapter} adapter against the simulator)`, () => {
  let sim: TestSimulator;
  let acts: Activities;
  activitiesPerSuite((started) => ({ sim, acts } = started), adapter);

  test('an account whose license has not reached Teams is refused and retried; then associated once, and a repeat finds it done', async () => {
    const before = (await sim.app.inject({ method: 'GET', url: '/_simulator/config' })).json() as { delays: { teamsSync: unknown } };
    await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { teamsSync: 1500 } } });
    try {
      const accountId = await provisionedAccount(acts);
      const name = upn();
      const { result, retries } = await retried(acts, 'associateAccount', { accountId, upn: name, configurationId: MAIN_LINE, configurationType: 'AutoAttendant', callPriority: 2 });
      assert.deepEqual(result, { associated: true, alreadyAssociated: false });
      assert.ok(retries.length > 0 && retries.every((r) => r.type === ErrorType.AccountNotReadyForAssociation), retries.map((r) => r.type).join());
      assert.deepEqual((await associations(sim)).filter((a) => a.objectId === accountId).map((a) => [a.configurationId, a.callPriority]), [[MAIN_LINE, 2]]);
      // A retry after a lost answer: the association is there, and nothing is made twice.
      assert.deepEqual(await run(acts, 'associateAccount', { accountId, upn: name, configurationId: MAIN_LINE, configurationType: 'AutoAttendant' }),
        { associated: false, alreadyAssociated: true });
      assert.equal((await associations(sim)).filter((a) => a.objectId === accountId).length, 1);
    } finally {
      await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { delays: { teamsSync: before.delays.teamsSync } } });
    }
  });

  test('associated elsewhere: a person must decide, told how to remove the other association', async () => {
    const accountId = await provisionedAccount(acts);
    await retried(acts, 'associateAccount', { accountId, upn: upn(), configurationId: AFTER_HOURS, configurationType: 'AutoAttendant' });
    const failure = await failureOf(run(acts, 'associateAccount', { accountId, upn: upn(), configurationId: MAIN_LINE, configurationType: 'AutoAttendant' }));
    assert.equal(failure.type, ErrorType.AssociationConflict);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, new RegExp(`Remove-CsOnlineApplicationInstanceAssociation -Identities ${accountId}`));
  });

  test('a call queue for an auto-attendant account, or an unknown auto attendant, fails for good with the fix', async () => {
    const accountId = await provisionedAccount(acts);
    const wrongType = await failureOf(run(acts, 'associateAccount', { accountId, upn: upn(), configurationId: SALES, configurationType: 'CallQueue' }));
    assert.equal(wrongType.nonRetryable, true);
    assert.match(wrongType.message, /is an auto attendant resource account and cannot be associated with a call queue/);
    const missing = await failureOf(run(acts, 'associateAccount', { accountId, upn: upn(), configurationId: '00000000-0000-4000-8000-000000000000', configurationType: 'AutoAttendant' }));
    assert.equal(missing.type, ErrorType.VoiceAppNotFound);
    assert.match(missing.message, /Get-CsAutoAttendant \| Select Identity, Name/);
  });

  test('the undo removes only the association with the configuration the run named', async () => {
    const accountId = await provisionedAccount(acts);
    await retried(acts, 'associateAccount', { accountId, upn: upn(), configurationId: MAIN_LINE, configurationType: 'AutoAttendant' });
    assert.deepEqual(await run(acts, 'removeAssociation', { accountId, configurationId: AFTER_HOURS }), { removed: false });
    assert.equal((await associations(sim)).filter((a) => a.objectId === accountId).length, 1, 'someone else\'s association stays');
    assert.deepEqual(await run(acts, 'removeAssociation', { accountId, configurationId: MAIN_LINE }), { removed: true });
    assert.equal((await associations(sim)).filter((a) => a.objectId === accountId).length, 0);
    assert.deepEqual(await run(acts, 'removeAssociation', { accountId, configurationId: MAIN_LINE }), { removed: false }, 'a repeated undo finds nothing to do');
  });

  test('the pre-flight names a missing auto attendant and an existing association elsewhere, before any change', async () => {
    const accountId = await provisionedAccount(acts);
    const name = ((await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as { users: Array<{ id: string; userPrincipalName: string }> })
      .users.find((u) => u.id === accountId)?.userPrincipalName ?? '';
    await retried(acts, 'associateAccount', { accountId, upn: name, configurationId: AFTER_HOURS, configurationType: 'AutoAttendant' });
    const plan = await run(acts, 'preflight', {
      upn: name, kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550120', numberType: 'callingPlan',
      association: { configurationId: MAIN_LINE, configurationType: 'AutoAttendant' },
    });
    assert.deepEqual(plan.problems.filter((p) => p.field === 'association').map((p) => p.type), [ErrorType.AssociationConflict]);
    assert.equal(plan.account.associatedWith, AFTER_HOURS);
    const unknown = await run(acts, 'preflight', {
      upn: upn(), kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550121', numberType: 'callingPlan',
      association: { configurationId: '00000000-0000-4000-8000-000000000001', configurationType: 'AutoAttendant' },
    });
    assert.deepEqual(unknown.problems.map((p) => [p.type, p.field]), [[ErrorType.VoiceAppNotFound, 'association']]);
  });
});
