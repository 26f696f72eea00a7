/**
 * How the tenant's records look on the wire: Graph (v1.0) and Teams ConfigAPI shapes, computed for a
 * moment in time because provisioning and Teams visibility depend on it.
 */
import { sameId } from './ids';
import type { DirectoryUser, NumberOperation, TelephoneNumberRecord, TenantSku, TenantState } from './state';

export const TELEPHONE_NUMBER_MANAGEMENT_PATH = '/v1.0/admin/teams/telephoneNumberManagement';

const iso = (epochMs: number): string => new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** prepaidUnits report the subscription's units under the field of its status (licenseUnitsDetail). */
function prepaidUnits(sku: TenantSku): Record<'enabled' | 'lockedOut' | 'suspended' | 'warning', number> {
  const units = { enabled: 0, lockedOut: 0, suspended: 0, warning: 0 };
  const field = ({ Enabled: 'enabled', Warning: 'warning', Suspended: 'suspended', LockedOut: 'lockedOut', Deleted: undefined } as const)[sku.capabilityStatus];
  if (field) units[field] = sku.enabled;
  return units;
}

export function subscribedSkuView(state: TenantState, sku: TenantSku, accountName: string, at: number): Record<string, unknown> {
  const { tenantId } = state.identity;
  return {
    accountId: tenantId,
    accountName,
    appliesTo: 'User',
    capabilityStatus: sku.capabilityStatus,
    consumedUnits: state.reportedConsumedUnits(sku.definition.skuId, at),
    id: `${tenantId}_${sku.definition.skuId}`,
    prepaidUnits: prepaidUnits(sku),
    servicePlans: sku.definition.servicePlans.map((plan) => ({
      servicePlanId: plan.servicePlanId,
      servicePlanName: plan.servicePlanName,
      provisioningStatus: 'Success',
      appliesTo: 'User',
    })),
    skuId: sku.definition.skuId,
    skuPartNumber: sku.definition.skuPartNumber,
    subscriptionIds: sku.subscriptionIds,
  };
}

/** Every user property the simulator models, as Graph names and shapes them. */
export function userProperties(state: TenantState, user: DirectoryUser, at: number): Record<string, unknown> {
  const plans = enabledPlans(state, user);
  return {
    id: user.id,
    businessPhones: [],
    displayName: user.displayName,
    givenName: null,
    jobTitle: null,
    mail: null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: user.userPrincipalName,
    accountEnabled: user.accountEnabled,
    createdDateTime: iso(user.createdAt),
    department: user.department,
    mailNickname: user.mailNickname,
    usageLocation: state.visibleUsageLocation(user, at),
    assignedLicenses: user.licenses.map((license) => ({ disabledPlans: license.disabledPlans, skuId: license.skuId })),
    assignedPlans: plans.map(({ license, plan }) => ({
      assignedDateTime: iso(license.assignedAt),
      capabilityStatus: 'Enabled',
      service: plan.service,
      servicePlanId: plan.servicePlanId,
    })),
    // One entry per plan, so a service repeats when several plans share it, as on Graph.
    provisionedPlans: plans.map(({ license, plan }) => ({
      capabilityStatus: 'Enabled',
      provisioningStatus: at >= license.provisionedAt ? 'Success' : 'PendingProvisioning',
      service: plan.service,
    })),
  };
}

/** Graph's default property set of a user, returned when `$select` is absent. */
export const DEFAULT_USER_PROPERTIES = [
  'businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation',
  'preferredLanguage', 'surname', 'userPrincipalName', 'id',
];

function enabledPlans(state: TenantState, user: DirectoryUser) {
  return user.licenses.flatMap((license) =>
    (state.findSku(license.skuId)?.definition.servicePlans ?? [])
      .filter((plan) => !license.disabledPlans.some((id) => sameId(id, plan.servicePlanId)))
      .map((plan) => ({ license, plan })));
}

export function licenseDetailsView(state: TenantState, user: DirectoryUser, at: number): Record<string, unknown>[] {
  return user.licenses.map((license) => {
    const definition = state.findSku(license.skuId)?.definition;
    return {
      id: Buffer.from(`${user.id}:${license.skuId}`).toString('base64url'),
      skuId: license.skuId,
      skuPartNumber: definition?.skuPartNumber ?? null,
      servicePlans: (definition?.servicePlans ?? []).map((plan) => {
        const disabled = license.disabledPlans.some((id) => sameId(id, plan.servicePlanId));
        return {
          servicePlanId: plan.servicePlanId,
          servicePlanName: plan.servicePlanName,
          provisioningStatus: disabled ? 'Disabled' : at >= license.provisionedAt ? 'Success' : 'PendingProvisioning',
          appliesTo: 'User',
        };
      }),
    };
  });
}

