import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LOCAL_CLIENT_ID, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { GRAPH_RESOURCE, TEAMS_ADMIN_RESOURCE } from '../../lib/microsoft';
import { DEFAULT_APP, DIRECTORY_ROLES } from '../../simulator/options';
import type { TestSimulator } from './helpers';
import { graphFailure, startSimulator } from './helpers';

const READER_APP = {
  clientId: '0d7c6b1a-2f3e-4d5c-8b9a-1e2f3a4b5c6d',
  clientSecret: 'reader-secret',
  graphRoles: ['User.Read.All'],
  directoryRoles: [],
};

function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header = '', claims = ''] = token.split('.');
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;
  return { header: decode(header), claims: decode(claims) };
}

async function authenticationFailure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected authentication to fail');
}

describe('identity: discovery and token endpoint', () => {
  let simulator: TestSimulator;
  before(async () => {
    simulator = await startSimulator({ apps: [DEFAULT_APP, READER_APP] });
  });
  after(() => simulator.close());

  test('the discovery document names endpoints on the authority origin, by tenant id or verified domain', async () => {
    for (const tenant of [LOCAL_TENANT_ID, 'contoso.onmicrosoft.com']) {
      const response = await fetch(`${simulator.url}/${tenant}/v2.0/.well-known/openid-configuration`);
      assert.equal(response.status, 200);
      const document = (await response.json()) as Record<string, string>;
      assert.equal(document.issuer, `${simulator.url}/${LOCAL_TENANT_ID}/v2.0`);
      assert.equal(document.token_endpoint, `${simulator.url}/${LOCAL_TENANT_ID}/oauth2/v2.0/token`);
      assert.ok(document.authorization_endpoint?.startsWith(simulator.url));
    }
  });

  test('the real ClientSecretCredential gets an RS256 v1.0 Graph token whose roles are the app permissions, verifiable with the JWKS', async () => {
    const token = await simulator.credential().getToken(`${GRAPH_RESOURCE}/.default`);
    const { header, claims } = decodeJwt(token.token);
    assert.equal(header.alg, 'RS256');
    // Entra's v1.0 tokens: x5t beside kid, issuer sts.windows.net (access token claims reference).
    assert.equal(header.x5t, header.kid);
    assert.equal(claims.ver, '1.0');
    assert.equal(claims.iss, `https://sts.windows.net/${LOCAL_TENANT_ID}/`);
    assert.equal(claims.aud, GRAPH_RESOURCE);
    assert.equal(claims.tid, LOCAL_TENANT_ID);
    assert.equal(claims.appid, LOCAL_CLIENT_ID);
    assert.deepEqual(claims.roles, [...DEFAULT_APP.graphRoles]);
    assert.equal((claims.exp as number) - (claims.iat as number), 3599);

    const jwks = (await (await fetch(`${simulator.url}/${LOCAL_TENANT_ID}/discovery/v2.0/keys`)).json()) as { keys: { kid: string }[] };
    const jwk = jwks.keys.find((key) => key.kid === header.kid);
    assert.ok(jwk, 'the signing key is published');
    const [encodedHeader, encodedClaims, signature = ''] = token.token.split('.');
    const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
    assert.ok(verify('sha256', Buffer.from(`${encodedHeader}.${encodedClaims}`), publicKey, Buffer.from(signature, 'base64url')));
  });

  test('a Teams admin token has the Teams audience and the app\'s directory roles in wids', async () => {
    const token = await simulator.credential().getToken(`${TEAMS_ADMIN_RESOURCE}/.default`);
    const { claims } = decodeJwt(token.token);
    assert.equal(claims.aud, TEAMS_ADMIN_RESOURCE);
    assert.deepEqual(claims.wids, [DIRECTORY_ROLES['Teams Administrator'], DIRECTORY_ROLES['User Administrator']]);
    assert.equal(claims.roles, undefined);
  });

  test('a wrong client secret fails with AADSTS7000215', async () => {
    const message = await authenticationFailure(simulator.credential(LOCAL_CLIENT_ID, 'not-the-secret').getToken(`${GRAPH_RESOURCE}/.default`));
    assert.match(message, /AADSTS7000215: Invalid client secret provided/);
  });

  test('an unknown application fails with AADSTS700016', async () => {
    const message = await authenticationFailure(
      simulator.credential('11111111-2222-4333-8444-555555555555', 'whatever').getToken(`${GRAPH_RESOURCE}/.default`));
    assert.match(message, /AADSTS700016: Application with identifier '11111111-2222-4333-8444-555555555555' was not found/);
  });

  test('errors use Entra\'s OAuth shape; an unknown tenant is AADSTS90002 and a scope without /.default is AADSTS1002012', async () => {
    const unknownTenant = await fetch(`${simulator.url}/00000000-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration`);
    assert.equal(unknownTenant.status, 400);
    const tenantError = (await unknownTenant.json()) as Record<string, unknown>;
    assert.equal(tenantError.error, 'invalid_tenant');
    assert.deepEqual(tenantError.error_codes, [90002]);
    assert.match(String(tenantError.error_description), /^AADSTS90002: Tenant '00000000-0000-4000-8000-000000000000' not found/);
    for (const field of ['timestamp', 'trace_id', 'correlation_id']) assert.equal(typeof tenantError[field], 'string', field);

    const badScope = await fetch(`${simulator.url}/${LOCAL_TENANT_ID}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials', client_id: LOCAL_CLIENT_ID, client_secret: DEFAULT_APP.clientSecret, scope: 'User.Read.All',
      }),
    });
    assert.equal(badScope.status, 400);
    const scopeError = (await badScope.json()) as Record<string, unknown>;
    assert.equal(scopeError.error, 'invalid_scope');
    assert.deepEqual(scopeError.error_codes, [1002012]);
  });
});

describe('Graph and Teams token checks', () => {
  let simulator: TestSimulator;
  before(async () => {
    simulator = await startSimulator({ apps: [DEFAULT_APP, READER_APP] });
  });
  after(() => simulator.close());

  test('a Graph call without the permission the route needs is 403 Authorization_RequestDenied', async () => {
    const reader = simulator.graph(simulator.credential(READER_APP.clientId, READER_APP.clientSecret));
    const error = await graphFailure(reader.api('/subscribedSkus').get());
    assert.equal(error.statusCode, 403);
    assert.equal(error.code, 'Authorization_RequestDenied');
    assert.equal(error.message, 'Insufficient privileges to complete the operation.');
  });

  test('the Teams admin API refuses an app without a Teams admin role', async () => {
    const response = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', {
      credential: simulator.credential(READER_APP.clientId, READER_APP.clientSecret),
    });
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'Authorization_RequestDenied');
  });

  test('creating a resource account needs User Administrator besides a Teams role; reading does not', async () => {
    const teamsOnly = await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { directoryRoles: ['Teams Administrator'] } });
    assert.equal(teamsOnly.status, 200);
    try {
      // A fresh credential, so the token carries the roles as they are now.
      const credential = simulator.credential();
      const read = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', { credential });
      assert.equal(read.status, 200);
      const create = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', {
        method: 'POST',
        credential,
        body: { userPrincipalName: 'aa-roles@contoso.onmicrosoft.com', displayName: 'Roles', applicationId: 'ce933385-9390-45d1-9512-c8d228074e07' },
      });
      assert.equal(create.status, 403);
      assert.match(((await create.json()) as { error: { message: string } }).error.message, /User Administrator/);
    } finally {
      await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { directoryRoles: ['Teams Administrator', 'User Administrator'] } });
    }
  });

  test('a Graph token carries the permissions the app has when it is issued', async () => {
    const changed = await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: ['User.Read.All'] } });
    assert.equal(changed.status, 200);
    try {
      const error = await graphFailure(simulator.graph(simulator.credential()).api('/subscribedSkus').get());
      assert.equal(error.statusCode, 403);
      const refused = await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: 'all', directoryRoles: ['Dictator'] } });
      assert.equal(refused.status, 400);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /graphRoles.*directoryRoles/);
    } finally {
      await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: [...DEFAULT_APP.graphRoles] } });
    }
  });

  test('LicenseAssignment.Read.All reads subscribedSkus but not the organization; Organization.Read.All reads both', async () => {
    // Microsoft's permission tables: subscribedsku-list names LicenseAssignment.Read.All, organization-list does not.
    try {
      assert.equal((await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: ['LicenseAssignment.Read.All'] } })).status, 200);
      const licenseReader = simulator.graph(simulator.credential());
      assert.ok(Array.isArray(((await licenseReader.api('/subscribedSkus').get()) as { value: unknown[] }).value));
      const refused = await graphFailure(licenseReader.api('/organization').get());
      assert.equal(refused.statusCode, 403);
      assert.equal(refused.code, 'Authorization_RequestDenied');

      assert.equal((await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: ['Organization.Read.All'] } })).status, 200);
      const organizationReader = simulator.graph(simulator.credential());
      assert.ok(Array.isArray(((await organizationReader.api('/subscribedSkus').get()) as { value: unknown[] }).value));
      assert.equal(((await organizationReader.api('/organization').get()) as { value: unknown[] }).value.length, 1);
    } finally {
      await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: [...DEFAULT_APP.graphRoles] } });
    }
  });

  test('a token for another audience, a tampered token or no token is 401 InvalidAuthenticationToken', async () => {
    const teamsToken = await simulator.credential().getToken(`${TEAMS_ADMIN_RESOURCE}/.default`);
    const graphToken = await simulator.credential().getToken(`${GRAPH_RESOURCE}/.default`);
    const [header, claims, signature] = graphToken.token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(graphToken.token).claims, roles: ['Directory.ReadWrite.All'] })).toString('base64url');
    const cases: [string | undefined, RegExp][] = [
      [teamsToken.token, /Invalid audience/],
      [`${header}.${forged}.${signature}`, /validation failure/],
      [`${header}.${claims}`, /not well formed/],
      [undefined, /Access token is empty/],
    ];
    for (const [token, message] of cases) {
      const response = await fetch(`${simulator.url}/v1.0/subscribedSkus`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      assert.equal(response.status, 401);
      const body = (await response.json()) as { error: { code: string; message: string; innerError: Record<string, string> } };
      assert.equal(body.error.code, 'InvalidAuthenticationToken');
      assert.match(body.error.message, message);
      assert.equal(body.error.innerError['request-id'], response.headers.get('request-id'));
    }
  });

  test('a token is refused once its lifetime has passed on the simulator clock', async () => {
    const graph = simulator.graph();
    await graph.api('/subscribedSkus').get();
    simulator.clock.advance(3600 * 1000);
    const error = await graphFailure(graph.api('/subscribedSkus').get());
    assert.equal(error.statusCode, 401);
    assert.equal(error.code, 'InvalidAuthenticationToken');
    assert.match(error.message, /expired/);
  });
});
