/**
 * A token the service refuses (signing keys rolled over, token revoked, simulator restarted) is renewed
 * and the request sent once more, by the Graph client and the Teams admin client; a second refusal in
 * a row is AuthenticationFailed, non-retryable, with a message a person can act on and no token in it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { createActivities } from '../../activities';
import { createGraphClient } from '../../activities/graph/client';
import { RestTeamsAdmin } from '../../activities/teams-admin/rest-client';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_APP_IDS } from '../../lib/microsoft';
import { RenewingCredential, createCredential } from '../../worker/credentials';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import type { TestSimulator } from '../helpers/simulator';
import { failureOf, run, state, upn } from './harness';

const TOKEN_ROUTE = '/:tenant/oauth2/v2.0/token';
const INSTANCES_ROUTE = '/Teams.PlatformService/v2/ApplicationInstances';

/** Responses by status on one route pattern (any method unless given). */
async function statuses(sim: TestSimulator, route: string, method?: string): Promise<Record<string, number>> {
  const summary = (await sim.app.inject({ method: 'GET', url: '/_simulator/requests' })).json() as {
    routes: { method: string; route: string; statuses: Record<string, number> }[];
  };
  const counts: Record<string, number> = {};
  for (const entry of summary.routes.filter((r) => r.route === route && (method === undefined || r.method === method))) {
    for (const [status, count] of Object.entries(entry.statuses)) counts[status] = (counts[status] ?? 0) + count;
  }
  return counts;
}

