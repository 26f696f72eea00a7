/**
 * provisionBatch on a real Temporal server with the real activities over the tenant simulator: the
 * sliding window with continue-as-new, numbers allocated without double-booking, the license need
 * checked once (and waited for once), quarantine, control, and a row that joins a single request's run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { provisionBatch, provisionResourceAccount } from '../../workflows';
import {
  BATCH_WORKFLOW_TYPE,
  batchWorkflowId,
  cancelBatchUpdate,
  getBatchProgressQuery,
  getBatchRowsQuery,
  resumeBatchUpdate,
  retryFailedRowsUpdate,
} from '../../workflows/provision-batch/definitions';
import type { BatchOptions, BatchProgress, BatchRowRequest } from '../../workflows/provision-batch/definitions';
import { PROVISION_WORKFLOW_TYPE, decideUpdate, getStatusQuery, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

const DOMAIN = 'contoso.onmicrosoft.com';

interface SimulatorState {
  licenses: Array<{ skuPartNumber: string; consumed: number; units: number }>;
  users: Array<{ id: string; userPrincipalName: string; assignedLicenses?: Array<{ skuId: string }>; deleted?: boolean }>;
  numbers: Array<{ telephoneNumber: string; assignmentTargetId?: string | null }>;
}

function row(name: string, phoneNumber: string, extra: Partial<BatchRowRequest> = {}): BatchRowRequest {
  return { upn: `${name}@${DOMAIN}`, displayName: `Batch ${name}`, kind: 'autoAttendant', usageLocation: 'US', phoneNumber, ...extra };
}

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 1500)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('provisionBatch', () => {
  let stack: TestStack | undefined;
  afterEach(async () => {
    await stack?.shutdown();
    stack = undefined;
  });

  async function start(rows: BatchRowRequest[], options: BatchOptions = {}, dryRun = false): Promise<WorkflowHandle<typeof provisionBatch>> {
    if (!stack) throw new Error('no stack');
    const batchId = `t-${randomUUID().slice(0, 8)}`;
    return stack.temporal.client.workflow.start<typeof provisionBatch>(BATCH_WORKFLOW_TYPE, {
      taskQueue: stack.taskQueue,
      workflowId: batchWorkflowId(LOCAL_TENANT_ID, batchId),
      args: [{ tenantId: LOCAL_TENANT_ID, batchId, rows, options, dryRun, submittedBy: 'test' }],
    });
  }

  async function tenant(): Promise<SimulatorState> {
    return (await stack!.simulator.app.inject({ method: 'GET', url: '/_simulator/state' })).json() as SimulatorState;
  }

  test('a window of 2 over 7 rows continues as new, allocates "any" numbers once each, and provisions every row exactly once', async () => {
    stack = await startTestStack();
    const suffix = randomUUID().slice(0, 6);
    const rows = [
      row(`w1-${suffix}`, '+12065550101'),
      row(`w2-${suffix}`, 'any', { numberCity: 'Seattle' }),
      row(`w3-${suffix}`, 'any', { tollFree: true }),
      row(`w4-${suffix}`, '+12065550100'),
      row(`w5-${suffix}`, 'any', { usageLocation: 'GB' }),
      row(`w6-${suffix}`, 'any'),
      row(`w7-${suffix}`, '+12065550102', { kind: 'callQueue' }),
    ];
    const handle = await start(rows, { concurrency: 2, maxHistoryEvents: 50 });
    const result = await handle.result();
    assert.equal(result.progress.state, 'completed', result.progress.message);
    assert.equal(result.progress.counts.completed, rows.length);
    assert.ok(result.progress.generation > 1, `the batch continued as new (generation ${result.progress.generation})`);

    const page = await handle.query(getBatchRowsQuery, { limit: 100 });
    const numbers = page.rows.map((r) => r.phoneNumber);
    assert.equal(new Set(numbers).size, rows.length, `every row has its own number: ${numbers.join(', ')}`);
    // The allocated numbers match what each row asked for; fixed numbers are never given to "any" rows.
    const byUpn = new Map(page.rows.map((r) => [r.upn, r]));
    assert.match(byUpn.get(rows[1]!.upn)!.phoneNumber!, /^\+1206/);
    assert.match(byUpn.get(rows[2]!.upn)!.phoneNumber!, /^\+1833/);
    assert.match(byUpn.get(rows[4]!.upn)!.phoneNumber!, /^\+44/);
    assert.ok(!['+12065550100', '+12065550101', '+12065550102'].includes(byUpn.get(rows[5]!.upn)!.phoneNumber!));

    const state = await tenant();
    for (const r of page.rows) {
      const users = state.users.filter((u) => u.userPrincipalName.toLowerCase() === r.upn.toLowerCase() && !u.deleted);
      assert.equal(users.length, 1, `one account for ${r.upn}`);
      const held = state.numbers.filter((n) => n.assignmentTargetId === users[0]!.id);
      assert.deepEqual(held.map((n) => n.telephoneNumber), [r.phoneNumber], `${r.upn} holds exactly its number`);
      assert.equal(r.accountId, users[0]!.id);
      assert.equal(r.attempts, 1);
    }
    const sku = state.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER');
    assert.equal(sku?.consumed, rows.length);

    // Children carry the batch id as a search attribute.
    const found = await until('the children in visibility', async () => {
      const ids: string[] = [];
      for await (const child of stack!.temporal.client.workflow.list({ query: `WorkflowType = '${PROVISION_WORKFLOW_TYPE}' AND DialtoneBatchId = '${result.progress.batchId}'` })) ids.push(child.workflowId);
      return ids;
    }, (ids) => ids.length === rows.length);
    assert.equal(found.length, rows.length);
  });

  test('short of licenses, the batch waits once saying how many to buy, and continues by itself when they appear', async () => {
    stack = await startTestStack();
    const units = await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: 1 } });
    assert.equal(units.statusCode, 200, units.body);
    const suffix = randomUUID().slice(0, 6);
    const rows = [row(`l1-${suffix}`, '+12065550110'), row(`l2-${suffix}`, '+12065550111'), row(`l3-${suffix}`, '+12065550112')];
    const handle = await start(rows, { licenseRecheckIntervalMs: 1000 });
    const waiting = await until('the license wait', () => handle.query(getBatchProgressQuery), (p) => p.state === 'waiting-for-licenses');
    assert.equal(waiting.licenses?.needed, 3);
    assert.equal(waiting.licenses?.short, 2);
    assert.match(waiting.message, /buy 2 Teams Phone Resource Account licenses/);
    assert.equal(waiting.counts.running, 0, 'no row starts while the batch is short');
    const bought = await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: 3 } });
    assert.equal(bought.statusCode, 200, bought.body);
    const result = await handle.result();
    assert.equal(result.progress.state, 'completed', result.progress.message);
    assert.ok(result.progress.controls.some((c) => c.action === 'licenses-available' && c.by === 'dialtone'));
  });

  test('a cancel while the batch waits for licenses ends it: nothing starts, every row is skipped', async () => {
    stack = await startTestStack();
    const units = await stack.simulator.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: 0 } });
    assert.equal(units.statusCode, 200, units.body);
    const suffix = randomUUID().slice(0, 6);
    const handle = await start([row(`c1-${suffix}`, '+12065550113'), row(`c2-${suffix}`, '+12065550114')], { licenseRecheckIntervalMs: 1000 });
    await until('the license wait', () => handle.query(getBatchProgressQuery), (p) => p.state === 'waiting-for-licenses' && (p.licenses?.checks ?? 0) >= 2);
    const cancelled = await handle.executeUpdate(cancelBatchUpdate, { args: [{ by: 'test', reason: 'not now' }] });
    assert.equal(cancelled.rows, 2);
    const result = await handle.result();
    assert.equal(result.progress.state, 'cancelled', result.progress.message);
    assert.equal(result.progress.counts.skipped, 2);
    const state = await tenant();
    assert.equal(state.users.filter((u) => u.userPrincipalName.includes(suffix)).length, 0);
  });

  test('quarantine pauses the batch when recent rows fail, and cancel lets the rows already going finish', async () => {
    stack = await startTestStack();
    const suffix = randomUUID().slice(0, 6);
    // User (subscriber) numbers: every row's pre-flight finds NumberNotServiceNumber.
    const rows = Array.from({ length: 8 }, (_, i) => row(`q${i}-${suffix}`, `+14255550${150 + i}`));
    const handle = await start(rows, { concurrency: 2, quarantineWindow: 2, quarantineRatio: 0.5, rowOptions: { attentionTimeoutMs: 60 * 60_000 } });
    const paused = await until('quarantine', () => handle.query(getBatchProgressQuery), (p) => p.state === 'paused');
    assert.equal(paused.pause?.quarantine, true);
    assert.match(paused.pause?.reason ?? '', /quarantine: 2 of the last 2 rows/);
    assert.match(paused.pause?.reason ?? '', /PreflightFailed/);
    assert.ok(paused.counts.pending >= 5, `rows are held back: ${JSON.stringify(paused.counts)}`);
    assert.ok(paused.attention.length >= 1 && paused.attention[0]?.error?.type === 'PreflightFailed', JSON.stringify(paused.attention));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const still = await handle.query(getBatchProgressQuery);
    assert.equal(still.counts.pending, paused.counts.pending, 'nothing starts while paused');

    // Resume: the quarantine judges afresh, and trips again on the next failures.
    await handle.executeUpdate(resumeBatchUpdate, { args: [{ by: 'test', reason: 'try again' }] });
    const again = await until('quarantine again', () => handle.query(getBatchProgressQuery), (p) => p.state === 'paused' && p.counts.pending < paused.counts.pending);
    assert.ok(again.pause?.quarantine);

    const cancelled = await handle.executeUpdate(cancelBatchUpdate, { args: [{ by: 'test', inFlight: true, reason: 'wrong file' }] });
    assert.ok((cancelled.rows ?? 0) >= 1);
    const result = await handle.result();
    assert.equal(result.progress.state, 'cancelled', result.progress.message);
    assert.equal(result.progress.counts.pending + result.progress.counts.running + result.progress.counts['needs-attention'], 0);
    assert.ok(result.progress.counts.skipped >= 1);
    // Nothing was written: every pre-flight failed before any change.
    const state = await tenant();
    assert.equal(state.users.filter((u) => u.userPrincipalName.includes(suffix)).length, 0);
  });

  test('a row with no free number fails without starting; the batch stays open, and retry-failed allocates again once a number is there', async () => {
    stack = await startTestStack();
    const suffix = randomUUID().slice(0, 6);
    const rows = [row(`r1-${suffix}`, '+12065550117'), row(`r2-${suffix}`, 'any', { numberCity: 'Tacoma' })];
    const handle = await start(rows);
    const open = await until('the rows to end', () => handle.query(getBatchProgressQuery), (p) => p.state === 'completed-with-failures');
    assert.equal(open.counts.completed, 1);
    assert.equal(open.counts.failed, 1);
    const failed = (await handle.query(getBatchRowsQuery, { state: 'failed' })).rows[0];
    assert.equal(failed?.attempts, 0, 'the row never started');
    assert.match(failed?.error?.message ?? '', /no free US service number in Tacoma is left/);
    assert.match(open.message, /retry-failed starts them again/);

    const seeded = await stack.simulator.app.inject({ method: 'POST', url: '/_simulator/seed', payload: { numbers: [{ telephoneNumber: '+12535550100', isoCountryCode: 'US', city: 'Tacoma' }] } });
    assert.equal(seeded.statusCode, 201, seeded.body);
    const retried = await handle.executeUpdate(retryFailedRowsUpdate, { args: [{ by: 'test' }] });
    assert.equal(retried.rows, 1);
    const result = await handle.result();
    assert.equal(result.progress.state, 'completed', result.progress.message);
    const again = (await handle.query(getBatchRowsQuery, {})).rows.find((r) => r.upn === rows[1]!.upn);
    assert.equal(again?.phoneNumber, '+12535550100');
    assert.equal(again?.attempts, 1);
    assert.ok(result.progress.controls.some((c) => c.action === 'retry-failed' && c.by === 'test'));
  });

  test('a row whose account already has a run going (a single request) follows that run instead of starting a second', async () => {
    stack = await startTestStack();
    const suffix = randomUUID().slice(0, 6);
    // A user number: the single run's pre-flight stops it in needs-attention, so it is still going when the batch starts.
    const single = row(`j1-${suffix}`, '+14255550158');
    const singleHandle = await stack.temporal.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
      taskQueue: stack.taskQueue,
      workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, single.upn),
      args: [{ tenantId: LOCAL_TENANT_ID, ...single, phoneNumberType: 'callingPlan' }],
    });
    await until('the single run to wait', () => singleHandle.query(getStatusQuery), (s) => s.state === 'needs-attention');
    const handle = await start([single, row(`j2-${suffix}`, '+12065550116')], { retryWindowMs: 0 });
    const following = await until('the joined row', () => handle.query(getBatchRowsQuery, {}), (page) => page.rows.some((r) => r.joined && r.state === 'needs-attention'));
    const joined = following.rows.find((r) => r.upn === single.upn);
    assert.equal(joined?.runId, singleHandle.firstExecutionRunId, 'the row follows the single run, no second run');
    assert.equal(joined?.error?.type, 'PreflightFailed');

    await singleHandle.executeUpdate(decideUpdate, { args: [{ decision: 'abandon', by: 'test', reason: 'user number' }] });
    const result: { progress: BatchProgress } = await handle.result();
    assert.equal(result.progress.state, 'completed-with-failures', result.progress.message);
    assert.equal(result.progress.counts.completed, 1);
    assert.equal(result.progress.counts.abandoned, 1);
  });
});
