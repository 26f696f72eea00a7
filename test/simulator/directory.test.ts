import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SubscribedSku, User } from '@microsoft/microsoft-graph-types';
import {
  APPLICATION_INSTANCE_DEPARTMENT,
  RESOURCE_ACCOUNT_SKU_ID,
  RESOURCE_ACCOUNT_SKU_PART_NUMBER,
  TEAMS_TELEPHONY_SERVICE,
} from '../../lib/microsoft';
import type { TestSimulator } from './helpers';
import { AUTO_ATTENDANT_APP_ID, DOMAIN, TEST_DELAYS, createResourceAccount, graphFailure, simulatorPerSuite } from './helpers';

const E3_SKU_ID = '6fd2c87f-b296-42f0-b197-1e91e994b900';

describe('directory and licensing', () => {
  let simulator: TestSimulator;
  simulatorPerSuite((started) => (simulator = started));

  const skus = async () => ((await simulator.graph().api('/subscribedSkus').get()) as { value: SubscribedSku[] }).value;
  const resourceSku = async () => (await skus()).find((sku) => sku.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER);

  /** Creates an account, lets it replicate and gives it a usage location. */
  const replicatedAccount = async (name: string, usageLocation = 'US') => {
    const id = await createResourceAccount(simulator, name);
    simulator.clock.advance(TEST_DELAYS.replication);
    await simulator.graph().api(`/users/${id}`).patch({ usageLocation });
    return id;
  };
  const assign = (id: string, skuId = RESOURCE_ACCOUNT_SKU_ID) =>
    simulator.graph().api(`/users/${id}/assignLicense`).post({ addLicenses: [{ skuId, disabledPlans: [] }], removeLicenses: [] });

  test('subscribedSkus lists the resource-account SKU with 25 prepaid units and an unrelated E3 subscription', async () => {
    const all = await skus();
    const resource = all.find((sku) => sku.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER);
    assert.ok(resource);
    assert.equal(resource.skuId, RESOURCE_ACCOUNT_SKU_ID);
    assert.deepEqual(resource.prepaidUnits, { enabled: 25, lockedOut: 0, suspended: 0, warning: 0 });
    assert.equal(resource.consumedUnits, 0);
    assert.equal(resource.servicePlans?.[0]?.servicePlanName, 'MCOEV_VIRTUALUSER');
    assert.match(resource.id ?? '', /^[0-9a-f-]{36}_440eaaa8-b3e0-484b-a8be-62870b9ba70a$/);
    const e3 = all.find((sku) => sku.skuPartNumber === 'ENTERPRISEPACK');
    assert.equal(e3?.consumedUnits, 2, 'the two seeded people hold E3');
  });

  test('a Teams application instance is a disabled user in the application-instance department, visible only after replication', async () => {
    const created = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', {
      method: 'POST',
      body: { userPrincipalName: `aa-main@${DOMAIN}`, displayName: 'Main line', applicationId: AUTO_ATTENDANT_APP_ID },
    });
    assert.equal(created.status, 201);
    const instance = (await created.json()) as { objectId: string; applicationId: string; phoneNumber: string | null };
    assert.equal(instance.applicationId, AUTO_ATTENDANT_APP_ID);
    assert.equal(instance.phoneNumber, null);

    const tooEarly = await graphFailure(simulator.graph().api(`/users/${instance.objectId}`).get());
    assert.equal(tooEarly.statusCode, 404);
    assert.equal(tooEarly.code, 'Request_ResourceNotFound');
    assert.equal(tooEarly.message, `Resource '${instance.objectId}' does not exist or one of its queried reference-property objects are not present.`);
    const patchTooEarly = await graphFailure(simulator.graph().api(`/users/${instance.objectId}`).patch({ usageLocation: 'US' }));
    assert.equal(patchTooEarly.statusCode, 404);

    simulator.clock.advance(TEST_DELAYS.replication);
    const user = (await simulator.graph().api(`/users/${instance.objectId}`)
      .select(['id', 'accountEnabled', 'department', 'usageLocation', 'userPrincipalName']).get()) as User;
    assert.equal(user.accountEnabled, false);
    assert.equal(user.department, APPLICATION_INSTANCE_DEPARTMENT);
    assert.equal(user.usageLocation, null);
    assert.equal(user.userPrincipalName, `aa-main@${DOMAIN}`);

    const byUpn = await simulator.teams(`/Teams.PlatformService/v2/ApplicationInstances?userPrincipalName=${encodeURIComponent(`AA-Main@${DOMAIN}`)}`);
    const found = (await byUpn.json()) as { applicationInstances: { objectId: string }[] };
    assert.deepEqual(found.applicationInstances.map((entry) => entry.objectId), [instance.objectId]);
    const byId = await simulator.teams(`/Teams.PlatformService/v2/ApplicationInstances/${instance.objectId}`);
    assert.equal(((await byId.json()) as { userPrincipalName: string }).userPrincipalName, `aa-main@${DOMAIN}`);
  });

  test('without $select a user has Graph\'s default properties only; an unknown $select property is a 400', async () => {
    const id = await replicatedAccount('defaults');
    const user = (await simulator.graph().api(`/users/${id}`).get()) as Record<string, unknown>;
    assert.equal(user.id, id);
    assert.ok('displayName' in user && 'userPrincipalName' in user);
    for (const hidden of ['usageLocation', 'assignedPlans', 'accountEnabled', 'department']) assert.ok(!(hidden in user), hidden);
    const error = await graphFailure(simulator.graph().api(`/users/${id}`).select('id,favouriteColour').get());
    assert.equal(error.statusCode, 400);
  });

  test('creating an instance refuses a used UPN (409), an unverified domain (400) and an unknown application (400)', async () => {
    const post = (body: unknown) => simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', { method: 'POST', body });
    await createResourceAccount(simulator, 'taken');

    const conflict = await post({ userPrincipalName: `TAKEN@${DOMAIN}`, displayName: 'Again', applicationId: AUTO_ATTENDANT_APP_ID });
    assert.equal(conflict.status, 409);
    const conflictBody = (await conflict.json()) as { error: { code: string; message: string } };
    assert.equal(conflictBody.error.code, 'Conflict');
    assert.equal(conflictBody.error.message, 'Another object with the same value for property userPrincipalName already exists.');

    const seededPerson = await post({ userPrincipalName: `AdeleV@${DOMAIN}`, displayName: 'Adele', applicationId: AUTO_ATTENDANT_APP_ID });
    assert.equal(seededPerson.status, 409, 'any object with the UPN conflicts, not only instances');

    const domain = await post({ userPrincipalName: 'aa@fabrikam.com', displayName: 'Elsewhere', applicationId: AUTO_ATTENDANT_APP_ID });
    assert.equal(domain.status, 400);
    assert.equal(((await domain.json()) as { error: { message: string } }).error.message,
      'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.');

    const app = await post({ userPrincipalName: `other@${DOMAIN}`, displayName: 'Other', applicationId: '00000000-0000-4000-8000-000000000000' });
    assert.equal(app.status, 400);
  });

  test('the Teams instance list pages with skipToken', async () => {
    for (const name of ['page-a', 'page-b', 'page-c']) await createResourceAccount(simulator, name);
    const first = (await (await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances?pageSize=2')).json()) as {
      applicationInstances: { userPrincipalName: string }[]; skipToken: string | null;
    };
    assert.equal(first.applicationInstances.length, 2);
    assert.ok(first.skipToken);
    const second = (await (await simulator.teams(
      `/Teams.PlatformService/v2/ApplicationInstances?pageSize=2&skipToken=${encodeURIComponent(first.skipToken)}`)).json()) as {
      applicationInstances: { userPrincipalName: string }[]; skipToken: string | null;
    };
    assert.deepEqual([...first.applicationInstances, ...second.applicationInstances].map((entry) => entry.userPrincipalName),
      ['page-a', 'page-b', 'page-c'].map((name) => `${name}@${DOMAIN}`));
    assert.equal(second.skipToken, null);
  });

  test('PATCH validates usageLocation and names the property', async () => {
    const id = await createResourceAccount(simulator, 'usage');
    simulator.clock.advance(TEST_DELAYS.replication);
    const error = await graphFailure(simulator.graph().api(`/users/${id}`).patch({ usageLocation: 'XX' }));
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, 'Request_BadRequest');
    assert.match(error.message, /usageLocation/);
    await simulator.graph().api(`/users/${id}`).patch({ usageLocation: 'GB' });
    const user = (await simulator.graph().api(`/users/${id}`).select('usageLocation').get()) as User;
    assert.equal(user.usageLocation, 'GB');
  });

  test('assignLicense without a usage location fails with Microsoft\'s message', async () => {
    const id = await createResourceAccount(simulator, 'no-location');
    simulator.clock.advance(TEST_DELAYS.replication);
    const error = await graphFailure(assign(id));
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, 'Request_BadRequest');
    assert.equal(error.message, 'License assignment cannot be done for user with invalid usage location.');
  });

  test('assignLicense refuses a SKU the tenant does not have', async () => {
    const id = await replicatedAccount('unknown-sku');
    const missingSku = 'e43b5b99-8dfb-405f-9987-dc307f34bcbd';
    const error = await graphFailure(assign(id, missingSku));
    assert.equal(error.statusCode, 400);
    assert.equal(error.message, `License ${missingSku} does not correspond to a valid company License.`);
  });

  test('when every unit is used, assignLicense fails until an operator buys more', async () => {
    await simulator.control('/seed', { method: 'POST', body: {} });
    const purchase = async (units: number) => simulator.control('/licenses/purchase', { method: 'POST', body: { skuPartNumber: 'MCOEV', units } });
    assert.equal((await purchase(1)).status, 200);
    const first = await replicatedAccount('first');
    const second = await replicatedAccount('second');
    const mcoev = 'e43b5b99-8dfb-405f-9987-dc307f34bcbd';
    await assign(first, mcoev);
    const error = await graphFailure(assign(second, mcoev));
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, 'Request_BadRequest');
    assert.equal(error.message, 'Subscription with SKU MCOEV does not have any available licenses.');

    await purchase(1);
    await assign(second, mcoev);
    const sku = (await skus()).find((entry) => entry.skuPartNumber === 'MCOEV');
    assert.equal(sku?.consumedUnits, 2);
    assert.equal(sku?.prepaidUnits?.enabled, 2);
  });

  test('an assigned license is Enabled at once and provisioned only after the propagation delay', async () => {
    const id = await replicatedAccount('propagation');
    const response = (await assign(id)) as User;
    assert.equal(response.id, id);

    const read = async () => (await simulator.graph().api(`/users/${id}`)
      .select('assignedLicenses,assignedPlans,provisionedPlans').get()) as User;
    const pending = await read();
    assert.deepEqual(pending.assignedLicenses, [{ skuId: RESOURCE_ACCOUNT_SKU_ID, disabledPlans: [] }]);
    assert.equal(pending.assignedPlans?.[0]?.capabilityStatus, 'Enabled');
    assert.equal(pending.assignedPlans?.[0]?.servicePlanId, 'f47330e9-c134-43b3-9993-e7f004506889');
    assert.deepEqual(pending.provisionedPlans, [{ capabilityStatus: 'Enabled', provisioningStatus: 'PendingProvisioning', service: TEAMS_TELEPHONY_SERVICE }]);
    const details = (await simulator.graph().api(`/users/${id}/licenseDetails`).get()) as { value: { skuPartNumber: string; servicePlans: { provisioningStatus: string }[] }[] };
    assert.equal(details.value[0]?.skuPartNumber, RESOURCE_ACCOUNT_SKU_PART_NUMBER);
    assert.equal(details.value[0]?.servicePlans[0]?.provisioningStatus, 'PendingProvisioning');
    assert.equal((await resourceSku())?.consumedUnits, 1, 'a unit is consumed as soon as the license is assigned');

    simulator.clock.advance(TEST_DELAYS.licensePropagation);
    assert.equal((await read()).provisionedPlans?.[0]?.provisioningStatus, 'Success');
    const later = (await simulator.graph().api(`/users/${id}/licenseDetails`).get()) as typeof details;
    assert.equal(later.value[0]?.servicePlans[0]?.provisioningStatus, 'Success');
  });

  test('assigning a license the user holds is a no-op; removing and deleting free the unit', async () => {
    const id = await replicatedAccount('idempotent');
    await assign(id);
    simulator.clock.advance(TEST_DELAYS.licensePropagation);
    await assign(id);
    const user = (await simulator.graph().api(`/users/${id}`).select('assignedLicenses,provisionedPlans').get()) as User;
    assert.equal(user.assignedLicenses?.length, 1);
    assert.equal(user.provisionedPlans?.[0]?.provisioningStatus, 'Success', 'a repeated assignment does not restart provisioning');
    assert.equal((await resourceSku())?.consumedUnits, 1);

    await simulator.graph().api(`/users/${id}/assignLicense`).post({ addLicenses: [], removeLicenses: [RESOURCE_ACCOUNT_SKU_ID] });
    const removed = (await simulator.graph().api(`/users/${id}`).select('assignedLicenses,assignedPlans,provisionedPlans').get()) as User;
    assert.deepEqual([removed.assignedLicenses, removed.assignedPlans, removed.provisionedPlans], [[], [], []]);
    assert.equal((await resourceSku())?.consumedUnits, 0);

    await assign(id);
    await simulator.graph().api(`/users/${id}`).delete();
    assert.equal((await resourceSku())?.consumedUnits, 0);
    assert.equal((await graphFailure(simulator.graph().api(`/users/${id}`).get())).statusCode, 404);
  });

  test('assignLicense requires both arrays, as Graph does', async () => {
    const id = await replicatedAccount('arrays');
    const error = await graphFailure(simulator.graph().api(`/users/${id}/assignLicense`).post({ addLicenses: [{ skuId: E3_SKU_ID }] }));
    assert.equal(error.statusCode, 400);
    assert.match(error.message, /removeLicenses/);
  });

  test('Teams lists PhoneSystemVirtualUser only after provisioning and the Teams sync', async () => {
    const id = await replicatedAccount('teams-sync');
    const configuration = async () => (await simulator.graph().api(`/admin/teams/userConfigurations/${id}`).get()) as {
      accountType: string; featureTypes: string[]; telephoneNumbers: unknown[];
    };
    assert.equal((await configuration()).accountType, 'resourceAccount');
    await assign(id);
    simulator.clock.advance(TEST_DELAYS.licensePropagation);
    assert.deepEqual((await configuration()).featureTypes, [], 'provisioned but not yet in Teams');
    simulator.clock.advance(TEST_DELAYS.teamsSync);
    assert.deepEqual((await configuration()).featureTypes, ['PhoneSystemVirtualUser']);
  });
});
