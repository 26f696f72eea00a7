import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SubscribedSku, User } from '@microsoft/microsoft-graph-types';
import {
  APPLICATION_INSTANCE_DEPARTMENT,
  RESOURCE_ACCOUNT_SKU_ID,
  RESOURCE_ACCOUNT_SKU_PART_NUMBER,
  TEAMS_TELEPHONY_SERVICE,
} from '../../lib/microsoft';
import { LOCAL_CLIENT_ID } from '../../lib/local-defaults';
import { LOCAL_APP_GRAPH_ROLES } from '../../simulator/options';
import type { TestSimulator } from './helpers';
import { AUTO_ATTENDANT_APP_ID, DOMAIN, TEST_DELAYS, createResourceAccount, graphFailure, simulatorPerSuite, startSimulator } from './helpers';

const E3_SKU_ID = '6fd2c87f-b296-42f0-b197-1e91e994b900';

describe('directory and licensing', () => {
  let simulator: TestSimulator;
  simulatorPerSuite((started) => (simulator = started));

  const skus = async () => ((await simulator.graph().api('/subscribedSkus').get()) as { value: SubscribedSku[] }).value;
  const resourceSku = async () => (await skus()).find((sku) => sku.skuPartNumber === RESOURCE_ACCOUNT_SKU_PART_NUMBER);

  /** Creates an account, lets it replicate and gives it a usage location that has replicated too. */
  const replicatedAccount = async (name: string, usageLocation = 'US') => {
    const id = await createResourceAccount(simulator, name);
    simulator.clock.advance(TEST_DELAYS.replication);
    await simulator.graph().api(`/users/${id}`).patch({ usageLocation });
    simulator.clock.advance(TEST_DELAYS.usageLocationReplication);
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
    assert.equal(created.status, 200);
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

    // The Teams admin service has no read-your-writes: the instance is listed only after the listing delay.
    const list = async () => ((await (await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances')).json()) as {
      applicationInstances: { objectId: string }[];
    }).applicationInstances.map((entry) => entry.objectId);
    assert.deepEqual(await list(), []);
    assert.equal((await simulator.teams(`/Teams.PlatformService/v2/ApplicationInstances/${instance.objectId}`)).status, 404);
    simulator.clock.advance(TEST_DELAYS.applicationInstanceListing);
    assert.deepEqual(await list(), [instance.objectId]);
    const byId = await simulator.teams(`/Teams.PlatformService/v2/ApplicationInstances/${instance.objectId}`);
    assert.equal(((await byId.json()) as { userPrincipalName: string }).userPrincipalName, `aa-main@${DOMAIN}`);
  });

  test('the Teams admin service has no lookup by UPN: an unknown query parameter is ignored and the first page comes back', async () => {
    for (const name of ['lookup-a', 'lookup-b']) await createResourceAccount(simulator, name);
    simulator.clock.advance(TEST_DELAYS.applicationInstanceListing);
    const response = await simulator.teams(`/Teams.PlatformService/v2/ApplicationInstances?userPrincipalName=${encodeURIComponent(`lookup-b@${DOMAIN}`)}&pageSize=1`);
    const page = (await response.json()) as { applicationInstances: { userPrincipalName: string }[]; skipToken: string | null };
    assert.deepEqual(page.applicationInstances.map((entry) => entry.userPrincipalName), [`lookup-a@${DOMAIN}`]);
    assert.ok(page.skipToken, 'the rest is on later pages');
  });

  test('the Teams admin service refuses requests without the headers its public clients send', async () => {
    const response = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', { headers: {} });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /x-authz-scope/);
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

  test('creating an instance refuses a used UPN (400 ObjectConflict), an unverified domain (400) and an unknown application (400)', async () => {
    const post = (body: unknown) => simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', { method: 'POST', body });
    await createResourceAccount(simulator, 'taken');

    const conflict = await post({ userPrincipalName: `TAKEN@${DOMAIN}`, displayName: 'Again', applicationId: AUTO_ATTENDANT_APP_ID });
    assert.equal(conflict.status, 400);
    const conflictBody = (await conflict.json()) as { error: { code: string; message: string; details: { code: string; target: string }[] } };
    assert.equal(conflictBody.error.code, 'Request_BadRequest');
    assert.equal(conflictBody.error.message, 'Another object with the same value for property userPrincipalName already exists.');
    assert.deepEqual(conflictBody.error.details.map(({ code, target }) => ({ code, target })), [{ code: 'ObjectConflict', target: 'userPrincipalName' }]);

    const seededPerson = await post({ userPrincipalName: `AdeleV@${DOMAIN}`, displayName: 'Adele', applicationId: AUTO_ATTENDANT_APP_ID });
    assert.equal(seededPerson.status, 400, 'any object with the UPN conflicts, not only instances');

    const domain = await post({ userPrincipalName: 'aa@fabrikam.com', displayName: 'Elsewhere', applicationId: AUTO_ATTENDANT_APP_ID });
    assert.equal(domain.status, 400);
    assert.equal(((await domain.json()) as { error: { message: string } }).error.message,
      'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.');

    const app = await post({ userPrincipalName: `other@${DOMAIN}`, displayName: 'Other', applicationId: '00000000-0000-4000-8000-000000000000' });
    assert.equal(app.status, 400);
  });

  test('the Teams instance list pages with skipToken', async () => {
    for (const name of ['page-a', 'page-b', 'page-c']) await createResourceAccount(simulator, name);
    simulator.clock.advance(TEST_DELAYS.applicationInstanceListing);
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
    const read = async () => ((await simulator.graph().api(`/users/${id}`).select('usageLocation').get()) as User).usageLocation;
    assert.equal(await read(), null, 'other replicas still show the old value for a while');
    const early = await graphFailure(assign(id));
    assert.equal(early.message, 'License assignment cannot be done for user with invalid usage location.', 'so does the license service');
    simulator.clock.advance(TEST_DELAYS.usageLocationReplication);
    assert.equal(await read(), 'GB');
    await assign(id);
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
    simulator.clock.advance(TEST_DELAYS.consumedUnits);
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
    assert.equal((await resourceSku())?.consumedUnits, 0, 'subscribedSkus counts the unit only after a lag');
    simulator.clock.advance(TEST_DELAYS.consumedUnits);
    assert.equal((await resourceSku())?.consumedUnits, 1);

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
    assert.equal((await resourceSku())?.consumedUnits, 1, 'a freed unit is still counted for a while');
    simulator.clock.advance(TEST_DELAYS.consumedUnits);
    assert.equal((await resourceSku())?.consumedUnits, 0);

    await assign(id);
    await simulator.graph().api(`/users/${id}`).delete();
    simulator.clock.advance(TEST_DELAYS.consumedUnits);
    assert.equal((await resourceSku())?.consumedUnits, 0, 'a deleted user holds no unit');
    assert.equal((await graphFailure(simulator.graph().api(`/users/${id}`).get())).statusCode, 404);
  });

  test('assignLicense requires both arrays, as Graph does', async () => {
    const id = await replicatedAccount('arrays');
    const error = await graphFailure(simulator.graph().api(`/users/${id}/assignLicense`).post({ addLicenses: [{ skuId: E3_SKU_ID }] }));
    assert.equal(error.statusCode, 400);
    assert.match(error.message, /removeLicenses/);
  });

  test('Teams user configurations do not surface resource accounts; ordinary users come wrapped in value, as documented', async () => {
    const id = await replicatedAccount('teams-sync');
    await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: [...LOCAL_APP_GRAPH_ROLES, 'TeamsUserConfiguration.Read.All'] } });
    const error = await graphFailure(simulator.graph(simulator.credential()).api(`/admin/teams/userConfigurations/${id}`).get());
    assert.equal(error.statusCode, 404);
    const adele = (await simulator.graph().api(`/users/AdeleV@${DOMAIN}`).get()) as User;
    const configuration = (await simulator.graph(simulator.credential()).api(`/admin/teams/userConfigurations/${adele.id}`).get()) as {
      value: { accountType: string; featureTypes: string[] };
    };
    assert.equal(configuration.value.accountType, 'user');
    assert.deepEqual(configuration.value.featureTypes, ['Teams']);
  });

  test('a deleted resource account waits 30 days in deleted items, still blocks its UPN for a new instance, and can be restored or purged', async () => {
    const id = await replicatedAccount('soft-deleted');
    await assign(id);
    await simulator.graph().api(`/users/${id}`).delete();
    assert.equal((await graphFailure(simulator.graph().api(`/users/${id}`).get())).statusCode, 404);

    const deleted = (await simulator.graph().api('/directory/deletedItems/microsoft.graph.user').get()) as {
      value: { id: string; userPrincipalName: string }[];
    };
    const entry = deleted.value.find((item) => item.id === id);
    assert.equal(entry?.userPrincipalName, `${id.replaceAll('-', '')}soft-deleted@${DOMAIN}`, 'deleted items show the UPN behind the object id');

    const again = await simulator.teams('/Teams.PlatformService/v2/ApplicationInstances', {
      method: 'POST', body: { userPrincipalName: `soft-deleted@${DOMAIN}`, displayName: 'Again', applicationId: AUTO_ATTENDANT_APP_ID },
    });
    assert.equal(again.status, 400, 'the deleted instance still holds the UPN in Teams');

    const restored = (await simulator.graph().api(`/directory/deletedItems/${id}/restore`).post({})) as { id: string; userPrincipalName: string };
    assert.equal(restored.userPrincipalName, `soft-deleted@${DOMAIN}`);
    assert.equal((await graphFailure(simulator.graph().api(`/users/${id}`).get())).statusCode, 404, 'a restored object replicates again');
    simulator.clock.advance(TEST_DELAYS.replication);
    const user = (await simulator.graph().api(`/users/${id}`).select('assignedLicenses,usageLocation').get()) as User;
    assert.deepEqual(user.assignedLicenses?.map((license) => license.skuId), [RESOURCE_ACCOUNT_SKU_ID], 'licenses come back with the user');
    assert.equal(user.usageLocation, 'US');

    await simulator.graph().api(`/users/${id}`).delete();
    await simulator.graph().api(`/directory/deletedItems/${id}`).delete();
    assert.equal((await graphFailure(simulator.graph().api(`/directory/deletedItems/${id}`).get())).statusCode, 404);
    await createResourceAccount(simulator, 'soft-deleted');
  });

  test('a new ordinary user may take the UPN of a deleted one; restoring the deleted one then conflicts', async () => {
    const create = (upn: string) => simulator.graph().api('/users').post({
      accountEnabled: true, displayName: 'Pat', mailNickname: 'pat', userPrincipalName: upn, passwordProfile: { password: 'x-Long-Enough-1' },
    }) as Promise<{ id: string }>;
    const first = await create(`pat@${DOMAIN}`);
    simulator.clock.advance(TEST_DELAYS.replication);
    await simulator.graph().api(`/users/${first.id}`).delete();
    const second = await create(`pat@${DOMAIN}`);
    assert.notEqual(second.id, first.id);
    const error = await graphFailure(simulator.graph().api(`/directory/deletedItems/${first.id}/restore`).post({}));
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, 'Request_BadRequest');
  });

  test('restore and permanent delete need User.DeleteRestore.All', async () => {
    const id = await replicatedAccount('needs-permission');
    await simulator.graph().api(`/users/${id}`).delete();
    const roles = LOCAL_APP_GRAPH_ROLES.filter((role) => role !== 'User.DeleteRestore.All');
    await simulator.control(`/apps/${LOCAL_CLIENT_ID}`, { method: 'PUT', body: { graphRoles: roles } });
    const graph = simulator.graph(simulator.credential());
    assert.equal((await graphFailure(graph.api(`/directory/deletedItems/${id}/restore`).post({}))).statusCode, 403);
    assert.equal((await graphFailure(graph.api(`/directory/deletedItems/${id}`).delete())).statusCode, 403);
  });

  test('userPrincipalName in (...) finds up to 15 UPNs in one read, case-insensitively; 16 is a 400 naming the limit', async () => {
    const ids = [await replicatedAccount('in-1'), await replicatedAccount('in-2')];
    const upns = [`in-1@${DOMAIN}`.toUpperCase(), `in-2@${DOMAIN}`, ...Array.from({ length: 13 }, (_, i) => `nobody-${i}@${DOMAIN}`)];
    const list = (names: string[]) => simulator.graph().api('/users')
      .filter(encodeURIComponent(`userPrincipalName in (${names.map((n) => `'${n.replaceAll("'", "''")}'`).join(',')})`)).select(['id']).get() as Promise<{ value: { id: string }[] }>;
    const found = await list(upns);
    assert.deepEqual(found.value.map((u) => u.id).sort(), [...ids].sort());
    const tooMany = await graphFailure(list([...upns, `nobody-13@${DOMAIN}`]));
    assert.equal(tooMany.statusCode, 400);
    assert.equal(tooMany.code, 'Request_UnsupportedQuery');
    assert.match(tooMany.message, /Too many child clauses .*: 16\. Max allowed: 15/);
    // The other clauses of the filter count too.
    const withAnd = await graphFailure(simulator.graph().api('/users')
      .filter(encodeURIComponent(`userPrincipalName in (${upns.map((n) => `'${n}'`).join(',')}) and accountEnabled eq false`)).get());
    assert.equal(withAnd.statusCode, 400);
    assert.match(withAnd.message, /: 16\. Max allowed: 15/);
  });

  test('a subscription that lapses reports its units under its status and refuses new assignments once suspended', async () => {
    const warning = await simulator.control(`/licenses/${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`, { method: 'PUT', body: { capabilityStatus: 'Warning' } });
    assert.equal(warning.status, 200);
    let sku = await resourceSku();
    assert.equal(sku?.capabilityStatus, 'Warning');
    assert.deepEqual(sku?.prepaidUnits, { enabled: 0, lockedOut: 0, suspended: 0, warning: 25 });
    const inGrace = await replicatedAccount('grace');
    await assign(inGrace);

    await simulator.control(`/licenses/${RESOURCE_ACCOUNT_SKU_PART_NUMBER}`, { method: 'PUT', body: { capabilityStatus: 'Suspended' } });
    sku = await resourceSku();
    assert.deepEqual(sku?.prepaidUnits, { enabled: 0, lockedOut: 0, suspended: 25, warning: 0 });
    const suspended = await replicatedAccount('suspended');
    const error = await graphFailure(assign(suspended));
    assert.equal(error.statusCode, 400);
    assert.match(error.message, /does not have any available licenses/);
  });
});

test('deleted users are purged by themselves after 30 days', async () => {
  // Its own simulator: moving the clock a month ahead expires every token a shared one would hold.
  const simulator = await startSimulator();
  try {
    const id = await createResourceAccount(simulator, 'expires');
    simulator.clock.advance(TEST_DELAYS.replication);
    await simulator.graph().api(`/users/${id}`).delete();
    simulator.clock.advance(30 * 24 * 60 * 60 * 1000 - 1);
    const graph = simulator.graph(simulator.credential());
    await graph.api(`/directory/deletedItems/${id}`).get();
    simulator.clock.advance(1);
    assert.equal((await graphFailure(graph.api(`/directory/deletedItems/${id}`).get())).statusCode, 404);
  } finally {
    await simulator.close();
  }
});
