/**
 * The `powershell` TeamsAdmin adapter: the Node session against the tenant simulator through the
 * stand-in host (same line protocol as dialtone-teams.ps1), real @azure/identity credentials and real
 * HTTPS; and the real script under pwsh when pwsh is on the PATH (skipped otherwise).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import type { AccessToken, GetTokenOptions } from '@azure/identity';
import {
  PINNED_TEAMS_MODULE_VERSION, POWERSHELL_SCRIPT_PATH, createPowerShellTeamsAdmin, simulatorPowerShellHost,
} from '../../activities/teams-admin/powershell';
import type { PowerShellTeamsAdmin, PowerShellTeamsAdminOptions } from '../../activities/teams-admin/powershell';
import { TeamsAdminError } from '../../activities/teams-admin/teams-admin';
import { REPO_ROOT } from '../../lib/paths';
import { RESOURCE_ACCOUNT_APP_IDS } from '../../lib/microsoft';
import { createCredential } from '../../worker/credentials';
import type { RenewingCredential } from '../../worker/credentials';
import { startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { DEFAULT_VOICE_APPS } from '../../simulator/catalog';
import type { Pacer } from '../../activities/pacing';
import { ErrorType } from '../../lib/error-types';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING } from '../helpers/simulator';
import { failureOf as activityFailureOf, requestCount, run, upn } from './harness';

const INSTANCES_ROUTE = '/Teams.PlatformService/v2/ApplicationInstances';
const LOOKUP_ROUTE = `${INSTANCES_ROUTE}/lookup`;
const GET_INSTANCE = 'Get-CsOnlineApplicationInstance';
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/;

async function failureOf(promise: Promise<unknown>): Promise<TeamsAdminError> {
  const err = await promise.then(() => assert.fail('expected the command to fail'), (e: unknown) => e);
  assert.ok(err instanceof TeamsAdminError, `expected a TeamsAdminError, got ${String(err)}`);
  return err;
}

/** Polls until the new instance is listed (the simulator's listing delay), or fails after 5 s. */
async function eventuallyFound(admin: PowerShellTeamsAdmin, name: string) {
  for (const started = Date.now(); Date.now() - started < 5000;) {
    const found = await admin.findByUpn(name);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail(`${name} was never listed`);
}

describe('powershell TeamsAdmin adapter against the simulator (stand-in host)', () => {
  let sim: TestSimulator;
  let credential: RenewingCredential;
  const admins: PowerShellTeamsAdmin[] = [];
  /** Every token handed out in this suite, to prove none leaks. */
  const issued = new Set<string>();
  const errors: string[] = [];

  const adminWith = (options: Partial<PowerShellTeamsAdminOptions> = {}): PowerShellTeamsAdmin => {
    const admin = createPowerShellTeamsAdmin({
      ...simulatorPowerShellHost(sim.url),
      credential: {
        getToken: async (scopes: string | string[], opts?: GetTokenOptions) => {
          const token = await credential.getToken(scopes, opts);
          if (token) issued.add(token.token);
          return token;
        },
        tokenRefused: (token: string) => credential.tokenRefused(token),
      } as RenewingCredential,
      tenantId: sim.tenant.tenantId,
      commandTimeoutMs: 20_000,
      startTimeoutMs: 30_000,
      ...options,
    });
    admins.push(admin);
    return admin;
  };
  const failed = async (promise: Promise<unknown>) => {
    const err = await failureOf(promise);
    errors.push(err.message);
    return err;
  };

  before(async () => {
    sim = await startTestSimulator({ faultRate: 0, throttle: null, writeQuota: null });
    credential = createCredential(sim.tenant);
  });
  after(async () => {
    await Promise.all(admins.map((admin) => admin.close()));
    await sim?.close();
  });

  test('create, then find by UPN (case-insensitive); an unknown UPN is undefined; probe reads', async () => {
    const admin = adminWith();
    const name = upn('ps');
    const created = await admin.create({ userPrincipalName: name, displayName: 'PS auto attendant', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant });
    assert.match(created.objectId, /^[0-9a-f-]{36}$/);
    assert.equal(created.userPrincipalName, name);
    assert.equal(created.applicationId, RESOURCE_ACCOUNT_APP_IDS.autoAttendant);
    const found = await eventuallyFound(admin, name.toUpperCase());
    assert.equal(found.objectId, created.objectId);
    assert.equal(await admin.findByUpn(upn('nobody')), undefined);
    assert.match((await admin.probe()).detail, new RegExp(PINNED_TEAMS_MODULE_VERSION.replaceAll('.', '\\.')));
    assert.equal(admin.session.stats.spawns, 1, 'one child serves every command');
    assert.equal(admin.session.stats.connects, 1, 'connected once');
  });

  test('concurrent lookups within the gathering window share one -Identities command, never a listing', async () => {
    const admin = adminWith();
    const names = [upn('many'), upn('many'), upn('many')];
    for (const name of names) await admin.create({ userPrincipalName: name, displayName: name, applicationId: RESOURCE_ACCOUNT_APP_IDS.callQueue });
    await eventuallyFound(admin, names[2] ?? '');
    await eventuallyFound(admin, names[0] ?? '');
    const commandsBefore = admin.session.stats.cmdlets[GET_INSTANCE] ?? 0;
    // The simulator counts a request once its response has gone out, which may be after the host answered.
    const settled = () => new Promise((resolve) => setTimeout(resolve, 100));
    await settled();
    const readsBefore = await requestCount(sim, LOOKUP_ROUTE);
    const listingsBefore = await requestCount(sim, INSTANCES_ROUTE, 'GET');
    const unknown = Array.from({ length: 17 }, () => upn('absent'));
    const answers = await Promise.all([...names, ...unknown].map((name) => admin.findByUpn(name)));
    assert.deepEqual(answers.slice(0, 3).map((found) => found?.userPrincipalName), names);
    assert.ok(answers.slice(3).every((found) => found === undefined));
    assert.equal((admin.session.stats.cmdlets[GET_INSTANCE] ?? 0) - commandsBefore, 1, '20 lookups, one command');
    await settled();
    assert.equal((await requestCount(sim, LOOKUP_ROUTE)) - readsBefore, 1, 'one lookup by identities at the simulator');
    assert.equal((await requestCount(sim, INSTANCES_ROUTE, 'GET')) - listingsBefore, 0, 'the whole list is never read');
  });

  test('a taken UPN is a conflict; an unverified domain is domainNotVerified; both name the cause', async () => {
    const admin = adminWith();
    const name = upn('dup');
    await admin.create({ userPrincipalName: name, displayName: 'first', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant });
    const conflict = await failed(admin.create({ userPrincipalName: name, displayName: 'second', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant }));
    assert.equal(conflict.kind, 'conflict');
    // The module's record carries the status and Graph's message, not Graph's detail code.
    assert.equal(conflict.details.fullyQualifiedErrorId, 'BadRequest,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstance');
    assert.match(conflict.message, /^New-CsOnlineApplicationInstance: Another object with the same value for property userPrincipalName already exists/);
    const domain = await failed(admin.create({ userPrincipalName: `x-${randomUUID().slice(0, 6)}@unverified.example`, displayName: 'x', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant }));
    assert.equal(domain.kind, 'domainNotVerified');
    assert.match(domain.message, /verified domain/);
  });

  test('a command that does not exist is notInstalled with the fix', async () => {
    const admin = adminWith({ command: path.join(REPO_ROOT, '.data', `no-pwsh-${randomUUID()}`), args: [] });
    const err = await failed(admin.probe());
    assert.equal(err.kind, 'notInstalled');
    assert.match(err.message, /PowerShell 7 .* is not installed or not on PATH/);
    assert.match(err.message, /installing-powershell-on-linux/);
    assert.match(err.message, /DIALTONE_PWSH_PATH/);
  });

  test('a host whose pinned module is missing is notInstalled with Install-Module', async () => {
    const host = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      rl.on('line', (line) => {
        const { id } = JSON.parse(line);
        process.stdout.write(JSON.stringify({ id, ok: true, result: { powershell: '7.5.0', host: 'pwsh',
          module: { name: 'MicrosoftTeams', pinned: '${PINNED_TEAMS_MODULE_VERSION}', importable: false, found: ['5.1.0'],
            fix: 'Install-Module MicrosoftTeams -RequiredVersion ${PINNED_TEAMS_MODULE_VERSION} -Scope AllUsers' } } }) + '\\n');
      });`;
    const admin = adminWith({ command: process.execPath, args: ['-e', host] });
    const err = await failed(admin.probe());
    assert.equal(err.kind, 'notInstalled');
    assert.match(err.message, new RegExp(`Install-Module MicrosoftTeams -RequiredVersion ${PINNED_TEAMS_MODULE_VERSION.replaceAll('.', '\\.')} -Scope AllUsers`));
    assert.match(err.message, /found 5\.1\.0/);
  });

  test('a refused token (signing key rotated) reconnects once with fresh tokens and the command succeeds', async () => {
    const admin = adminWith();
    await admin.probe();
    assert.equal(admin.session.stats.connects, 1);
    const rotated = await fetch(`${sim.url}/_simulator/keys/rotate`, { method: 'POST' });
    assert.equal(rotated.status, 200);
    assert.match((await admin.probe()).detail, /connected/);
    assert.equal(admin.session.stats.connects, 2, 'reconnected after the refusal');
    assert.equal(admin.session.stats.cmdlets[GET_INSTANCE], 3, 'the refused probe was repeated once');
  });

  test('tokens about to expire are renewed by reconnecting before the next command', async () => {
    const shortLived = {
      getToken: async (scopes: string | string[]): Promise<AccessToken | null> => {
        const token = await credential.getToken(scopes);
        if (token) issued.add(token.token);
        return token && { ...token, expiresOnTimestamp: Date.now() + 400 };
      },
    };
    const admin = adminWith({ credential: shortLived, reconnectBeforeExpiryMs: 0 });
    await admin.probe();
    await admin.probe();
    assert.equal(admin.session.stats.connects, 1, 'tokens still valid: no reconnect');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await admin.probe();
    assert.equal(admin.session.stats.connects, 2, 'tokens expired: reconnected first');
  });

  test('the child SIGKILLed mid-command: that command fails transient (effect unknown), the next one works in a new child', async () => {
    const admin = adminWith();
    await admin.probe();
    const firstPid = admin.session.pid;
    assert.ok(firstPid);
    const slow = await fetch(`${sim.url}/_simulator/config`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cmdletLatency: { [GET_INSTANCE]: 1500 } }),
    });
    assert.equal(slow.status, 200, await slow.text());
    try {
      const inFlight = admin.probe();
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(firstPid, 'SIGKILL');
      const err = await failed(inFlight);
      assert.equal(err.kind, 'transient');
      assert.match(err.message, /killed by SIGKILL.*effect is unknown/);
    } finally {
      await fetch(`${sim.url}/_simulator/config`, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cmdletLatency: { [GET_INSTANCE]: { minMs: 0, maxMs: 3 } } }),
      });
    }
    assert.match((await admin.probe()).detail, /connected/);
    assert.notEqual(admin.session.pid, firstPid);
    assert.equal(admin.session.stats.spawns, 2);
    assert.equal(admin.session.stats.connects, 2, 'the new child was connected before its first command');
  });

  test('one command at a time: many concurrent calls never put two commands in flight', async () => {
    const admin = adminWith();
    const name = upn('queue');
    await Promise.all([
      admin.probe(), admin.probe(), admin.findByUpn(name),
      admin.create({ userPrincipalName: name, displayName: 'queued', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant }),
      admin.probe(), admin.findByUpn(upn('queue')), admin.probe(),
    ]);
    assert.equal(admin.session.stats.maxInFlight, 1);
    assert.ok((admin.session.stats.cmdlets[GET_INSTANCE] ?? 0) >= 4);
    assert.doesNotMatch(admin.session.diagnostics(), /protocol: command/, 'the host never saw a command before the previous answer');
  });

  test('no answer within the timeout: transient, and the child is ended', async () => {
    const host = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      rl.on('line', (line) => {
        const { id, op } = JSON.parse(line);
        if (op === 'hello') process.stdout.write(JSON.stringify({ id, ok: true, result: { powershell: 'x', host: 'x',
          module: { name: 'MicrosoftTeams', pinned: 'x', importable: true, found: ['x'] } } }) + '\\n');
        if (op === 'connect') process.stdout.write(JSON.stringify({ id, ok: true, result: { connected: true } }) + '\\n');
      });`;
    const admin = adminWith({ command: process.execPath, args: ['-e', host], commandTimeoutMs: 300 });
    const err = await failed(admin.probe());
    assert.equal(err.kind, 'transient');
    assert.match(err.message, /no answer within 300 ms/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(admin.session.pid, undefined, 'the child was killed');
  });

  test('tokens in what the child writes are scrubbed from errors and the stderr buffer', async () => {
    const host = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      rl.on('line', (line) => {
        const command = JSON.parse(line);
        if (command.op === 'hello') { process.stdout.write(JSON.stringify({ id: command.id, ok: true, result: { powershell: 'x', host: 'x',
          module: { name: 'MicrosoftTeams', pinned: 'x', importable: true, found: ['x'] } } }) + '\\n'); return; }
        if (command.op === 'connect') {
          process.stderr.write('connecting with ' + command.teamsToken + ' and Bearer ' + command.graphToken + '\\n');
          process.stdout.write(JSON.stringify({ id: command.id, ok: false, error: { kind: 'forbidden', message: 'refused ' + command.teamsToken } }) + '\\n');
        }
      });`;
    const admin = adminWith({ command: process.execPath, args: ['-e', host] });
    const err = await failed(admin.probe());
    assert.equal(err.kind, 'forbidden');
    assert.doesNotMatch(err.message, JWT);
    assert.match(err.message, /refused \[token\]/);
    // stderr and stdout are separate pipes: the stderr line may arrive after the answer.
    for (const started = Date.now(); !admin.session.diagnostics().includes('connecting with') && Date.now() - started < 5000;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.match(admin.session.diagnostics(), /connecting with \[token\] and Bearer \[token\]/);
    assert.doesNotMatch(admin.session.diagnostics(), JWT);
  });

  test('associations (routes of the simulator): none yet, unknown configuration, removal of none', async () => {
    const admin = adminWith();
    const created = await admin.create({ userPrincipalName: upn('assoc'), displayName: 'assoc', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant });
    assert.equal(await admin.findVoiceApp('AutoAttendant', randomUUID()), undefined);
    assert.equal(await admin.getAssociation(created.objectId), undefined);
    assert.equal(await admin.removeAssociation(created.objectId), false);
    const err = await failed(admin.associate({ objectId: created.objectId, configurationId: randomUUID(), configurationType: 'AutoAttendant' }));
    assert.equal(err.kind, 'notFound');
  });

  test('a throttled call-queue lookup is counted under its own cmdlet, Get-CsCallQueue', async () => {
    const throttled: string[] = [];
    const admin = adminWith({ metrics: { throttled: (service, route) => throttled.push(`${service} ${route}`) } });
    assert.equal(await admin.findVoiceApp('CallQueue', randomUUID()), undefined, 'the session is up before the budget shrinks');
    const set = await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { throttle: { resourceUnits: 1, windowMs: 60_000 } } });
    assert.equal(set.statusCode, 200, set.body);
    try {
      let refused: TeamsAdminError | undefined;
      for (let i = 0; i < 20 && !refused; i++) {
        refused = await admin.findVoiceApp('CallQueue', randomUUID()).then(() => undefined, (err: unknown) => failureOf(Promise.reject(err)));
      }
      assert.equal(refused?.kind, 'throttled');
      assert.deepEqual([...new Set(throttled)], ['teams Get-CsCallQueue'], 'not the auto attendant cmdlet the pacer charges for both');
    } finally {
      await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { throttle: null } });
    }
  });

  /** Changes the built-in app's grants for the body of `work`, with a credential whose tokens carry them. */
  async function withGrants<T>(grants: { graphRoles?: string[]; directoryRoles?: string[] }, work: (fresh: RenewingCredential) => Promise<T>): Promise<T> {
    const apps = (await sim.app.inject({ method: 'GET', url: '/_simulator/apps' })).json() as Array<{ clientId: string; graphRoles: string[]; directoryRoles: string[] }>;
    const app = apps.find((candidate) => candidate.clientId === sim.tenant.clientId);
    assert.ok(app, 'the built-in app is registered');
    const put = (body: object) => sim.app.inject({ method: 'PUT', url: `/_simulator/apps/${sim.tenant.clientId}`, payload: body });
    assert.equal((await put(grants)).statusCode, 200);
    try {
      return await work(createCredential(sim.tenant));
    } finally {
      await put({ graphRoles: app.graphRoles, directoryRoles: app.directoryRoles });
    }
  }

  test('a missing role answers "Access Denied." with a Forbidden record: forbidden, not transient', async () => {
    await withGrants({ directoryRoles: ['Teams Administrator'] }, async (fresh) => {
      const admin = adminWith({ credential: fresh });
      const err = await failed(admin.create({ userPrincipalName: upn('denied'), displayName: 'denied', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant }));
      assert.equal(err.kind, 'forbidden');
      assert.equal(err.details.fullyQualifiedErrorId, 'Forbidden,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstance');
      assert.match(err.message, /^New-CsOnlineApplicationInstance: Access Denied\./);
    });
  });

  test('without Organization.Read.All on the Graph token every cmdlet answers "Access Denied.", reads too', async () => {
    const others = ['User.ReadWrite.All', 'LicenseAssignment.ReadWrite.All', 'TeamsTelephoneNumber.ReadWrite.All'];
    await withGrants({ graphRoles: others }, async (fresh) => {
      const admin = adminWith({ credential: fresh });
      const err = await failed(admin.probe());
      assert.equal(err.kind, 'forbidden');
      assert.match(err.message, /Access Denied/);
      assert.equal((await failed(admin.findVoiceApp('CallQueue', randomUUID()))).kind, 'forbidden', 'a lookup does not read a refusal as "none"');
    });
  });

  test('the create step stops at "Access Denied." with the fix: the roles and Organization.Read.All (it used to retry for ever)', async () => {
    await withGrants({ directoryRoles: ['Teams Administrator'] }, async () => {
      const tenant = { ...sim.tenant, teamsAdmin: { ...sim.tenant.teamsAdmin, adapter: 'powershell' as const } };
      const acts = createTenantActivities(tenant, TEST_POLLING);
      const failure = await activityFailureOf(run(acts, 'createResourceAccount', { upn: upn('denied'), displayName: 'denied', kind: 'autoAttendant' }));
      assert.equal(failure.type, ErrorType.PermissionDenied);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /Access Denied\./);
      assert.match(failure.message, /User Administrator/);
      assert.match(failure.message, /Organization\.Read\.All/);
    });
  });

  test('lookups go by -Identities in chunks of 20: 45 UPNs are three commands and no listing', async () => {
    const admin = adminWith();
    const settled = () => new Promise((resolve) => setTimeout(resolve, 100));
    await admin.probe();
    await settled();
    const commandsBefore = admin.session.stats.cmdlets[GET_INSTANCE] ?? 0;
    const [lookupsBefore, listingsBefore] = [await requestCount(sim, LOOKUP_ROUTE), await requestCount(sim, INSTANCES_ROUTE, 'GET')];
    const created = await admin.create({ userPrincipalName: upn('chunk'), displayName: 'chunk', applicationId: RESOURCE_ACCOUNT_APP_IDS.callQueue });
    const found = await eventuallyFound(admin, created.userPrincipalName);
    const before = admin.session.stats.cmdlets[GET_INSTANCE] ?? 0;
    await settled();
    const lookupsAfterFound = await requestCount(sim, LOOKUP_ROUTE);
    const names = [created.userPrincipalName, ...Array.from({ length: 44 }, () => upn('chunk'))];
    const answers = await Promise.all(names.map((name) => admin.findByUpn(name)));
    assert.equal(answers[0]?.objectId, found.objectId);
    assert.ok(answers.slice(1).every((answer) => answer === undefined), 'the unknown ones are "none", beside the found one');
    assert.equal((admin.session.stats.cmdlets[GET_INSTANCE] ?? 0) - before, 3);
    await settled();
    assert.equal((await requestCount(sim, LOOKUP_ROUTE)) - lookupsAfterFound, 3);
    assert.ok((await requestCount(sim, LOOKUP_ROUTE)) > lookupsBefore && commandsBefore >= 1);
    assert.equal((await requestCount(sim, INSTANCES_ROUTE, 'GET')) - listingsBefore, 0, 'Get-CsOnlineApplicationInstance never ran without -Identity/-Identities');
  });

  test('"no association" is the cmdlet writing an error and no object, read as none; a throttled read is not', async () => {
    const admin = adminWith();
    const created = await admin.create({ userPrincipalName: upn('none'), displayName: 'none', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant });
    await eventuallyFound(admin, created.userPrincipalName);
    assert.equal(await admin.getAssociation(created.objectId), undefined);
    const set = await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { throttle: { resourceUnits: 1, windowMs: 60_000 } } });
    assert.equal(set.statusCode, 200, set.body);
    try {
      let refused: TeamsAdminError | undefined;
      for (let i = 0; i < 20 && !refused; i++) {
        refused = await admin.getAssociation(created.objectId).then(() => undefined, (err: unknown) => failureOf(Promise.reject(err)));
      }
      assert.equal(refused?.kind, 'throttled', 'a 429 says nothing about the association');
    } finally {
      await sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { throttle: null } });
    }
  });

  test('an association is read from its output as Microsoft\'s code reads it: a second one for the same account is a conflict', async () => {
    const admin = adminWith();
    const name = upn('assoc2');
    const seeded = await sim.app.inject({
      method: 'POST', url: '/_simulator/seed',
      payload: { users: [{ userPrincipalName: name, displayName: 'seeded', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant, usageLocation: 'US', licenses: ['PHONESYSTEM_VIRTUALUSER'] }] },
    });
    assert.equal(seeded.statusCode, 201, seeded.body);
    const account = await eventuallyFound(admin, name);
    const mainLine = DEFAULT_VOICE_APPS.find((app) => app.name === 'Main line')?.identity ?? '';
    const made = await admin.associate({ objectId: account.objectId, configurationId: mainLine, configurationType: 'AutoAttendant', callPriority: 2 });
    assert.equal(made.configurationId, mainLine);
    assert.deepEqual(await admin.getAssociation(account.objectId), { objectId: account.objectId, configurationId: mainLine, configurationType: 'AutoAttendant', callPriority: 2 });
    const again = await failed(admin.associate({ objectId: account.objectId, configurationId: mainLine, configurationType: 'AutoAttendant' }));
    assert.equal(again.kind, 'conflict', 'an item with StatusCode Conflict fails the command though the cmdlet wrote no error');
    assert.equal(again.details.code, 'AppEndpointAlreadyAssociated');
    assert.equal(await admin.removeAssociation(account.objectId), true);
    assert.equal(await admin.removeAssociation(account.objectId), false, 'removing none: the refusal is checked against what is there');
  });

  /** Sets the stand-in's latency of one cmdlet for the body of `work`. */
  async function withCmdletLatency<T>(cmdlet: string, ms: number, work: () => Promise<T>): Promise<T> {
    const set = (latency: unknown) => sim.app.inject({ method: 'PUT', url: '/_simulator/config', payload: { cmdletLatency: { [cmdlet]: latency } } });
    assert.equal((await set(ms)).statusCode, 200);
    try {
      return await work();
    } finally {
      await set({ minMs: 0, maxMs: 3 });
    }
  }

  test('a pool spreads commands over its sessions, one cmdlet at a time each, all through one pacer; light load keeps one warm', async () => {
    const acquired: string[] = [];
    const pacer = { acquire: async (_method: string, url: string) => void acquired.push(url), answered: () => undefined, throttled: () => undefined } as unknown as Pacer;
    const admin = adminWith({ sessions: 3, pacer });
    for (let i = 0; i < 4; i++) assert.equal(await admin.findVoiceApp('CallQueue', randomUUID()), undefined);
    assert.equal(admin.session.stats.spawns, 1, 'one command at a time: the same session, the others never started');
    await withCmdletLatency('Get-CsCallQueue', 400, async () => {
      await Promise.all(Array.from({ length: 9 }, () => admin.findVoiceApp('CallQueue', randomUUID())));
    });
    const { stats } = admin.session;
    assert.equal(stats.sessions, 3);
    assert.equal(stats.maxBusy, 3, 'every session busy at once');
    assert.equal(stats.spawns, 3);
    assert.equal(stats.maxInFlight, 1, 'never two commands in one session');
    assert.equal(stats.cmdlets['Get-CsCallQueue'], 13);
    assert.equal(acquired.filter((url) => url.endsWith('/Get-CsCallQueue')).length, 13, 'every command of every session paced by the one budget');
    assert.doesNotMatch(admin.session.diagnostics(), /protocol: command/);
  });

  test('a session SIGKILLed mid-command: only its command fails (effect unknown); the queued ones run, and it comes back', async () => {
    const admin = adminWith({ sessions: 2 });
    await Promise.all([admin.probe(), admin.probe()]);
    const outcomes = await withCmdletLatency('Get-CsCallQueue', 700, async () => {
      const calls = Array.from({ length: 6 }, () => admin.findVoiceApp('CallQueue', randomUUID()).then(() => 'ok', (err: unknown) => err));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [victim] = admin.session.pids;
      assert.ok(victim);
      process.kill(victim, 'SIGKILL');
      return Promise.all(calls);
    });
    const failures = outcomes.filter((outcome): outcome is TeamsAdminError => outcome instanceof TeamsAdminError);
    assert.equal(failures.length, 1, `one command was in flight on the killed session: ${outcomes.map(String).join('; ')}`);
    assert.equal(failures[0]?.kind, 'transient');
    assert.match(failures[0]?.message ?? '', /killed by SIGKILL.*effect is unknown/);
    assert.equal(outcomes.filter((outcome) => outcome === 'ok').length, 5, 'nothing queued was lost');
    assert.equal(admin.session.stats.spawns, 3, 'the killed session started a new child');
  });

  test('no token ever appeared in an error or a stderr buffer of this suite', () => {
    assert.ok(issued.size > 0 && errors.length > 0);
    const texts = [...errors, ...admins.map((admin) => admin.session.diagnostics())];
    for (const text of texts) {
      assert.doesNotMatch(text, JWT);
      for (const token of issued) assert.ok(!text.includes(token));
    }
  });
});

function pwshOnPath(): string | undefined {
  const found = spawnSync('pwsh', ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', '$PSVersionTable.PSVersion.ToString()'], { encoding: 'utf8', timeout: 60_000 });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** The real script under pwsh, spoken to line by line. */
function startScript() {
  const child = spawn('pwsh', ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', POWERSHELL_SCRIPT_PATH], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    waiters.splice(0).forEach((wake) => wake());
  });
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    send: (text: string) => child.stdin.write(`${text}\n`),
    async waitForLines(count: number, timeoutMs = 120_000): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      while (lines.length < count) {
        if (Date.now() > deadline) assert.fail(`expected ${count} answer lines, got ${lines.length}: ${lines.join('\n')}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 500);
        });
      }
      return lines.slice(0, count);
    },
  };
}

