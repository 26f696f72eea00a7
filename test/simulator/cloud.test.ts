import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseType, RetryHandlerOptions } from '@microsoft/microsoft-graph-client';
import { LOCAL_CLIENT_ID, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { GRAPH_RESOURCE } from '../../lib/microsoft';
import { DEFAULT_APP } from '../../simulator/options';
import { TEST_DELAYS, createResourceAccount, graphFailure, startSimulator } from './helpers';

/** The Graph client's own retry middleware would hide the 429s these tests are about. */
const NO_RETRY = [new RetryHandlerOptions(0, 0)];

test('an app over its request budget gets 429 with Retry-After and Microsoft\'s throttle headers, then recovers after waiting', async () => {
  const simulator = await startSimulator({ throttle: { resourceUnits: 5, windowMs: 60_000 } });
  try {
    const call = () => simulator.graph().api('/admin/teams/telephoneNumberManagement/numberAssignments?$top=50').middlewareOptions(NO_RETRY);
    const percentages: (string | null)[] = [];
    for (let index = 0; index < 5; index += 1) {
      const response = (await call().responseType(ResponseType.RAW).get()) as Response;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-ms-resource-unit'), '1');
      percentages.push(response.headers.get('x-ms-throttle-limit-percentage'));
    }
    assert.deepEqual(percentages, [null, null, null, '0.8', '1.0'], 'the percentage header appears only past 80 % of the budget');

    const throttled = await graphFailure(call().get());
    assert.equal(throttled.statusCode, 429);
    const retryAfter = Number(throttled.headers?.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After is whole seconds (got ${retryAfter})`);
    assert.equal(throttled.headers?.get('x-ms-throttle-scope'), `Tenant_Application/ReadWrite/${LOCAL_CLIENT_ID}/${LOCAL_TENANT_ID}`);
    assert.equal(throttled.headers?.get('x-ms-throttle-information'), 'ResourceUnitLimitExceeded');

    simulator.clock.advance(retryAfter * 1000);
    const recovered = (await call().responseType(ResponseType.RAW).get()) as Response;
    assert.equal(recovered.status, 200);
  } finally {
    await simulator.close();
  }
});

test('throttling is per app: another app keeps its own budget', async () => {
  const other = { clientId: '2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901', clientSecret: 'other', graphRoles: ['TeamsTelephoneNumber.Read.All'], directoryRoles: [] };
  const simulator = await startSimulator({
    throttle: { resourceUnits: 2, windowMs: 60_000 },
    apps: [DEFAULT_APP, other],
  });
  try {
    const path = '/admin/teams/telephoneNumberManagement/numberAssignments?$top=50';
    for (let index = 0; index < 2; index += 1) await simulator.graph().api(path).middlewareOptions(NO_RETRY).get();
    assert.equal((await graphFailure(simulator.graph().api(path).middlewareOptions(NO_RETRY).get())).statusCode, 429);
    const otherGraph = simulator.graph(simulator.credential(other.clientId, other.clientSecret));
    await otherGraph.api(path).middlewareOptions(NO_RETRY).get();
  } finally {
    await simulator.close();
  }
});

test('transient faults are 429/503 (with Retry-After) before processing, or a 504 after a write was applied', async () => {
  const simulator = await startSimulator({ seed: 42 });
  try {
    const account = await createResourceAccount(simulator, 'faulty');
    simulator.clock.advance(TEST_DELAYS.replication);
    const token = (await simulator.credential().getToken(`${GRAPH_RESOURCE}/.default`)).token;
    const patch = (usageLocation: string) => fetch(`${simulator.url}/v1.0/users/${account}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ usageLocation }),
    });

    assert.equal((await simulator.control('/config', { method: 'PUT', body: { faultRate: 1 } })).status, 200);
    // Distinct values tell which write was applied; stop once a 429/503 has followed a 504.
    const countries = ('US GB DE FR NL SE NO DK FI IE ES IT PT PL AT BE CH CZ HU RO BG GR HR SI SK LT LV EE LU MT ' +
      'CY IS CA MX BR AR CL CO PE JP KR CN IN AU NZ ZA EG NG KE MA TR IL AE SA QA SG MY TH VN PH ID').split(' ');
    const statuses = new Set<number>();
    let appliedBy504: string | undefined;
    let rejectedAfter504 = 0;
    for (const country of countries) {
      if (statuses.size === 3 && rejectedAfter504 > 0) break;
      const response = await patch(country);
      statuses.add(response.status);
      const body = (await response.json()) as { error: { code: string; innerError: { 'request-id': string } } };
      assert.ok(body.error.innerError['request-id'], 'fault bodies are Graph errors');
      if (response.status === 504) {
        appliedBy504 = country;
        rejectedAfter504 = 0;
      } else {
        assert.ok([429, 503].includes(response.status), `unexpected status ${response.status}`);
        assert.ok(Number(response.headers.get('retry-after')) >= 1, `${response.status} carries Retry-After`);
        if (appliedBy504 !== undefined) rejectedAfter504 += 1;
      }
    }
    assert.deepEqual([...statuses].sort(), [429, 503, 504], 'faulty calls show every kind of fault');
    assert.ok(appliedBy504 !== undefined && rejectedAfter504 > 0, 'a 429/503 followed the last 504');

    await simulator.control('/config', { method: 'PUT', body: { faultRate: 0 } });
    simulator.clock.advance(TEST_DELAYS.usageLocationReplication);
    const user = (await simulator.graph().api(`/users/${account}`).select('usageLocation').get()) as { usageLocation: string };
    assert.equal(user.usageLocation, appliedBy504, 'the 504 write was applied; the later 429/503 writes were not');
  } finally {
    await simulator.close();
  }
});

