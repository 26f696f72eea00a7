/**
 * Activity contracts: one input and one output object per activity, so fields can be added without
 * breaking histories. Workflows import this module as types only.
 */
import type { ResourceAccountKind } from '../lib/microsoft';

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
  enabled: number;
  consumed: number;
  available: number;
}

export interface CreateResourceAccountInput {
  upn: string;
  displayName: string;
  kind: ResourceAccountKind;
}
export interface CreateResourceAccountOutput {
  accountId: string;
  /** True when an existing account of the right kind was found and adopted. */
  adopted: boolean;
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
export interface Activities {
  checkLicenseAvailability(input: CheckLicenseAvailabilityInput): Promise<CheckLicenseAvailabilityOutput>;
  createResourceAccount(input: CreateResourceAccountInput): Promise<CreateResourceAccountOutput>;
  assignLicense(input: AssignLicenseInput): Promise<AssignLicenseOutput>;
  waitForLicense(input: WaitForLicenseInput): Promise<WaitForLicenseOutput>;
  assignPhoneNumber(input: AssignPhoneNumberInput): Promise<AssignPhoneNumberOutput>;
  unassignPhoneNumber(input: UnassignPhoneNumberInput): Promise<UnassignPhoneNumberOutput>;
  removeLicense(input: RemoveLicenseInput): Promise<RemoveLicenseOutput>;
  deleteResourceAccount(input: DeleteResourceAccountInput): Promise<DeleteResourceAccountOutput>;
}
