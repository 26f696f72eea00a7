/**
 * `stateFile`: the tenant survives closing the simulator and building a new one on the same file; a bad
 * file stops start-up naming it; reset rewrites the file; without the option nothing is written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { RESOURCE_ACCOUNT_SKU_ID, RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../../lib/microsoft';
import { STATE_FILE_FORMAT, STATE_FILE_VERSION } from '../../simulator/persistence';
import type { TestSimulator } from './helpers';
import { DOMAIN, ManualClock, TEST_DELAYS, createResourceAccount, startSimulator } from './helpers';

interface State {
  users: { id: string; userPrincipalName: string }[];
  licenses: { skuPartNumber: string; consumed: number; available: number }[];
  numbers: { telephoneNumber: string; assignmentTargetId: string | null; assignmentStatus: string }[];
  operations: { id: string; status: string }[];
}

interface StoredFile {
  format: string;
  version: number;
  users: { userPrincipalName: string }[];
}

const NUMBER = '+12065550100';

describe('simulator state file', () => {
  let dir: string;
  let file: string;
  let running: TestSimulator[] = [];

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dialtone-simulator-state-'));
  });
  afterEach(async () => {
    for (const simulator of running) await simulator.close();
    running = [];
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(path.join(tmpdir(), 'dialtone-simulator-state-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const start = async (options: Parameters<typeof startSimulator>[0] = {}): Promise<TestSimulator> => {
    const simulator = await startSimulator({ stateFile: file, ...options });
    running.push(simulator);
    return simulator;
  };
  const stop = async (simulator: TestSimulator): Promise<void> => {
    running = running.filter((other) => other !== simulator);
    await simulator.close();
  };
  const state = async (simulator: TestSimulator) => (await (await simulator.control('/state')).json()) as State;
  const stored = () => JSON.parse(readFileSync(file, 'utf8')) as StoredFile;

  const setFile = (): void => {
    file = path.join(dir, 'nested', 'simulator-state.json');
  };

  test('an application instance, its license and its number survive a restart on the same file', async () => {
    setFile();
    // One clock across both simulators: the second starts where the first stopped.
    const clock = new ManualClock();
    const first = await start({ now: clock.now });
    const id = await createResourceAccount(first, 'aa-persisted');
    clock.advance(TEST_DELAYS.replication);
    const graph = first.graph();
    await graph.api(`/users/${id}`).patch({ usageLocation: 'US' });
    clock.advance(TEST_DELAYS.usageLocationReplication);
    await graph.api(`/users/${id}/assignLicense`).post({ addLicenses: [{ skuId: RESOURCE_ACCOUNT_SKU_ID, disabledPlans: [] }], removeLicenses: [] });
    clock.advance(TEST_DELAYS.licensePropagation + TEST_DELAYS.teamsSync);
    const accepted = await graph.api('/admin/teams/telephoneNumberManagement/numberAssignments/assignNumber').post({
      telephoneNumber: NUMBER, assignmentTargetId: id, numberType: 'callingPlan', assignmentCategory: 'primary',
    }).then(() => true);
    assert.ok(accepted);
    clock.advance(TEST_DELAYS.numberOperation);
    const before = await state(first);
    assert.equal(before.numbers.find((n) => n.telephoneNumber === NUMBER)?.assignmentTargetId, id);
    await stop(first);

    const second = await start({ now: clock.now });
    const after = await state(second);
    assert.deepEqual(after.users.map((user) => user.id).sort(), before.users.map((user) => user.id).sort());
    assert.ok(after.users.some((user) => user.id === id && user.userPrincipalName === `aa-persisted@${DOMAIN}`));
    const resource = after.licenses.find((license) => license.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER);
    assert.deepEqual(resource && { consumed: resource.consumed, available: resource.available }, { consumed: 1, available: 24 });
    const number = after.numbers.find((n) => n.telephoneNumber === NUMBER);
    assert.deepEqual(number && { target: number.assignmentTargetId, status: number.assignmentStatus }, { target: id, status: 'voiceApplicationAssigned' });
    assert.deepEqual(after.operations, before.operations);

    // The restored account is a working application instance for the Teams admin API and Graph.
    const instance = await second.teams(`/Teams.PlatformService/v2/ApplicationInstances/${id}`);
    assert.equal(instance.status, 200);
    assert.equal(((await instance.json()) as { phoneNumber: string }).phoneNumber, `tel:${NUMBER}`);
  });

  test('a file written before soft deletion, lags and subscription statuses existed still loads', async () => {
    setFile();
    const clock = new ManualClock();
    const first = await start({ now: clock.now });
    const id = await createResourceAccount(first, 'aa-older');
    clock.advance(TEST_DELAYS.replication + TEST_DELAYS.applicationInstanceListing);
    await stop(first);
    const older = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
      skus: Record<string, unknown>[]; users: (Record<string, unknown> & { licenses: Record<string, unknown>[] })[]; numbers: Record<string, unknown>[];
    };
    delete older.releasedUnits;
    for (const sku of older.skus) delete sku.capabilityStatus;
    for (const user of older.users) {
      for (const field of ['previousUsageLocation', 'usageLocationVisibleAt', 'listedAt', 'deletedAt']) delete user[field];
      for (const license of user.licenses) delete license.countedAt;
    }
    for (const number of older.numbers) delete number.stuckSince;
    writeFileSync(file, JSON.stringify(older));

    const second = await start({ now: clock.now });
    assert.equal(((await second.graph().api(`/users/${id}`).get()) as { id: string }).id, id);
    const listed = (await (await second.teams('/Teams.PlatformService/v2/ApplicationInstances')).json()) as { applicationInstances: { objectId: string }[] };
    assert.ok(listed.applicationInstances.some((instance) => instance.objectId === id));
  });

  test('pending work resumes on the same clock after a restart', async () => {
    setFile();
    const clock = new ManualClock();
    const first = await start({ now: clock.now });
    const id = await createResourceAccount(first, 'aa-pending');
    await stop(first);

    const second = await start({ now: clock.now });
    // Still replicating right after the restart, then visible once its replication time has passed.
    assert.equal((await second.graph().api(`/users/${id}`).get().catch((error: { statusCode: number }) => error)).statusCode, 404);
    clock.advance(TEST_DELAYS.replication);
    assert.equal(((await second.graph().api(`/users/${id}`).get()) as { id: string }).id, id);
  });

  test('a corrupt file fails start-up with the file named and the fix', async () => {
    setFile();
    await stop(await start());
    writeFileSync(file, '{"format": "dialtone-simulator-state", "version": 1, "users": [tru');
    await assert.rejects(start(), (error: Error) => {
      assert.equal(error.name, 'SimulatorConfigError');
      assert.match(error.message, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.match(error.message, /not valid JSON/);
      assert.match(error.message, /Delete or move that file/);
      return true;
    });
  });

  test('a file of another format or version fails start-up, naming the field', async () => {
    setFile();
    await stop(await start());
    const valid = stored() as unknown as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...valid, version: STATE_FILE_VERSION + 1 }));
    await assert.rejects(start(), /version 2 is not supported/);
    writeFileSync(file, JSON.stringify({ ...valid, users: [{ id: 'x' }] }));
    await assert.rejects(start(), /users\[0\]\.userPrincipalName is missing or invalid/);
  });

  test('reset re-seeds the tenant and rewrites the file at once', async () => {
    setFile();
    const simulator = await start();
    await createResourceAccount(simulator, 'aa-reset');
    // Closing flushes; reopen to read the saved account back.
    await stop(simulator);
    assert.ok(stored().users.some((user) => user.userPrincipalName === `aa-reset@${DOMAIN}`));
    const reopened = await start();
    assert.equal((await reopened.control('/reset', { method: 'POST' })).status, 204);
    // Read while the simulator still runs: reset does not wait for the periodic save.
    const content = stored();
    assert.equal(content.format, STATE_FILE_FORMAT);
    assert.equal(content.users.some((user) => user.userPrincipalName === `aa-reset@${DOMAIN}`), false);
    assert.equal(content.users.length, 2);
  });

  test('a state-changing request is saved within the save interval, while the simulator runs', async () => {
    setFile();
    const simulator = await start();
    await createResourceAccount(simulator, 'aa-periodic');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.ok(stored().users.some((user) => user.userPrincipalName === `aa-periodic@${DOMAIN}`));
    assert.deepEqual(readdirSync(path.dirname(file)), ['simulator-state.json']);
  });

  test('a write is on disk before its answer is sent, so a killed simulator keeps what it confirmed', async () => {
    setFile();
    const simulator = await start();
    await createResourceAccount(simulator, 'aa-confirmed');
    assert.ok(stored().users.some((user) => user.userPrincipalName === `aa-confirmed@${DOMAIN}`), 'no wait for the save interval');
  });

  test('without stateFile nothing is written', async () => {
    const cwd = process.cwd();
    const scratch = mkdtempSync(path.join(dir, 'cwd-'));
    process.chdir(scratch);
    try {
      const simulator = await startSimulator({});
      running.push(simulator);
      await createResourceAccount(simulator, 'aa-memory');
      await stop(simulator);
      assert.deepEqual(readdirSync(scratch), []);
      assert.deepEqual(readdirSync(dir).sort(), [path.basename(scratch)]);
    } finally {
      process.chdir(cwd);
    }
  });
});