/** The simulator counts a request once its answer is sent, so the count may trail the client by a moment. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      return await check();
    } catch (err) {
      if (tries >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function rotateKeys(sim: TestSimulator): Promise<void> {
  const response = await sim.app.inject({ method: 'POST', url: '/_simulator/keys/rotate' });
  assert.equal(response.statusCode, 200, response.body);
}

/** A well-formed token signed with a key the simulator never had: refused however often it is fetched. */
function forgedToken(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ typ: 'JWT', alg: 'RS256', kid: 'forged' })}.${part({ aud: 'forged' })}.${randomBytes(64).toString('base64url')}`;
}

/** A credential that counts its instances, each handing out its own forged token. */
function forgingCredential(): { credential: RenewingCredential; instances: () => number; tokens: string[] } {
  const tokens: string[] = [];
  const credential = new RenewingCredential((): TokenCredential => {
    const token = forgedToken();
    tokens.push(token);
    return { getToken: async (): Promise<AccessToken> => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
  });
  return { credential, instances: () => tokens.length, tokens };
}

describe('a refused token is renewed once', () => {
  test('activities keep working across signing-key rotations: Graph and Teams each renew and repeat once', async () => {
    const sim = await startTestSimulator();
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 });
      await run(acts, 'createResourceAccount', { upn: upn(), displayName: 'Before', kind: 'autoAttendant' });
      const tokensBefore = (await statuses(sim, TOKEN_ROUTE))['200'] ?? 0;

      await rotateKeys(sim);
      const afterGraph = await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 });
      assert.ok(afterGraph.enabled > 0);
      assert.equal((await statuses(sim, '/v1.0/subscribedSkus'))['401'], 1, 'one refusal, then the new token');
      // A fresh credential instance holds no Teams token yet: fetch one before the next rotation refuses it.
      await run(acts, 'createResourceAccount', { upn: upn(), displayName: 'Between', kind: 'autoAttendant' });

      await rotateKeys(sim);
      const name = upn();
      const created = await run(acts, 'createResourceAccount', { upn: name, displayName: 'After', kind: 'autoAttendant' });
      assert.equal(created.adopted, false);
      assert.equal((await statuses(sim, INSTANCES_ROUTE, 'GET'))['401'], 1, 'the Teams lookup was refused once, then repeated');
      assert.ok((await state(sim)).users.some((user) => user.id === created.accountId));
      // A Graph token after the first renewal, a Teams token for that new instance, a Teams token after the second: nothing more.
      assert.equal(((await statuses(sim, TOKEN_ROUTE))['200'] ?? 0) - tokensBefore, 3);
    } finally {
      await sim.close();
    }
  });

  test('a write refused for its token is sent again and carried out once, by either client', async () => {
    const sim = await startTestSimulator();
    try {
      const graph = createGraphClient({ credential: createCredential(sim.tenant), baseUrl: sim.tenant.graphBaseUrl });
      const teams = new RestTeamsAdmin({ credential: createCredential(sim.tenant), baseUrl: sim.tenant.teamsAdminBaseUrl });
      await graph.api('/subscribedSkus').get();
      assert.equal(await teams.findByUpn(upn()), undefined);

      await rotateKeys(sim);
      const userName = upn('user');
      const user = (await graph.api('/users').post({
        accountEnabled: false,
        displayName: 'Written once',
        mailNickname: userName.split('@')[0],
        userPrincipalName: userName,
        passwordProfile: { password: `Pw-${randomBytes(12).toString('hex')}`, forceChangePasswordNextSignIn: true },
      })) as { id: string; userPrincipalName: string };
      assert.equal(user.userPrincipalName, userName);
      const instanceName = upn('aa');
      const instance = await teams.create({ userPrincipalName: instanceName, displayName: 'Written once', applicationId: RESOURCE_ACCOUNT_APP_IDS.autoAttendant });
      assert.equal(instance.userPrincipalName, instanceName);

      await eventually(async () => {
        assert.deepEqual(await statuses(sim, '/v1.0/users', 'POST'), { 201: 1, 401: 1 });
        assert.deepEqual(await statuses(sim, INSTANCES_ROUTE, 'POST'), { 200: 1, 401: 1 });
      });
      const users = (await state(sim)).users.filter((u) => [userName, instanceName].includes(String(u.userPrincipalName).toLowerCase()));
      assert.equal(users.length, 2, 'each write was carried out once');
    } finally {
      await sim.close();
    }
  });

  test('a second refusal in a row is AuthenticationFailed, non-retryable, actionable and without the token', async () => {
    const sim = await startTestSimulator();
    try {
      for (const [activity, route] of [['checkLicenseAvailability', '/v1.0/subscribedSkus'], ['createResourceAccount', INSTANCES_ROUTE]] as const) {
        const { credential, instances, tokens } = forgingCredential();
        const acts = createActivities({
          graph: createGraphClient({ credential, baseUrl: sim.tenant.graphBaseUrl }),
          teamsAdmin: new RestTeamsAdmin({ credential, baseUrl: sim.tenant.teamsAdminBaseUrl }),
          polling: TEST_POLLING,
        });
        const before = (await statuses(sim, route))['401'] ?? 0;
        const failure = await failureOf(activity === 'checkLicenseAvailability'
          ? run(acts, activity, { upn: upn(), needed: 1 })
          : run(acts, activity, { upn: upn(), displayName: 'Refused', kind: 'autoAttendant' }));
        assert.equal(failure.type, ErrorType.AuthenticationFailed, `${activity}: ${failure.message}`);
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, /rejected the app's token .*also a newly issued one: InvalidAuthenticationToken: Access token validation failure\./);
        assert.match(failure.message, /Check that the app registration belongs to this tenant/);
        assert.equal(instances(), 2, `${activity}: one renewal, not more`);
        await eventually(async () => assert.equal(((await statuses(sim, route))['401'] ?? 0) - before, 2, `${activity}: the request was sent twice`));
        for (const token of tokens) {
          assert.ok(!failure.message.includes(token) && !(failure.stack ?? '').includes(token), 'no token in the failure');
          assert.ok(!JSON.stringify(failure.details ?? []).includes(token));
        }
      }
    } finally {
      await sim.close();
    }
  });

  test('a burst of requests refused with the same token renews once; a token already replaced renews nothing', async () => {
    let created = 0;
    const credential = new RenewingCredential(() => {
      const token = `token-${(created += 1)}`;
      return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    });
    const first = await credential.getToken('https://graph.microsoft.com/.default');
    await credential.getToken(`${RESOURCE_ACCOUNT_APP_IDS.autoAttendant}/.default`);
    for (let i = 0; i < 10; i++) credential.tokenRefused(first?.token ?? '');
    assert.equal(created, 2, 'one renewal for ten refusals of the same token');
    assert.equal((await credential.getToken('https://graph.microsoft.com/.default'))?.token, 'token-2');
    credential.tokenRefused('token-1');
    credential.tokenRefused('never-handed-out');
    assert.equal(created, 2);
  });
});
