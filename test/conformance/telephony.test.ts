/**
 * Conformance of the simulator's Teams telephone-number management, subscriptions and throttling with
 * Microsoft's documentation, through raw HTTP. Each test cites the page it checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import { TEST_DELAYS, createResourceAccount, startSimulator } from '../simulator/helpers';
import type { TestSimulator } from '../simulator/helpers';
import { RawClient, rawClientPerSuite } from './raw-client';

const NUMBERS = '/v1.0/admin/teams/telephoneNumberManagement/numberAssignments';
const NUMBER = '+12065550100';

describe('conformance: Teams telephone number management', () => {
  let simulator: TestSimulator;
  let client: RawClient;
  rawClientPerSuite((started) => ({ simulator, client } = started));

  const byNumber = async (number: string) =>
    (await client.graph('GET', `${NUMBERS}?$filter=${encodeURIComponent(`telephoneNumber eq '${number}'`)}`)).json.value[0];

  /** A resource account whose license has reached Teams. */
  async function readyAccount(name: string): Promise<string> {
    const id = await createResourceAccount(simulator, name);
    simulator.clock.advance(TEST_DELAYS.replication);
    await client.graph('PATCH', `/v1.0/users/${id}`, { body: { usageLocation: 'US' } });
    simulator.clock.advance(TEST_DELAYS.usageLocationReplication);
    const assigned = await client.graph('POST', `/v1.0/users/${id}/assignLicense`, {
      body: { addLicenses: [{ skuId: RESOURCE_ACCOUNT_SKU_ID, disabledPlans: [] }], removeLicenses: [] },
    });
    assert.equal(assigned.status, 200, assigned.text);
    simulator.clock.advance(TEST_DELAYS.licensePropagation + TEST_DELAYS.teamsSync);
    return id;
  }

  // https://learn.microsoft.com/graph/api/resources/teamsadministration-numberassignment (properties; "+" prefix always shown)
  test('a numberAssignment has the documented properties, an opaque base64url id and a "+"-prefixed number', async () => {
    const entry = await byNumber(NUMBER);
    assert.deepEqual(Object.keys(entry).sort(), [
      'activationState', 'assignmentCategory', 'assignmentStatus', 'assignmentTargetId', 'capabilities', 'city', 'civicAddressId', 'id',
      'isoCountryCode', 'locationId', 'networkSiteId', 'numberSource', 'numberType', 'operatorId', 'portInStatus', 'reverseNumberLookupOptions',
      'supportedCustomerActions', 'telephoneNumber',
    ]);
    assert.equal(entry.telephoneNumber, NUMBER);
    assert.match(entry.id, /^[A-Za-z0-9_-]+$/);
    assert.ok(!/^\d+$/.test(entry.id), 'not the digits of the number');
  });

  // https://learn.microsoft.com/graph/api/teamsadministration-telephonenumbermanagementroot-list-numberassignments ($top default 500, at most 1,000)
  test('the list takes $top up to 1,000 and $skip', async () => {
    assert.equal((await client.graph('GET', `${NUMBERS}?$top=1000`)).status, 200);
    assert.equal((await client.graph('GET', `${NUMBERS}?$top=1001`)).status, 400);
    const all = (await client.graph('GET', NUMBERS)).json.value;
    const skipped = (await client.graph('GET', `${NUMBERS}?$top=2&$skip=1`)).json.value;
    assert.deepEqual(skipped.map((n: { id: string }) => n.id), all.slice(1, 3).map((n: { id: string }) => n.id));
  });

  // https://learn.microsoft.com/graph/query-parameters (percent-encoding); the number filter example of the list page
  test('telephoneNumber eq with "+" unencoded matches nothing; encoded as %2B it matches', async () => {
    assert.deepEqual((await client.graph('GET', `${NUMBERS}?$filter=telephoneNumber eq '${NUMBER}'`)).json.value, []);
    assert.equal((await client.graph('GET', `${NUMBERS}?$filter=telephoneNumber eq '%2B12065550100'`)).json.value.length, 1);
  });

  // https://learn.microsoft.com/graph/api/teamsadministration-numberassignment-assignnumber (202, Location: operations('…'), no body)
  test('assignNumber answers 202 with no body and a Location of operations(\'<id>\')', async () => {
    const account = await readyAccount('conformance-assign');
    const accepted = await client.graph('POST', `${NUMBERS}/assignNumber`, {
      body: { telephoneNumber: '12065550100', assignmentTargetId: account, numberType: 'callingPlan', assignmentCategory: 'primary' },
    });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.text, '');
    assert.match(accepted.headers.get('location') ?? '', /\/v1\.0\/admin\/teams\/telephoneNumberManagement\/operations\('[A-Za-z0-9_-]+'\)$/);
  });

  // https://learn.microsoft.com/graph/api/teamsadministration-telephonenumberlongrunningoperation-get (sample wrapped in "value")
  test('an operation reads as the documented sample: in "value", with id, createdDateTime, status and numbers[{resourceLocation, status}]', async () => {
    const account = await readyAccount('conformance-operation');
    const accepted = await client.graph('POST', `${NUMBERS}/assignNumber`, {
      body: { telephoneNumber: NUMBER, assignmentTargetId: account, numberType: 'callingPlan' },
    });
    const location = new URL(accepted.headers.get('location') ?? '');
    simulator.clock.advance(TEST_DELAYS.numberOperation);
    const operation = await client.graph('GET', location.pathname);
    assert.equal(operation.status, 200);
    const value = operation.json.value;
    assert.equal(value['@odata.type'], '#microsoft.graph.teamsAdministration.telephoneNumberLongRunningOperation');
    assert.deepEqual(Object.keys(value).sort(), ['@odata.type', 'createdDateTime', 'id', 'numbers', 'status']);
    assert.equal(value.status, 'succeeded');
    assert.deepEqual(Object.keys(value.numbers[0]).sort(), ['resourceLocation', 'status']);
    assert.match(value.numbers[0].resourceLocation, /\/numberAssignments\/[A-Za-z0-9_-]+$/);
  });

  // https://learn.microsoft.com/graph/api/teamsadministration-numberassignment-unassignnumber (202 + Location)
  test('unassignNumber answers 202 with a Location', async () => {
    const response = await client.graph('POST', `${NUMBERS}/unassignNumber`, { body: { telephoneNumber: NUMBER, numberType: 'callingPlan' } });
    assert.equal(response.status, 202);
    assert.match(response.headers.get('location') ?? '', /operations\('[A-Za-z0-9_-]+'\)$/);
  });

  // https://learn.microsoft.com/microsoftteams/manage-resource-accounts ("dissociate the telephone number ... to avoid getting your service number stuck in pending mode")
  test('deleting an account that still holds a number leaves the number stuck pending', async () => {
    const account = await readyAccount('conformance-stuck');
    await client.graph('POST', `${NUMBERS}/assignNumber`, { body: { telephoneNumber: NUMBER, assignmentTargetId: account, numberType: 'callingPlan' } });
    simulator.clock.advance(TEST_DELAYS.numberOperation);
    assert.equal((await client.graph('DELETE', `/v1.0/users/${account}`)).status, 204);
    const stuck = await byNumber(NUMBER);
    assert.notEqual(stuck.activationState, 'activated');
    assert.equal(stuck.assignmentTargetId, account);
  });

  // https://learn.microsoft.com/graph/api/resources/subscribedsku (capabilityStatus) and /graph/api/subscribedsku-list ($select only)
  test('subscribedSkus supports only $select, and reports capabilityStatus with prepaidUnits', async () => {
    const refused = await client.graph('GET', `/v1.0/subscribedSkus?$filter=${encodeURIComponent("skuPartNumber eq 'PHONESYSTEM_VIRTUALUSER'")}`);
    assert.equal(refused.status, 400);
    const skus = await client.graph('GET', '/v1.0/subscribedSkus?$select=skuPartNumber,capabilityStatus,prepaidUnits,consumedUnits');
    assert.equal(skus.status, 200);
    for (const sku of skus.json.value) {
      assert.ok(['Enabled', 'Warning', 'Suspended', 'Deleted', 'LockedOut'].includes(sku.capabilityStatus));
      assert.deepEqual(Object.keys(sku.prepaidUnits).sort(), ['enabled', 'lockedOut', 'suspended', 'warning']);
    }
  });
});

