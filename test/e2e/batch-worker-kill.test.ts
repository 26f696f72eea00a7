/**
 * A batch of a few hundred rows through the REST API on a real Temporal server, run by two real worker
 * processes sharing the tenant's budget; one of them is SIGKILLed mid-batch again and again and started
 * again. Every row must complete exactly once: one account per UPN (none created twice, none deleted),
 * one license each, its own number on it and on no one else, one run per account, and a report that
 * says so.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../api/app';
import type { ApiApp } from '../../api/app';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import { AUTH, testConfig } from '../api/helpers';
import { killHard, workerProcesses } from '../helpers/worker-process';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { startTestTemporal } from '../helpers/temporal';
import type { TestTemporal } from '../helpers/temporal';

const ROWS = 240;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SimState {
  licenses: Array<{ skuPartNumber: string; consumed: number }>;
  users: Array<{ id: string; userPrincipalName: string; deletedDateTime: string | null; licenses?: Array<{ skuId: string }> }>;
  numbers: Array<{ telephoneNumber: string; assignmentTargetId?: string | null }>;
}

describe('a batch through the API with a worker killed mid-batch', () => {
  let temporal: TestTemporal;
  let sim: TestSimulator;
  let app: ApiApp;
  let taskQueue: string;
  const running: Array<ChildProcess | undefined> = [undefined, undefined];

  const workers = workerProcesses(() => temporal, () => sim, () => taskQueue);
  const startWorker = () => workers.start();
  const kill = killHard;

  async function simState(): Promise<SimState> {
    return (await sim.app.inject({ method: 'GET', url: '/_simulator/state' })).json();
  }

  before(async () => {
    temporal = await startTestTemporal();
    sim = await startTestSimulator();
    const config = testConfig();
    taskQueue = config.temporal.taskQueue;
    app = await buildApp(config, { temporalClient: temporal.client });
  });
  after(async () => {
    for (const worker of running) await kill(worker);
    await app?.close();
    await sim?.close();
    await temporal?.teardown();
  });

  test(`${ROWS} rows complete exactly once`, async () => {
    const suffix = randomUUID().slice(0, 6);
    // Half the rows name their number, half ask for any free Seattle number.
    const fixed = Array.from({ length: ROWS / 2 }, (_, i) => `+1206777${String(1000 + i)}`);
    const seeded = await sim.app.inject({
      method: 'POST',
      url: '/_simulator/seed',
      payload: { numbers: Array.from({ length: ROWS }, (_, i) => ({ telephoneNumber: `+1206777${String(1000 + i)}`, isoCountryCode: 'US', city: 'Seattle' })) },
    });
    assert.equal(seeded.statusCode, 201, seeded.body);
    const units = await sim.app.inject({ method: 'PUT', url: '/_simulator/licenses/PHONESYSTEM_VIRTUALUSER', payload: { units: ROWS + 30 } });
    assert.equal(units.statusCode, 200, units.body);
    // Some latency, so that kills land while writes are in flight.
    const slowed = await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { latency: { minMs: 20, maxMs: 80 } } });
    assert.equal(slowed.statusCode, 200, slowed.body);
    const start = await simState();
    const consumedAtStart = start.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.consumed ?? 0;

    const rows = Array.from({ length: ROWS }, (_, i) => ({
      upn: `bk-${i}-${suffix}@contoso.onmicrosoft.com`,
      displayName: `Batch kill ${i}`,
      kind: i % 3 === 0 ? 'callQueue' : 'autoAttendant',
      usageLocation: 'US',
      phoneNumber: i % 2 === 0 ? fixed[i / 2] : 'any',
      ...(i % 2 === 1 ? { numberCity: 'Seattle' } : {}),
    }));
    running[0] = startWorker();
    running[1] = startWorker();
    const submitted = await app.inject({ method: 'POST', url: '/v1/batches', headers: AUTH, payload: { rows, options: { concurrency: 40, maxHistoryEvents: 400 } } });
    assert.equal(submitted.statusCode, 202, submitted.body);
    const { batchId } = submitted.json() as { batchId: string };

    // Kill the first worker at uneven moments while rows are going, starting it again each time.
    for (const delay of [3000, 2200, 4100, 1600]) {
      await sleep(delay);
      await kill(running[0]);
      running[0] = startWorker();
    }

    let progress: { state: string; counts: Record<string, number>; generation: number; message: string } | undefined;
    const deadline = Date.now() + 10 * 60_000;
    while (Date.now() < deadline) {
      const read = await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: AUTH });
      if (read.statusCode === 200) {
        progress = read.json();
        if (['completed', 'completed-with-failures', 'cancelled'].includes(progress?.state ?? '')) break;
      }
      await sleep(1000);
    }
    assert.equal(progress?.state, 'completed', `${JSON.stringify(progress)}\nworker log:\n${workers.log().slice(-3000)}`);
    assert.equal(progress?.counts.completed, ROWS);
    assert.ok((progress?.generation ?? 0) > 1, 'the batch continued as new at least once');

    // The rows: each started once, each with its own number.
    const listed: Array<{ upn: string; phoneNumber: string; accountId: string; attempts: number; state: string }> = [];
    let token: string | undefined;
    do {
      const page = await app.inject({ method: 'GET', url: `/v1/batches/${batchId}/rows?pageSize=100${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`, headers: AUTH });
      assert.equal(page.statusCode, 200, page.body);
      const body = page.json() as { items?: typeof listed; rows?: typeof listed; nextPageToken?: string };
      listed.push(...(body.items ?? body.rows ?? []));
      token = body.nextPageToken;
    } while (token);
    assert.equal(listed.length, ROWS);
    assert.deepEqual(listed.filter((r) => r.attempts !== 1 || r.state !== 'completed'), []);
    assert.equal(new Set(listed.map((r) => r.phoneNumber)).size, ROWS, 'no number given to two rows');

    // The tenant: one live account per UPN, none deleted, one license each, exactly its number.
    const end = await simState();
    for (const row of listed) {
      const accounts = end.users.filter((u) => u.userPrincipalName.toLowerCase() === row.upn.toLowerCase());
      assert.equal(accounts.length, 1, `${row.upn}: ${JSON.stringify(accounts)}`);
      const [account] = accounts;
      assert.equal(account?.deletedDateTime, null);
      assert.equal(account?.id, row.accountId);
      assert.equal(account?.licenses?.length, 1, `${row.upn} holds one license`);
      const held = end.numbers.filter((n) => n.assignmentTargetId === account?.id).map((n) => n.telephoneNumber);
      assert.deepEqual(held, [row.phoneNumber], `${row.upn} holds exactly its number`);
    }
    assert.equal(end.users.filter((u) => u.userPrincipalName.includes(suffix) && u.deletedDateTime).length, 0, 'no account was created twice and deleted');
    const consumed = end.licenses.find((l) => l.skuPartNumber === 'PHONESYSTEM_VIRTUALUSER')?.consumed ?? 0;
    assert.equal(consumed - consumedAtStart, ROWS);

    // One run per account: a row's run was never started twice.
    for (const row of listed.slice(0, 60)) {
      const runs = await temporal.client.workflow.count(`WorkflowId = '${resourceAccountWorkflowId(LOCAL_TENANT_ID, row.upn)}'`);
      assert.equal(runs.count, 1, row.upn);
    }

    const report = await app.inject({ method: 'GET', url: `/v1/batches/${batchId}/report.csv`, headers: AUTH });
    assert.equal(report.statusCode, 200, report.body);
    const lines = report.body.trim().split(/\r?\n/);
    assert.equal(lines.length, ROWS + 1);
    assert.equal(lines.filter((line) => line.includes(',completed,')).length, ROWS);
  });
});