describe('dialtone-teams.ps1 under pwsh', () => {
  const version = pwshOnPath();
  const skip = version ? false : 'pwsh (PowerShell 7) is not on the PATH of this machine';

  test('the pinned module version is the same in the script, the Node side and the Dockerfile', () => {
    const script = readFileSync(POWERSHELL_SCRIPT_PATH, 'utf8');
    assert.equal(/^\$PinnedModuleVersion = '([^']+)'$/m.exec(script)?.[1], PINNED_TEAMS_MODULE_VERSION);
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, new RegExp(`TEAMS_MODULE_VERSION=${PINNED_TEAMS_MODULE_VERSION.replaceAll('.', '\\.')}\\b`));
  });

  test('hello, JSON framing (one answer per command, nothing else), notInstalled with the fix, only allowed cmdlets, exit on EOF', { skip }, async (t) => {
    const script = startScript();
    try {
      script.send(JSON.stringify({ id: 1, op: 'hello' }));
      script.send('');
      script.send('this is not json');
      script.send(JSON.stringify({ id: 2, op: 'noSuchOp' }));
      script.send(JSON.stringify({ id: 3, op: 'connect', graphToken: 'eyJhbGciOi.eyJhdWQiOi.c2ln', teamsToken: 'eyJhbGciOi.eyJ0aWQiOi.c2ln' }));
      script.send(JSON.stringify({ id: 4, op: 'invoke', cmdlet: 'Remove-Item', parameters: { Path: '/' }, errorAction: 'Stop' }));
      const [hello, notJson, unknown, connect, refused] = (await script.waitForLines(5)).map((line) => JSON.parse(line) as {
        id: number | null; ok: boolean; result?: { powershell: string; module: { pinned: string; importable: boolean; fix?: string } };
        error?: { kind: string; message: string };
      });
      assert.equal(hello?.id, 1);
      assert.equal(hello?.ok, true);
      assert.equal(hello?.result?.powershell, version);
      assert.equal(hello?.result?.module.pinned, PINNED_TEAMS_MODULE_VERSION);
      assert.deepEqual([notJson?.ok, notJson?.id], [false, null]);
      assert.deepEqual([unknown?.id, unknown?.ok, unknown?.error?.kind], [2, false, 'invalid']);
      assert.deepEqual([refused?.id, refused?.ok, refused?.error?.kind], [4, false, 'invalid'], 'only the allowed cmdlets run');
      assert.equal(connect?.id, 3);
      assert.doesNotMatch(JSON.stringify(connect), /eyJhbGciOi/, 'tokens are not echoed');
      if (hello?.result?.module.importable) {
        t.diagnostic('the pinned MicrosoftTeams module is installed here: the notInstalled answer cannot be shown');
      } else {
        assert.equal(connect?.ok, false);
        assert.equal(connect?.error?.kind, 'notInstalled');
        assert.match(connect?.error?.message ?? '', new RegExp(`Install-Module MicrosoftTeams -RequiredVersion ${PINNED_TEAMS_MODULE_VERSION.replaceAll('.', '\\.')} -Scope AllUsers`));
        assert.match(hello?.result?.module.fix ?? '', /Install-Module MicrosoftTeams/);
      }
      script.child.stdin.end();
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref());
      assert.equal(await Promise.race([script.exited, timeout]), 0, 'the script ends on stdin EOF');
      assert.equal(script.lines.length, 5, 'exactly one line per command, nothing else on stdout');
    } finally {
      script.child.kill('SIGKILL');
    }
  });
});