test('the time scale multiplies every delay', async () => {
  const simulator = await startSimulator({ timeScale: 0.5 });
  try {
    const account = await createResourceAccount(simulator, 'scaled');
    simulator.clock.advance(TEST_DELAYS.replication * 0.5 - 1);
    assert.equal((await graphFailure(simulator.graph().api(`/users/${account}`).get())).statusCode, 404);
    simulator.clock.advance(1);
    await simulator.graph().api(`/users/${account}`).get();
  } finally {
    await simulator.close();
  }
});

test('writes count against Graph\'s write quota besides the resource units; a 429 names the quota it ran out of', async () => {
  const simulator = await startSimulator({ writeQuota: { requests: 2, windowMs: 150_000 } });
  try {
    const account = await createResourceAccount(simulator, 'writer');
    simulator.clock.advance(TEST_DELAYS.replication);
    const patch = () => simulator.graph().api(`/users/${account}`).middlewareOptions(NO_RETRY).patch({ displayName: 'Writer' });
    await patch();
    const error = await graphFailure(patch());
    assert.equal(error.statusCode, 429, 'the create and one PATCH used the two writes');
    assert.equal(error.code, 'TooManyRequests');
    assert.equal(error.headers?.get('x-ms-throttle-information'), 'WriteLimitExceeded');
    assert.equal(error.headers?.get('x-ms-throttle-scope'), `Tenant_Application/Write/${LOCAL_CLIENT_ID}/${LOCAL_TENANT_ID}`);
    assert.ok(Number(error.headers?.get('retry-after')) >= 1, 'identity 429s carry Retry-After, as documented');
    // Reads are not writes.
    await simulator.graph().api(`/users/${account}`).middlewareOptions(NO_RETRY).get();
    simulator.clock.advance(150_000);
    await patch();
  } finally {
    await simulator.close();
  }
});

test('x-ms-throttle-limit-percentage never exceeds 1.8, however far over the budget an app goes', async () => {
  const simulator = await startSimulator({ throttle: { resourceUnits: 2, windowMs: 60_000 } });
  try {
    const call = () => simulator.graph().api('/subscribedSkus').middlewareOptions(NO_RETRY).responseType(ResponseType.RAW).get() as Promise<Response>;
    const percentages: (string | null)[] = [];
    for (let index = 0; index < 3; index += 1) percentages.push((await call()).headers.get('x-ms-throttle-limit-percentage'));
    assert.deepEqual(percentages, ['1.5', '1.8', '1.8']);
  } finally {
    await simulator.close();
  }
});

test('on Teams routes a share of 429s come without Retry-After (retryAfterOmissionRate), so clients must back off on their own', async () => {
  const simulator = await startSimulator({ throttle: { resourceUnits: 1, windowMs: 60_000 }, retryAfterOmissionRate: 1 });
  try {
    const path = '/admin/teams/telephoneNumberManagement/numberAssignments?$top=50';
    await simulator.graph().api(path).middlewareOptions(NO_RETRY).get();
    const teams = await graphFailure(simulator.graph().api(path).middlewareOptions(NO_RETRY).get());
    assert.equal(teams.statusCode, 429);
    assert.equal(teams.headers?.get('retry-after'), null);
    const identity = await graphFailure(simulator.graph().api('/subscribedSkus').middlewareOptions(NO_RETRY).get());
    assert.equal(identity.statusCode, 429);
    assert.ok(identity.headers?.get('retry-after'), 'identity routes keep the documented Retry-After');
  } finally {
    await simulator.close();
  }
});
