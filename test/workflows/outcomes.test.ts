/**
 * Runs that tell the truth: every way a run ends, on a real Temporal server (scenarios.ts), including
 * two decisions arriving together and a cancellation in the middle of a roll-back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { ErrorType } from '../../lib/error-types';
import { TERMINAL_STATES } from '../../workflows/provision-resource-account/definitions';
import { currentDetails } from '../../workflows/provision-resource-account/presentation';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';
import { SCENARIOS } from './scenarios';
import type { ScenarioResult } from './scenarios';
import { WorkerMetrics } from '../../worker/metrics';

const UNDO = ['unassignPhoneNumber', 'removeLicense', 'deleteResourceAccount'];

describe('how runs end (real Temporal server)', () => {
  let temporal: TestTemporal;
  before(async () => {
    temporal = await startTestTemporal();
  });
  after(async () => {
    await temporal?.teardown();
  });

  async function run(name: string): Promise<ScenarioResult> {
    const scenario = SCENARIOS.find((s) => s.name === name);
    assert.ok(scenario, name);
    return scenario.run(temporal);
  }

  test('the scenarios cover every terminal state', () => {
    assert.deepEqual([...new Set(SCENARIOS.map((s) => s.ends))].sort(), [...TERMINAL_STATES].sort());
  });

  test('operator-chosen outcomes are results, never failed executions', async () => {
    for (const name of ['rolled-back', 'abandoned', 'abandoned-by-deadline']) {
      const { status, workflowStatus } = await run(name);
      assert.equal(workflowStatus, 'COMPLETED', `${name}: not shown as a failure in the Web UI`);
      assert.ok(status.outcome, `${name}: the outcome is said in one line`);
    }
  });

  test('two decisions arriving together: exactly one is accepted and recorded, the other is told why not', async () => {
    const { decisions = [], status } = await run('concurrent-decisions');
    const accepted = decisions.filter((d) => d.status === 'fulfilled');
    const refused = decisions.filter((d): d is PromiseRejectedResult => d.status === 'rejected');
    assert.equal(accepted.length, 1, 'one decision wins');
    assert.equal(refused.length, 1, 'the other is refused');
    const refusal = refused[0]?.reason as Error & { cause?: Error };
    assert.match(refusal.cause?.message ?? refusal.message, /no decision is pending: the run is (rolling-back|abandoned); the last decision was (rollback by alice|abandon by bob)/);
    assert.equal(status.decisions.length, 1, 'the audit trail holds the one decision that happened');
    const winner = status.decisions[0];
    const told = accepted[0]?.status === 'fulfilled' ? accepted[0].value.state : undefined;
    assert.equal(status.state, winner?.decision === 'rollback' ? 'rolled-back' : 'abandoned');
    assert.equal(told, winner?.decision === 'rollback' ? 'rolling-back' : 'abandoned', 'the caller is told what happens');
    assert.ok(winner?.by === 'alice' || winner?.by === 'bob');
    assert.ok(winner?.at);
  });

  test('a cancellation during a roll-back lets the roll-back finish: every undo runs and the run says rolled-back', async () => {
    const { status, workflowStatus, calls } = await run('cancel-during-rollback');
    assert.deepEqual(calls.map((c) => c.name).filter((n) => UNDO.includes(n)), UNDO);
    assert.equal(status.state, 'rolled-back');
    assert.ok(status.cancelRequestedAt, 'the cancellation is recorded');
    assert.equal(workflowStatus, 'COMPLETED');
    assert.deepEqual(status.steps.filter((s) => s.status === 'undone').map((s) => s.name), ['createAccount', 'assignLicense', 'assignNumber']);
  });

  test('a cancellation stops the run where it is and lists what it left', async () => {
    const { status, workflowStatus, input } = await run('cancelled');
    assert.equal(workflowStatus, 'CANCELLED');
    assert.equal(status.state, 'cancelled');
    assert.deepEqual(status.leftBehind, [
      `${input.phoneNumber} on ${input.upn}, if the assignment reached Teams`,
      `the PHONESYSTEM_VIRTUALUSER license on ${input.upn}`,
      `resource account ${input.upn} (acc-1)`,
    ]);
  });

  test('a waiting run\'s current details say what it waits for, why, and give the exact decide commands', async () => {
    const scenario = SCENARIOS.find((s) => s.name === 'preflight-problems-then-retry');
    assert.ok(scenario);
    const { seen = [] } = await scenario.run(temporal);
    const waiting = seen[0];
    assert.ok(waiting);
    const details = currentDetails(waiting);
    const upn = waiting.request.upn.toLowerCase();
    assert.match(details, /^## Needs attention: waiting for an operator decision/);
    assert.match(details, /\*\*Waiting for:\*\* the 3 problems below to be fixed \(nothing was changed yet\), then retry/);
    assert.match(details, /- `usageLocation` \(NumberCountryMismatch\): /);
    assert.equal((details.match(/cq-old@contoso\.onmicrosoft\.com/g) ?? []).length, 1, 'each problem is said once');
    assert.ok(details.includes(`\`dialtone decide ${upn} retry --reason "…"\``));
    assert.ok(details.includes(`\`dialtone decide ${upn} abandon --reason "…"\``));
    assert.doesNotMatch(details, /rollback/, 'only the decisions allowed are offered');
    assert.match(details, /before \d{4}-\d\d-\d\d \d\d:\d\d UTC, or the run abandons itself then/);
  });

  test('the pre-flight lists every problem at once before any change, and retry runs it again', async () => {
    const { status, seen = [], calls } = await run('preflight-problems-then-retry');
    const waiting = seen[0];
    assert.equal(waiting?.attention?.error.type, ErrorType.PreflightFailed);
    assert.deepEqual(waiting?.attention?.error.problems?.map((p) => p.field), ['upn', 'phoneNumber', 'usageLocation']);
    assert.match(waiting?.attention?.error.message ?? '', /3 problems before any change: \(1\).*\(2\).*cq-old@contoso.onmicrosoft.com.*\(3\)/);
    assert.deepEqual(waiting?.attention?.allowedDecisions, ['retry', 'abandon'], 'nothing to roll back: nothing was changed');
    assert.match(waiting?.attention?.waitingFor ?? '', /3 problems/);
    assert.ok(waiting?.attention?.howToDecide.some((c) => c.startsWith(`dialtone decide ${status.request.upn.toLowerCase()} retry`)));
    assert.equal(status.state, 'completed');
    const names = calls.map((c) => c.name);
    assert.deepEqual(names.slice(0, 3), ['preflight', 'preflight', 'createResourceAccount'], 'no write before the problems were fixed');
    assert.deepEqual(status.decisions.map((d) => [d.decision, d.by, d.reason]), [['retry', 'ops@contoso', 'fixed all three']]);
  });

  test('a run waiting for licenses shows its checks and continues by itself once they are bought', async () => {
    const { status, seen = [], calls } = await run('license-auto-continue');
    const waiting = seen[0];
    assert.equal(waiting?.attention?.autoRetry?.what, 'a Teams Phone Resource Account license is free');
    assert.ok(waiting?.attention?.autoRetry?.nextCheckAt);
    assert.match(waiting?.attention?.autoRetry?.lastResult ?? '', /0 of 25 are free/);
    assert.deepEqual(waiting?.attention?.allowedDecisions, ['retry', 'abandon'], 'still abandonable');
    assert.equal(status.state, 'completed');
    assert.equal(calls.filter((c) => c.name === 'checkLicenseAvailability').length, 3);
    assert.equal(status.decisions.length, 1);
    assert.equal(status.decisions[0]?.by, 'dialtone');
    assert.equal(status.decisions[0]?.automatic, true);
    assert.match(status.decisions[0]?.reason ?? '', /license is free \(5 of 30 free\)/);
  });

  test('a failed undo never ends as rolled back', async () => {
    const { status } = await run('undo-failed-abandoned');
    assert.equal(status.state, 'abandoned');
    assert.equal(status.leftBehind?.length, 3);
  });

  test('the Web UI shows a waiting run\'s reason and the exact decide command in its current details', async () => {
    const scenario = SCENARIOS.find((s) => s.name === 'abandoned-by-deadline');
    assert.ok(scenario);
    const { handle, status } = await scenario.run(temporal);
    // What the Web UI reads: the workflow's metadata query (current details), answered from history by a replaying worker.
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue: (await handle.describe()).taskQueue,
      workflowsPath: require.resolve('../../workflows'),
      activities: {},
      sinks: new WorkerMetrics({ defaultMetrics: false }).sinks(),
    });
    const metadata = await worker.runUntil(handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata'));
    assert.match(metadata.currentDetails ?? '', /^## Abandoned/);
    assert.match(metadata.currentDetails ?? '', /\*\*Outcome:\*\* abandoned by itself: no decision before the deadline/);
    assert.match(metadata.currentDetails ?? '', /- .* UTC: \*\*abandon\*\* by dialtone \(automatic\)/);
    assert.equal(status.decisions[0]?.automatic, true);
  });
});