describe('conformance: Graph throttling (identity and access)', () => {
  // https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits (x-ms-resource-unit, x-ms-throttle-limit-percentage)
  test('every answer names its resource-unit cost; past 80% of the budget the limit percentage appears, between 0.8 and 1.8', async () => {
    const simulator = await startSimulator({ throttle: { resourceUnits: 10, windowMs: 10_000 } });
    try {
      const client = new RawClient(simulator);
      const percentages: number[] = [];
      for (let index = 0; index < 5; index += 1) {
        const response = await client.graph('GET', '/v1.0/subscribedSkus');
        assert.equal(response.headers.get('x-ms-resource-unit'), '3', 'subscribedSkus costs 3');
        const header = response.headers.get('x-ms-throttle-limit-percentage');
        if (header !== null) percentages.push(Number(header));
      }
      assert.ok(percentages.length > 0 && percentages.every((value) => value >= 0.8 && value <= 1.8), String(percentages));
    } finally {
      await simulator.close();
    }
  });

  // https://learn.microsoft.com/graph/throttling#sample-response (429, Retry-After, TooManyRequests)
  test('a throttled call is 429 TooManyRequests with Retry-After and the throttle scope', async () => {
    const simulator = await startSimulator({ throttle: { resourceUnits: 3, windowMs: 10_000 } });
    try {
      const client = new RawClient(simulator);
      await client.graph('GET', '/v1.0/subscribedSkus');
      const throttled = await client.graph('GET', '/v1.0/subscribedSkus');
      assert.equal(throttled.status, 429);
      assert.equal(throttled.json.error.code, 'TooManyRequests');
      assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
      assert.match(throttled.headers.get('x-ms-throttle-scope') ?? '', /^Tenant_Application\/ReadWrite\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/);
      assert.equal(throttled.headers.get('x-ms-throttle-information'), 'ResourceUnitLimitExceeded');
    } finally {
      await simulator.close();
    }
  });

  // https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits (write quota: 3,000 requests per 2 min 30 s per app and tenant)
  test('writes count against a write quota of their own: the 3,001st write in 150 s is throttled as WriteLimitExceeded', async () => {
    const simulator = await startSimulator({ throttle: null, writeQuota: { requests: 3000, windowMs: 150_000 } });
    try {
      const client = new RawClient(simulator);
      const id = await createResourceAccount(simulator, 'quota');
      simulator.clock.advance(TEST_DELAYS.replication);
      // The create was the first write.
      let status = 204;
      for (let writes = 1; writes < 3000 && status === 204; writes += 1) {
        status = (await client.graph('PATCH', `/v1.0/users/${id}`, { body: { displayName: `Quota ${writes}` } })).status;
      }
      assert.equal(status, 204, 'the first 3,000 writes pass');
      const over = await client.graph('PATCH', `/v1.0/users/${id}`, { body: { displayName: 'One too many' } });
      assert.equal(over.status, 429);
      assert.equal(over.headers.get('x-ms-throttle-information'), 'WriteLimitExceeded');
      assert.match(over.headers.get('x-ms-throttle-scope') ?? '', /^Tenant_Application\/Write\//);
      assert.equal((await client.graph('GET', `/v1.0/users/${id}`)).status, 200, 'reads go on');
    } finally {
      await simulator.close();
    }
  });
});

describe('conformance: Teams admin application instances (public client code: CIPP)', () => {
  // Public code (KelvinTegelaar/CIPP-API Set-CIPPDBCacheTeamsResourceAccounts.ps1): GET …?pageSize=100[&skipToken=…] → { applicationInstances, skipToken }
  test('the instance list pages with pageSize and skipToken and answers { applicationInstances, skipToken }', async () => {
    const simulator = await startSimulator();
    try {
      const client = new RawClient(simulator);
      for (const name of ['page-1', 'page-2', 'page-3']) await createResourceAccount(simulator, name);
      simulator.clock.advance(TEST_DELAYS.applicationInstanceListing);
      const first = await client.teams('GET', '/Teams.PlatformService/v2/ApplicationInstances?pageSize=2');
      assert.equal(first.status, 200);
      assert.deepEqual(Object.keys(first.json).sort(), ['applicationInstances', 'skipToken']);
      assert.equal(first.json.applicationInstances.length, 2);
      for (const instance of first.json.applicationInstances) {
        for (const field of ['objectId', 'userPrincipalName', 'displayName', 'applicationId']) assert.ok(field in instance, field);
      }
      const second = await client.teams('GET', `/Teams.PlatformService/v2/ApplicationInstances?pageSize=2&skipToken=${encodeURIComponent(first.json.skipToken)}`);
      assert.equal(second.json.applicationInstances.length, 1);
      assert.equal(second.json.skipToken, null);
    } finally {
      await simulator.close();
    }
  });
});
