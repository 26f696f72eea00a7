/**
 * Conformance of the simulator's Entra token endpoint with Microsoft's documentation, through raw HTTP.
 * Each test cites the page it checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LOCAL_CLIENT_ID, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import type { TestSimulator } from '../simulator/helpers';
import { GRAPH, RawClient, TEAMS_ADMIN, decodeJwt, rawClientPerSuite } from './raw-client';

describe('conformance: Microsoft identity platform (client credentials)', () => {
  let simulator: TestSimulator;
  let client: RawClient;
  rawClientPerSuite((started) => ({ simulator, client } = started));

  // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#successful-response
  test('a token response carries token_type Bearer, expires_in and access_token', async () => {
    const response = await client.tokenResponse(`${GRAPH}/.default`);
    assert.equal(response.status, 200);
    assert.equal(response.json.token_type, 'Bearer');
    assert.equal(typeof response.json.expires_in, 'number');
    assert.equal(typeof response.json.access_token, 'string');
  });

  // https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference (header claims; v1.0 issuer)
  test('an app-only Graph token is a v1.0 token: iss https://sts.windows.net/{tid}/, x5t equal to kid, roles and no scp', async () => {
    const { header, claims } = decodeJwt(await client.token(GRAPH));
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'JWT');
    assert.equal(header.x5t, header.kid);
    assert.equal(claims.ver, '1.0');
    assert.equal(claims.iss, `https://sts.windows.net/${LOCAL_TENANT_ID}/`);
    assert.equal(claims.tid, LOCAL_TENANT_ID);
    assert.equal(claims.appid, LOCAL_CLIENT_ID);
    assert.equal(claims.appidacr, '1');
    assert.equal(claims.idtyp, 'app');
    assert.ok(Array.isArray(claims.roles));
    assert.equal(claims.scp, undefined);
  });

  // https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference (wids: directory roles)
  test('a Teams admin token names the app\'s directory roles in wids', async () => {
    const { claims } = decodeJwt(await client.token(TEAMS_ADMIN));
    assert.equal(claims.aud, TEAMS_ADMIN);
    assert.ok(Array.isArray(claims.wids) && (claims.wids as string[]).includes('69091246-20e8-4a56-aa4d-066075b2a7a8'), 'Teams Administrator');
  });

  // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#error-response
  test('an error response has error, error_description with the AADSTS code, error_codes, timestamp, trace_id and correlation_id', async () => {
    const response = await new RawClient(simulator, LOCAL_CLIENT_ID, 'wrong').tokenResponse(`${GRAPH}/.default`);
    assert.equal(response.status, 401);
    assert.equal(response.json.error, 'invalid_client');
    assert.match(response.json.error_description, /^AADSTS7000215: /);
    assert.deepEqual(response.json.error_codes, [7000215]);
    for (const field of ['timestamp', 'trace_id', 'correlation_id']) assert.equal(typeof response.json[field], 'string', field);
  });

  // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#first-case-access-token-request-with-a-shared-secret
  test('the scope of a client-credentials request must be <resource>/.default', async () => {
    const response = await client.tokenResponse('User.Read.All');
    assert.equal(response.status, 400);
    assert.equal(response.json.error, 'invalid_scope');
  });
});
