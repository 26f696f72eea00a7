/**
 * `POST /_simulator/keys/rotate`: an emergency signing-key rollover. Tokens signed with the old key are
 * refused by Graph and the Teams admin API with Graph's 401, the key set names only the new key, and a
 * token fetched afterwards works.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { GRAPH_RESOURCE } from '../../lib/microsoft';
import type { TestSimulator } from './helpers';
import { simulatorPerSuite } from './helpers';

function kidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;
}

describe('control: signing-key rotation', () => {
  let simulator: TestSimulator;
  simulatorPerSuite((started) => (simulator = started));

  test('tokens issued before a rotation get 401 InvalidAuthenticationToken on Graph and Teams; new tokens work', async () => {
    const before = simulator.credential();
    const oldToken = (await before.getToken(`${GRAPH_RESOURCE}/.default`))?.token ?? '';
    const users = (token: string) => fetch(`${simulator.url}/v1.0/users?$top=1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await users(oldToken)).status, 200);
    assert.equal((await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', { credential: before })).status, 200);

    const rotated = await simulator.control('/keys/rotate', { method: 'POST' });
    assert.equal(rotated.status, 200);
    const { kid } = (await rotated.json()) as { kid: string };
    assert.notEqual(kid, kidOf(oldToken));

    const refused = await users(oldToken);
    assert.equal(refused.status, 401);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'InvalidAuthenticationToken');
    assert.equal(body.error.message, 'Access token validation failure.');
    const teams = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', { credential: before });
    assert.equal(teams.status, 401, 'the credential still serves its cached token, signed with the old key');
    assert.equal(((await teams.json()) as { error: { code: string } }).error.code, 'InvalidAuthenticationToken');

    const jwks = (await (await fetch(`${simulator.url}/${LOCAL_TENANT_ID}/discovery/v2.0/keys`)).json()) as { keys: { kid: string }[] };
    assert.deepEqual(jwks.keys.map((key) => key.kid), [kid], 'only the new key is published');

    const fresh = (await simulator.credential().getToken(`${GRAPH_RESOURCE}/.default`))?.token ?? '';
    assert.equal(kidOf(fresh), kid);
    assert.equal((await users(fresh)).status, 200);
  });
});
