/**
 * Conformance of the simulator's directory (Graph users, deleted items, errors) with Microsoft's
 * documentation, through raw HTTP. Each test cites the page it checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DOMAIN, TEST_DELAYS, createResourceAccount } from '../simulator/helpers';
import type { TestSimulator } from '../simulator/helpers';
import type { RawClient } from './raw-client';
import { rawClientPerSuite } from './raw-client';

const newUser = (upn: string) => ({
  accountEnabled: true, displayName: 'Conformance', mailNickname: upn.split('@')[0], userPrincipalName: upn, passwordProfile: { password: 'Long-Enough-Pass-1' },
});

describe('conformance: Graph users and deleted items', () => {
  let simulator: TestSimulator;
  let client: RawClient;
  rawClientPerSuite((started) => ({ simulator, client } = started));

  /** Creates users through Graph and lets them replicate. */
  async function users(count: number, prefix: string): Promise<string[]> {
    const ids: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const created = await client.graph('POST', '/v1.0/users', { body: newUser(`${prefix}-${index}@${DOMAIN}`) });
      assert.equal(created.status, 201, created.text);
      ids.push(created.json.id);
    }
    simulator.clock.advance(TEST_DELAYS.replication);
    return ids;
  }

  // https://learn.microsoft.com/graph/errors#json-representation
  test('an error is { error: { code, message, innerError: { date, request-id, client-request-id } } }', async () => {
    const response = await client.graph('GET', '/v1.0/users/00000000-0000-4000-8000-000000000000');
    assert.equal(response.status, 404);
    assert.equal(response.json.error.code, 'Request_ResourceNotFound');
    assert.equal(typeof response.json.error.message, 'string');
    assert.match(response.json.error.innerError.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.equal(response.json.error.innerError['request-id'], response.headers.get('request-id'));
    assert.ok(response.json.error.innerError['client-request-id']);
  });

  // https://learn.microsoft.com/graph/api/user-post-users (response 201) and microsoft-graph-docs#1508 (duplicate UPN)
  test('creating a user answers 201; a UPN already in use is 400 Request_BadRequest with detail ObjectConflict', async () => {
    const upn = `pat@${DOMAIN}`;
    assert.equal((await client.graph('POST', '/v1.0/users', { body: newUser(upn) })).status, 201);
    const again = await client.graph('POST', '/v1.0/users', { body: newUser(upn.toUpperCase()) });
    assert.equal(again.status, 400);
    assert.equal(again.json.error.code, 'Request_BadRequest');
    assert.equal(again.json.error.message, 'Another object with the same value for property userPrincipalName already exists.');
    assert.deepEqual(again.json.error.details.map((d: { code: string; target: string }) => [d.code, d.target]), [['ObjectConflict', 'userPrincipalName']]);
  });

  // https://learn.microsoft.com/graph/api/user-list ("default and maximum page sizes are 100 and 999") and /graph/paging
  test('the user list pages at 100 by default, at most 999, through @odata.nextLink with a $skiptoken', async () => {
    await users(3, 'paged');
    const first = await client.graph('GET', '/v1.0/users?$top=2&$select=id,userPrincipalName');
    assert.equal(first.status, 200);
    assert.equal(first.json.value.length, 2);
    assert.match(first.json['@odata.nextLink'], /\/v1\.0\/users\?.*\$skiptoken=/);
    const next = await client.graph('GET', new URL(first.json['@odata.nextLink']).pathname + new URL(first.json['@odata.nextLink']).search);
    assert.equal(next.status, 200);
    assert.ok(next.json.value.length >= 1);
    assert.equal((await client.graph('GET', '/v1.0/users')).json.value.length <= 100, true);
    const tooMany = await client.graph('GET', '/v1.0/users?$top=1000');
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.json.error.message, /Invalid page size specified: '1000'\. Must be between 1 and 999 inclusive\./);
  });

  // https://learn.microsoft.com/graph/query-parameters#escaping-single-quotes
  test('a quote inside a $filter string is doubled', async () => {
    const upn = `o'brien@${DOMAIN}`;
    assert.equal((await client.graph('POST', '/v1.0/users', { body: newUser(upn) })).status, 201);
    simulator.clock.advance(TEST_DELAYS.replication);
    const found = await client.graph('GET', `/v1.0/users?$filter=${encodeURIComponent(`userPrincipalName eq 'o''brien@${DOMAIN}'`)}`);
    assert.equal(found.status, 200);
    assert.deepEqual(found.json.value.map((user: { userPrincipalName: string }) => user.userPrincipalName), [upn]);
  });

  // https://learn.microsoft.com/graph/aad-advanced-queries (endsWith needs ConsistencyLevel: eventual and $count=true)
  test('endsWith is an advanced query: refused without ConsistencyLevel eventual and $count=true, answered with them', async () => {
    await users(1, 'advanced');
    const filter = encodeURIComponent(`endsWith(userPrincipalName,'@${DOMAIN}')`);
    const refused = await client.graph('GET', `/v1.0/users?$filter=${filter}`);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.code, 'Request_UnsupportedQuery');
    assert.match(refused.json.error.message, /^Operator 'endsWith' is not supported because the required parameters might be missing\. Try adding \$count=true query parameter and ConsistencyLevel:eventual header\./);
    const answered = await client.graph('GET', `/v1.0/users?$filter=${filter}&$count=true`, { headers: { ConsistencyLevel: 'eventual' } });
    assert.equal(answered.status, 200);
    assert.equal(answered.json['@odata.count'], answered.json.value.length);
  });

  // https://learn.microsoft.com/graph/aad-advanced-queries ("$count=true without the header ... is ignored")
  test('$count=true without ConsistencyLevel is ignored: no @odata.count', async () => {
    const response = await client.graph('GET', '/v1.0/users?$count=true');
    assert.equal(response.status, 200);
    assert.equal(response.json['@odata.count'], undefined);
  });

  // https://learn.microsoft.com/graph/query-parameters (values percent-encoded per RFC 3986; "+" stands for a space)
  test('a raw "+" in a query value arrives as a space; %2B is a plus', async () => {
    const created = await client.graph('POST', '/v1.0/users', { body: { ...newUser(`plus@${DOMAIN}`), displayName: 'Sales+Support' } });
    assert.equal(created.status, 201);
    simulator.clock.advance(TEST_DELAYS.replication);
    const raw = await client.graph('GET', "/v1.0/users?$filter=displayName eq 'Sales+Support'");
    assert.deepEqual(raw.json.value, []);
    const encoded = await client.graph('GET', "/v1.0/users?$filter=displayName eq 'Sales%2BSupport'");
    assert.equal(encoded.json.value.length, 1);
  });

  // https://learn.microsoft.com/graph/api/user-delete (204; "moved to a temporary container ... restored within 30 days")
  test('deleting a user answers 204 and moves it to deleted items, with deletedDateTime', async () => {
    const [id] = await users(1, 'deleted');
    const deleted = await client.graph('DELETE', `/v1.0/users/${id}`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.equal((await client.graph('GET', `/v1.0/users/${id}`)).status, 404);
    const item = await client.graph('GET', `/v1.0/directory/deletedItems/${id}`);
    assert.equal(item.status, 200);
    assert.equal(item.json['@odata.type'], '#microsoft.graph.user');
    assert.match(item.json.deletedDateTime, /^\d{4}-\d\d-\d\dT/);
  });

  // https://learn.microsoft.com/graph/api/directory-deleteditems-list ("GET /directory/deletedItems without a type is not supported")
  test('listing deleted items needs the type cast; with it they page like users', async () => {
    const [id] = await users(1, 'cast');
    await client.graph('DELETE', `/v1.0/users/${id}`);
    const uncast = await client.graph('GET', '/v1.0/directory/deletedItems');
    assert.equal(uncast.status, 400);
    assert.equal(uncast.json.error.code, 'Request_UnsupportedQuery');
    const list = await client.graph('GET', '/v1.0/directory/deletedItems/microsoft.graph.user?$top=999');
    assert.equal(list.status, 200);
    assert.ok(list.json.value.some((user: { id: string }) => user.id === id));
    assert.equal((await client.graph('GET', '/v1.0/directory/deletedItems/microsoft.graph.user?$top=1000')).status, 400);
  });

  // https://learn.microsoft.com/graph/api/directory-deleteditems-restore (200 with the object) and -delete (204)
  test('restore answers 200 with the object; permanent delete answers 204 and the item is gone', async () => {
    const [first, second] = await users(2, 'restore');
    await client.graph('DELETE', `/v1.0/users/${first}`);
    const restored = await client.graph('POST', `/v1.0/directory/deletedItems/${first}/restore`, { body: {} });
    assert.equal(restored.status, 200);
    assert.equal(restored.json.id, first);
    await client.graph('DELETE', `/v1.0/users/${second}`);
    const purged = await client.graph('DELETE', `/v1.0/directory/deletedItems/${second}`);
    assert.equal(purged.status, 204);
    assert.equal((await client.graph('GET', `/v1.0/directory/deletedItems/${second}`)).status, 404);
  });

  // https://learn.microsoft.com/microsoft-365/admin/add-users/restore-user ("A user name conflict occurs when you delete a user account, create a new user account with the same user name")
  test('a new user may take a deleted user\'s UPN; restoring the deleted one then fails', async () => {
    const upn = `reuse@${DOMAIN}`;
    const first = await client.graph('POST', '/v1.0/users', { body: newUser(upn) });
    simulator.clock.advance(TEST_DELAYS.replication);
    await client.graph('DELETE', `/v1.0/users/${first.json.id}`);
    assert.equal((await client.graph('POST', '/v1.0/users', { body: newUser(upn) })).status, 201);
    const restore = await client.graph('POST', `/v1.0/directory/deletedItems/${first.json.id}/restore`, { body: {} });
    assert.equal(restore.status, 400);
  });

  // https://learn.microsoft.com/graph/api/user-update (204 No Content) and /graph/api/user-assignlicense (usage location required)
  test('PATCH answers 204; assignLicense without a usage location is 400 with Microsoft\'s message', async () => {
    const id = await createResourceAccount(simulator, 'conformance-license');
    simulator.clock.advance(TEST_DELAYS.replication);
    const skuId = '440eaaa8-b3e0-484b-a8be-62870b9ba70a';
    const refused = await client.graph('POST', `/v1.0/users/${id}/assignLicense`, { body: { addLicenses: [{ skuId, disabledPlans: [] }], removeLicenses: [] } });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.message, 'License assignment cannot be done for user with invalid usage location.');
    const patched = await client.graph('PATCH', `/v1.0/users/${id}`, { body: { usageLocation: 'US' } });
    assert.equal(patched.status, 204);
    assert.equal(patched.text, '');
  });
});
