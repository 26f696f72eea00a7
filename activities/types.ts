/**
 * Activity contracts: one input and one output object per activity, so fields can be added without
 * breaking histories. Workflows import this module as types only.
 */
import type { ConfigurationType, ResourceAccountKind } from '../lib/microsoft';
import type { DeletedAccountPolicy } from '../lib/validation';
import type { BatchPlan } from '../workflows/provision-batch/definitions';
import type { FollowRunsInput, FollowRunsOutput, PlanBatchInput, ReadLicenseStockInput, ReadLicenseStockOutput } from './batch';
import type { LicensingActivities } from './licensing/activities';
import type { NotificationActivities } from '../workflows/notification/definitions';

export interface CheckLicenseAvailabilityInput {
  /** The account the license is for; when it already exists and holds the license, none is needed. */
  upn: string;
  /** Licenses the caller needs, before discounting one the account already holds. */
  needed: number;
}
export interface CheckLicenseAvailabilityOutput {
  /** Licenses still needed after discounting the account's own. */
  needed: number;
  skuId: string;
  skuPartNumber: string;
  /** Units that may be assigned: `prepaidUnits.enabled` plus units in a grace period (`warning`). */
  enabled: number;
  /** Of those, units of a subscription in its grace period (Warning): usable until it lapses. */
  warning?: number;
  consumed: number;
  available: number;
  /** The SKU's service plans, as the tenant's subscribedSkus names them; what the propagation wait checks. */
  servicePlanIds?: string[];
}

export interface PreflightInput {
  upn: string;
  kind: ResourceAccountKind;
  usageLocation: string;
  phoneNumber: string;
  numberType: 'callingPlan';
  onDeletedAccount?: DeletedAccountPolicy;
  /** The auto attendant or call queue to associate with, when the request names one. */
  association?: { configurationId: string; configurationType: ConfigurationType };
}
/** One thing that would make the run fail, found before any write; `field` is the request field to change. */
export interface PreflightProblem {
  type: string;
  field: 'upn' | 'kind' | 'usageLocation' | 'phoneNumber' | 'licenses' | 'association';
  message: string;
}
export interface PreflightOutput {
  /** Empty when nothing knowable stands in the way. */
  problems: PreflightProblem[];
  /** The license stock, when the tenant has the subscription. */
  license?: CheckLicenseAvailabilityOutput;
  /** What held the UPN before the run wrote anything: the durable fact that decides what the run owns. */
  account: {
    state: 'absent' | 'resource-account' | 'other-user' | 'deleted';
    accountId?: string;
    kind?: ResourceAccountKind;
    holdsLicense?: boolean;
    policy?: DeletedAccountPolicy;
    /** The existing account's association (configuration id), if it has one. */
    associatedWith?: string;
  };
  /** The number's inventory entry, when found. */
  number?: { numberType: string; isoCountryCode?: string; city?: string; onThisAccount: boolean };
}

export interface CreateResourceAccountInput {
  upn: string;
  displayName: string;
  kind: ResourceAccountKind;
  /** When a deleted account holds the UPN; default: the worker's `DIALTONE_ON_DELETED_ACCOUNT` (stop). */
  onDeletedAccount?: DeletedAccountPolicy;
}
export interface CreateResourceAccountOutput {
  accountId: string;
  /** True when an existing account of the right kind was found and adopted. */
  adopted: boolean;
  /** True when this step restored a deleted account holding the UPN (the run owns it, like one it created). */
  restored?: boolean;
  /** Set when this step permanently deleted a deleted account that held the UPN: its object id. */
  purgedDeletedAccountId?: string;
}

export interface AssignLicenseInput {
  accountId: string;
  usageLocation: string;
  skuId: string;
}
export interface AssignLicenseOutput {
  usageLocationChanged: boolean;
  licenseAdded: boolean;
}

export interface WaitForLicenseInput {
  accountId: string;
  /** The license; absent in runs started before it was passed (then the SKU of the resource-account part number). */
  skuId?: string;
  /** The SKU's service plans from checkLicenseAvailability; read from subscribedSkus when absent. */
  servicePlanIds?: string[];
}
export interface WaitForLicenseOutput {
  /** How many times the account's plans were read before the license showed as provisioned. */
  checks: number;
}

export interface AssignPhoneNumberInput {
  accountId: string;
  phoneNumber: string;
  numberType: 'callingPlan';
}
export interface AssignPhoneNumberOutput {
  /** True when this run put the number on the account (false when it was there already). */
  assigned: boolean;
  /** The number was this account's before the run started. */
  alreadyAssigned: boolean;
  operationId?: string;
  checks: number;
}

export interface AssociateAccountInput {
  accountId: string;
  /** For messages. */
  upn: string;
  configurationId: string;
  configurationType: ConfigurationType;
  callPriority?: number;
}
export interface AssociateAccountOutput {
  /** This call made the association. */
  associated: boolean;
  /** The account was already associated with this configuration. */
  alreadyAssociated: boolean;
}
export interface RemoveAssociationInput {
  accountId: string;
  /** Only an association to this configuration is removed. */
  configurationId: string;
}
export interface RemoveAssociationOutput {
  removed: boolean;
}

export interface UnassignPhoneNumberInput {
  accountId: string;
  phoneNumber: string;
  numberType: 'callingPlan';
}
export interface UnassignPhoneNumberOutput {
  unassigned: boolean;
}

export interface RemoveLicenseInput {
  accountId: string;
  skuId: string;
}
export interface RemoveLicenseOutput {
  removed: boolean;
}

export interface DeleteResourceAccountInput {
  accountId: string;
}
export interface DeleteResourceAccountOutput {
  deleted: boolean;
}

/** Everything the worker registers; workflows use it with `proxyActivities<Activities>`. */
export interface Activities extends LicensingActivities, NotificationActivities {
  planBatch(input: PlanBatchInput): Promise<BatchPlan>;
  readLicenseStock(input: ReadLicenseStockInput): Promise<ReadLicenseStockOutput>;
  followRuns(input: FollowRunsInput): Promise<FollowRunsOutput>;
  preflight(input: PreflightInput): Promise<PreflightOutput>;
  checkLicenseAvailability(input: CheckLicenseAvailabilityInput): Promise<CheckLicenseAvailabilityOutput>;
  createResourceAccount(input: CreateResourceAccountInput): Promise<CreateResourceAccountOutput>;
  assignLicense(input: AssignLicenseInput): Promise<AssignLicenseOutput>;
  waitForLicense(input: WaitForLicenseInput): Promise<WaitForLicenseOutput>;
  assignPhoneNumber(input: AssignPhoneNumberInput): Promise<AssignPhoneNumberOutput>;
  unassignPhoneNumber(input: UnassignPhoneNumberInput): Promise<UnassignPhoneNumberOutput>;
  associateAccount(input: AssociateAccountInput): Promise<AssociateAccountOutput>;
  removeAssociation(input: RemoveAssociationInput): Promise<RemoveAssociationOutput>;
  removeLicense(input: RemoveLicenseInput): Promise<RemoveLicenseOutput>;
  deleteResourceAccount(input: DeleteResourceAccountInput): Promise<DeleteResourceAccountOutput>;
}
