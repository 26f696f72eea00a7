/** Route templates for the throttled-calls metric: the code's routes, never an id, UPN or number. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { routeTemplate } from '../../activities/metrics';

describe('routeTemplate', () => {
  const cases: Array<[string, string]> = [
    ['https://graph.microsoft.com/v1.0/users/8f3c2a9e-1b7d-4c55-9a0e-2f6b1d3c4e5f/assignLicense', '/v1.0/users/{id}/assignLicense'],
    ['https://graph.microsoft.com/v1.0/users/aa-main%40contoso.onmicrosoft.com?$select=id,assignedLicenses', '/v1.0/users/{id}'],
    ["https://graph.microsoft.com/v1.0/users('aa-main@contoso.onmicrosoft.com')", '/v1.0/users({id})'],
    ['https://graph.microsoft.com/v1.0/subscribedSkus', '/v1.0/subscribedSkus'],
    ['https://graph.microsoft.com/v1.0/directory/deletedItems/microsoft.graph.user?$filter=x', '/v1.0/directory/deletedItems/microsoft.graph.user'],
    ['https://graph.microsoft.com/v1.0/admin/teams/telephoneNumberManagement/operations/0c6f7d2e-aaaa-bbbb-cccc-123456789012', '/v1.0/admin/teams/telephoneNumberManagement/operations/{id}'],
    ['/Teams.PlatformService/v2/ApplicationInstances?pageSize=1', '/Teams.PlatformService/v2/ApplicationInstances'],
    ['/v1/customers/3f0c6a4e-0000-4000-8000-000000000001/subscriptions/ABC123', '/v1/customers/{id}/subscriptions/{id}'],
    ['/v1/products/CFQ7TTC0LH0R/skus/0001/availabilities?country=US', '/v1/products/{id}/skus/{id}/availabilities'],
    ['/numbers/+12065550100', '/numbers/{id}'],
    ['/users/%E0%A4%A', '/users/{id}'],
  ];
  for (const [url, template] of cases) {
    test(`${url} → ${template}`, () => {
      assert.equal(routeTemplate(url), template);
    });
  }
});