/** A deleted user as `directory/deletedItems` shows it: its properties plus `deletedDateTime`. */
export function deletedUserView(state: TenantState, user: DirectoryUser, at: number): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.user',
    ...userProperties(state, user, at),
    // Entra shows a deleted user's UPN prefixed with its object id (reported for synced users; the
    // simulator assumes it for all, the less convenient reading). Restore brings the UPN back.
    userPrincipalName: `${user.id.replaceAll('-', '')}${user.userPrincipalName}`,
    deletedDateTime: user.deletedAt === null ? null : iso(user.deletedAt),
  };
}

/** `pending`: numbers with an assignment in flight; pass it in when viewing many numbers at once. */
export function numberAssignmentView(
  state: TenantState,
  number: TelephoneNumberRecord,
  pending: ReadonlySet<string> = state.pendingAssignmentNumbers(),
): Record<string, unknown> {
  return {
    id: number.id,
    telephoneNumber: number.telephoneNumber,
    operatorId: null,
    numberType: number.numberType,
    activationState: state.activationState(number, pending),
    capabilities: number.capabilities,
    locationId: number.locationId,
    civicAddressId: null,
    networkSiteId: null,
    assignmentTargetId: number.assignmentTargetId,
    assignmentCategory: number.assignmentCategory,
    portInStatus: 'completed',
    assignmentStatus: number.assignmentStatus,
    isoCountryCode: number.isoCountryCode,
    city: number.city,
    numberSource: 'online',
    supportedCustomerActions: number.assignmentStatus === 'unassigned' ? ['release'] : ['locationUpdate'],
    reverseNumberLookupOptions: [],
  };
}

/**
 * Graph's telephoneNumberLongRunningOperation as the docs' sample shows it: wrapped in `value`, each
 * number entry with only `resourceLocation`, `status` and (when there is one) `statusDetail`.
 */
export function operationView(state: TenantState, operation: NumberOperation, at: number): Record<string, unknown> {
  const status = state.operationStatus(operation, at);
  const numberId = operation.outcome?.numberId ?? state.numbers.get(operation.telephoneNumber)?.id ?? null;
  const statusDetail = operation.outcome?.statusDetail ?? null;
  return {
    value: {
      '@odata.type': '#microsoft.graph.teamsAdministration.telephoneNumberLongRunningOperation',
      id: operation.id,
      createdDateTime: iso(operation.createdAt),
      status,
      numbers: [{
        resourceLocation: numberId === null ? null : `${operation.baseUrl}${TELEPHONE_NUMBER_MANAGEMENT_PATH}/numberAssignments/${numberId}`,
        status,
        ...(statusDetail === null ? {} : { statusDetail }),
      }],
    },
  };
}

export function teamsUserConfigurationView(state: TenantState, user: DirectoryUser, at: number): Record<string, unknown> {
  return {
    id: user.id,
    tenantId: state.identity.tenantId,
    userPrincipalName: user.userPrincipalName,
    accountType: state.isResourceAccount(user) ? 'resourceAccount' : 'user',
    featureTypes: state.teamsFeatures(user, at),
    isEnterpriseVoiceEnabled: user.enterpriseVoiceEnabled,
    telephoneNumbers: state.numbersOf(user.id).map((number) => ({
      telephoneNumber: number.telephoneNumber,
      assignmentCategory: number.assignmentCategory,
    })),
    effectivePolicyAssignments: [],
    createdDateTime: iso(user.createdAt),
    modifiedDateTime: iso(user.modifiedAt),
  };
}

/** Teams ConfigAPI application instance (reference notes 2.2); `phoneNumber` uses the `tel:` URI form the Teams cmdlets show. */
export function applicationInstanceView(state: TenantState, user: DirectoryUser): Record<string, unknown> {
  const primary = state.numbersOf(user.id).find((number) => number.assignmentCategory === 'primary');
  return {
    objectId: user.id,
    userPrincipalName: user.userPrincipalName,
    displayName: user.displayName,
    applicationId: user.applicationId,
    phoneNumber: primary ? `tel:${primary.telephoneNumber}` : null,
  };
}

/** The control API's view of a user: everything, including the simulator's own timing. */
export function userStateView(state: TenantState, user: DirectoryUser, at: number): Record<string, unknown> {
  return {
    ...userProperties(state, user, at),
    usageLocation: user.usageLocation,
    visibleUsageLocation: state.visibleUsageLocation(user, at),
    applicationId: user.applicationId,
    replicated: state.isReplicated(user, at),
    replicatedDateTime: iso(user.replicatedAt),
    listedInTeamsDateTime: iso(user.listedAt),
    deletedDateTime: user.deletedAt === null ? null : iso(user.deletedAt),
    licenses: user.licenses.map((license) => ({
      skuId: license.skuId,
      skuPartNumber: state.findSku(license.skuId)?.definition.skuPartNumber ?? null,
      assignedDateTime: iso(license.assignedAt),
      provisioned: at >= license.provisionedAt,
      provisionedDateTime: iso(license.provisionedAt),
      inTeams: at >= license.teamsSyncedAt,
      teamsSyncedDateTime: iso(license.teamsSyncedAt),
    })),
    teams: teamsUserConfigurationView(state, user, at),
  };
}
