/**
 * The simulated tenant: directory users, subscriptions, the telephone-number inventory and number
 * operations, with the timing of a real cloud. Nothing here runs on a timer: every background step
 * (replication, license propagation, Teams sync, operation completion) is a timestamp compared with the
 * clock, and due operations run when the next request arrives ({@link TenantState.advance}). That keeps
 * the simulator deterministic under an injected clock and lets a compressed timeScale cost nothing.
 */
import { randomUUID } from 'node:crypto';
import { APPLICATION_INSTANCE_DEPARTMENT, kindForApplicationId } from '../lib/microsoft';
import { isIsoCountryCode, validateUpn } from '../lib/validation';
import type { NumberCapability, NumberSeed, NumberType, SkuDefinition, TeamsFeature, UserSeed } from './catalog';
import { NUMBER_TYPES, SERVICE_NUMBER_CAPABILITIES, catalogSku } from './catalog';
import { GraphApiError, badRequest, resourceNotFound } from './errors';
import { sameId } from './ids';
import type { SimulatorDelays } from './options';

export interface TenantSku {
  definition: SkuDefinition;
  /** `prepaidUnits.enabled`. */
  enabled: number;
  subscriptionIds: string[];
}

export interface LicenseAssignment {
  skuId: string;
  disabledPlans: string[];
  assignedAt: number;
  /** When `provisionedPlans` / licenseDetails turn to Success. */
  provisionedAt: number;
  /** When Teams lists the license's features (after provisioning). */
  teamsSyncedAt: number;
}

export interface DirectoryUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mailNickname: string;
  accountEnabled: boolean;
  department: string | null;
  usageLocation: string | null;
  /** Teams application id for application instances (resource accounts), else null. */
  applicationId: string | null;
  licenses: LicenseAssignment[];
  /** Set by Teams when a number is assigned. */
  enterpriseVoiceEnabled: boolean;
  createdAt: number;
  modifiedAt: number;
  /** Until then Graph answers 404 and Teams does not know the user (eventual consistency). */
  replicatedAt: number;
}

/** The body of assignLicense, validated. */
export interface LicenseChange {
  add: { skuId: string; disabledPlans: string[] }[];
  /** skuIds. */
  remove: string[];
}

export type AssignmentStatus = 'unassigned' | 'userAssigned' | 'conferenceAssigned' | 'voiceApplicationAssigned';
export type AssignmentCategory = 'primary' | 'private' | 'alternate';
export const ASSIGNMENT_CATEGORIES: readonly AssignmentCategory[] = ['primary', 'private', 'alternate'];

export interface TelephoneNumberRecord {
  id: string;
  telephoneNumber: string;
  numberType: NumberType;
  capabilities: NumberCapability[];
  isoCountryCode: string;
  city: string | null;
  assignmentStatus: AssignmentStatus;
  assignmentTargetId: string | null;
  assignmentCategory: AssignmentCategory | null;
  locationId: string | null;
}

export type OperationStatus = 'notStarted' | 'running' | 'succeeded' | 'failed';

export interface NumberOperation {
  id: string;
  kind: 'assign' | 'unassign';
  /** E.164 with "+". */
  telephoneNumber: string;
  numberType: NumberType;
  assignmentTargetId: string | null;
  assignmentCategory: AssignmentCategory;
  locationId: string | null;
  /** Base URL of the request that started it, for `resourceLocation`. */
  baseUrl: string;
  createdAt: number;
  startsAt: number;
  completesAt: number;
  /** Decided when the operation runs, from the tenant's state at `completesAt`. */
  outcome?: { status: 'succeeded' | 'failed'; statusDetail: string | null; numberId: string | null };
}

export interface StateTiming {
  now: () => number;
  /** Draws one background delay, in ms, already multiplied by the time scale. */
  delay: (name: keyof SimulatorDelays) => number;
}

export interface TenantIdentity {
  tenantId: string;
  domains: readonly string[];
}

/** Part of the operation's run time spent in `notStarted`, as a real queue would. */
const QUEUED_FRACTION = 0.2;

export class TenantState {
  readonly users = new Map<string, DirectoryUser>();
  /** By lower-case skuId. */
  readonly skus = new Map<string, TenantSku>();
  /** By E.164 number. */
  readonly numbers = new Map<string, TelephoneNumberRecord>();
  readonly operations = new Map<string, NumberOperation>();

  constructor(
    readonly identity: TenantIdentity,
    private readonly timing: StateTiming,
  ) {}

  private now(): number {
    return this.timing.now();
  }

  /** Runs every operation whose time has come, in completion order, each against the state of its moment. */
  advance(): void {
    const now = this.now();
    const due = [...this.operations.values()]
      .filter((operation) => operation.outcome === undefined && operation.completesAt <= now)
      .sort((a, b) => a.completesAt - b.completesAt);
    for (const operation of due) operation.outcome = this.runOperation(operation);
  }

  findUser(idOrUpn: string): DirectoryUser | undefined {
    const key = idOrUpn.toLowerCase();
    const byId = this.users.get(key);
    if (byId) return byId;
    for (const user of this.users.values()) {
      if (user.userPrincipalName.toLowerCase() === key) return user;
    }
    return undefined;
  }

  isReplicated(user: DirectoryUser, at = this.now()): boolean {
    return at >= user.replicatedAt;
  }

  /** The user as a Graph replica sees it: a user still replicating does not exist yet. */
  requireVisibleUser(idOrUpn: string): DirectoryUser {
    const user = this.findUser(idOrUpn);
    if (!user || !this.isReplicated(user)) throw resourceNotFound(idOrUpn);
    return user;
  }

  isVerifiedDomain(domain: string): boolean {
    return this.identity.domains.includes(domain.toLowerCase());
  }

  /** Creates the disabled directory user behind a Teams application instance (New-CsOnlineApplicationInstance). */
  createApplicationInstance(input: { userPrincipalName: string; displayName: string; applicationId: string }): DirectoryUser {
    return this.addUser({
      userPrincipalName: input.userPrincipalName,
      displayName: input.displayName,
      applicationId: input.applicationId,
    }, { replicated: false });
  }

  /**
   * Adds a directory user. Seeded users (`replicated: true`) look as if created long ago, with their
   * licenses fully provisioned; others go through the replication window.
   */
  addUser(seed: UserSeed, options: { replicated: boolean }): DirectoryUser {
    const upnProblem = validateUpn(seed.userPrincipalName, 'userPrincipalName');
    if (upnProblem) throw badRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.");
    const [localPart = '', domain = ''] = seed.userPrincipalName.split('@');
    if (!this.isVerifiedDomain(domain)) {
      throw badRequest('The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.');
    }
    if (this.findUser(seed.userPrincipalName)) {
      throw new GraphApiError(409, 'Conflict', 'Another object with the same value for property userPrincipalName already exists.', [
        { code: 'ObjectConflict', target: 'userPrincipalName', message: 'Another object with the same value for property userPrincipalName already exists.' },
      ]);
    }
    if (seed.usageLocation !== undefined && !isIsoCountryCode(seed.usageLocation)) {
      throw badRequest("Invalid value specified for property 'usageLocation' of resource 'User'.");
    }
    const skus = (seed.licenses ?? []).map((partNumber) => {
      const sku = [...this.skus.values()].find((s) => s.definition.skuPartNumber.toLowerCase() === partNumber.toLowerCase());
      if (!sku) throw badRequest(`The tenant has no subscription to ${partNumber}; purchase it first.`);
      if (this.consumedUnits(sku.definition.skuId) >= sku.enabled) {
        throw badRequest(`Subscription with SKU ${sku.definition.skuPartNumber} does not have any available licenses.`);
      }
      return sku;
    });

    const now = this.now();
    const longAgo = now - 24 * 60 * 60 * 1000;
    const createdAt = options.replicated ? longAgo : now;
    const user: DirectoryUser = {
      id: randomUUID(),
      userPrincipalName: seed.userPrincipalName,
      displayName: seed.displayName,
      mailNickname: localPart,
      accountEnabled: seed.applicationId === undefined,
      department: seed.applicationId === undefined ? null : APPLICATION_INSTANCE_DEPARTMENT,
      usageLocation: seed.usageLocation ?? null,
      applicationId: seed.applicationId?.toLowerCase() ?? null,
      licenses: skus.map((sku) => ({
        skuId: sku.definition.skuId,
        disabledPlans: [],
        assignedAt: createdAt,
        provisionedAt: createdAt,
        teamsSyncedAt: createdAt,
      })),
      enterpriseVoiceEnabled: false,
      createdAt,
      modifiedAt: createdAt,
      replicatedAt: options.replicated ? createdAt : now + this.timing.delay('replication'),
    };
    this.users.set(user.id, user);
    return user;
  }

  updateUser(idOrUpn: string, patch: Record<string, unknown>): void {
    const user = this.requireVisibleUser(idOrUpn);
    const writable: Record<string, (value: unknown) => void> = {
      usageLocation: (value) => {
        if (typeof value !== 'string' || !isIsoCountryCode(value)) {
          throw badRequest("Invalid value specified for property 'usageLocation' of resource 'User'.");
        }
        user.usageLocation = value;
      },
      displayName: (value) => {
        if (typeof value !== 'string' || value.trim() === '') throw badRequest("Invalid value specified for property 'displayName' of resource 'User'.");
        user.displayName = value;
      },
      accountEnabled: (value) => {
        if (typeof value !== 'boolean') throw badRequest("Invalid value specified for property 'accountEnabled' of resource 'User'.");
        user.accountEnabled = value;
      },
      department: (value) => {
        if (value !== null && typeof value !== 'string') throw badRequest("Invalid value specified for property 'department' of resource 'User'.");
        user.department = value;
      },
    };
    // Validate everything before changing anything: Graph applies a PATCH whole or not at all.
    const unknown = Object.keys(patch).find((name) => !(name in writable));
    if (unknown !== undefined) {
      throw badRequest(`Property '${unknown}' is not writable on type 'microsoft.graph.user' in the tenant simulator (writable: ${Object.keys(writable).join(', ')}).`);
    }
    const before = { ...user };
    try {
      for (const [name, value] of Object.entries(patch)) writable[name]?.(value);
    } catch (error) {
      Object.assign(user, before);
      throw error;
    }
    user.modifiedAt = this.now();
  }

  /** Deletes the user, which frees its license units and releases its numbers. */
  deleteUser(idOrUpn: string): void {
    const user = this.requireVisibleUser(idOrUpn);
    for (const number of this.numbersOf(user.id)) release(number);
    this.users.delete(user.id);
  }

  findSku(skuId: string): TenantSku | undefined {
    return this.skus.get(skuId.toLowerCase());
  }

  consumedUnits(skuId: string): number {
    const key = skuId.toLowerCase();
    let count = 0;
    for (const user of this.users.values()) {
      if (user.licenses.some((license) => license.skuId.toLowerCase() === key)) count += 1;
    }
    return count;
  }

  /** Adds units of a catalog SKU, as an operator's purchase would (a new subscription each time). */
  purchase(skuPartNumber: string, units: number): TenantSku {
    const definition = catalogSku(skuPartNumber);
    if (!definition) throw badRequest(`Unknown SKU part number '${skuPartNumber}'.`);
    const existing = this.findSku(definition.skuId);
    const sku = existing ?? { definition, enabled: 0, subscriptionIds: [] };
    sku.enabled += units;
    sku.subscriptionIds.push(randomUUID());
    this.skus.set(definition.skuId.toLowerCase(), sku);
    return sku;
  }

  assignLicense(idOrUpn: string, { add, remove }: LicenseChange): DirectoryUser {
    const user = this.requireVisibleUser(idOrUpn);

    for (const skuId of remove) {
      if (!this.findSku(skuId)) throw badRequest(`License ${skuId} does not correspond to a valid company License.`);
      if (!user.licenses.some((license) => sameId(license.skuId, skuId))) {
        throw badRequest('User does not have a corresponding license.');
      }
    }
    const newlyAdded: TenantSku[] = [];
    for (const { skuId } of add) {
      const sku = this.findSku(skuId);
      if (!sku) throw badRequest(`License ${skuId} does not correspond to a valid company License.`);
      if (!user.licenses.some((license) => sameId(license.skuId, skuId))) newlyAdded.push(sku);
    }
    if (add.length > 0 && user.usageLocation === null) {
      throw badRequest('License assignment cannot be done for user with invalid usage location.');
    }
    for (const sku of newlyAdded) {
      if (this.consumedUnits(sku.definition.skuId) >= sku.enabled) {
        throw badRequest(`Subscription with SKU ${sku.definition.skuPartNumber} does not have any available licenses.`);
      }
    }

    user.licenses = user.licenses.filter((license) => !remove.some((skuId) => sameId(license.skuId, skuId)));
    const now = this.now();
    for (const { skuId, disabledPlans } of add) {
      const held = user.licenses.find((license) => sameId(license.skuId, skuId));
      const sameDisabledPlans = held !== undefined && held.disabledPlans.length === disabledPlans.length &&
        held.disabledPlans.every((plan) => disabledPlans.some((other) => sameId(plan, other)));
      // Assigning a license the user already holds, unchanged, is a no-op; anything else re-provisions.
      if (held && sameDisabledPlans) continue;
      const provisionedAt = now + this.timing.delay('licensePropagation');
      const assignment: LicenseAssignment = {
        skuId: this.findSku(skuId)?.definition.skuId ?? skuId,
        disabledPlans,
        assignedAt: held?.assignedAt ?? now,
        provisionedAt,
        teamsSyncedAt: provisionedAt + this.timing.delay('teamsSync'),
      };
      user.licenses = held ? user.licenses.map((license) => (license === held ? assignment : license)) : [...user.licenses, assignment];
    }
    user.modifiedAt = now;
    return user;
  }

  /** Teams features of the user's licenses that have reached Teams by `at`. */
  teamsFeatures(user: DirectoryUser, at = this.now()): TeamsFeature[] {
    const features = new Set<TeamsFeature>();
    for (const license of user.licenses) {
      if (at < license.teamsSyncedAt) continue;
      for (const plan of this.findSku(license.skuId)?.definition.servicePlans ?? []) {
        if (plan.teamsFeature && !license.disabledPlans.some((id) => sameId(id, plan.servicePlanId))) features.add(plan.teamsFeature);
      }
    }
    return [...features];
  }

  isResourceAccount(user: DirectoryUser): boolean {
    return user.applicationId !== null && user.department === APPLICATION_INSTANCE_DEPARTMENT &&
      kindForApplicationId(user.applicationId) !== undefined;
  }

  addNumber(seed: NumberSeed): TelephoneNumberRecord {
    if (this.numbers.has(seed.telephoneNumber)) {
      throw new GraphApiError(409, 'Conflict', `Telephone Number '${seed.telephoneNumber}' is already in the tenant.`);
    }
    const record: TelephoneNumberRecord = {
      id: seed.telephoneNumber.slice(1),
      telephoneNumber: seed.telephoneNumber,
      numberType: seed.numberType ?? 'callingPlan',
      capabilities: [...(seed.capabilities ?? SERVICE_NUMBER_CAPABILITIES)],
      isoCountryCode: seed.isoCountryCode,
      city: seed.city ?? null,
      assignmentStatus: 'unassigned',
      assignmentTargetId: null,
      assignmentCategory: null,
      locationId: null,
    };
    this.numbers.set(record.telephoneNumber, record);
    return record;
  }

  findNumber(telephoneNumber: string): TelephoneNumberRecord | undefined {
    const normalized = normalizeTelephoneNumber(telephoneNumber);
    return normalized === undefined ? undefined : this.numbers.get(normalized);
  }

  numbersOf(userId: string): TelephoneNumberRecord[] {
    return [...this.numbers.values()].filter((number) => number.assignmentTargetId === userId);
  }

  /** Accepts an assign or unassign request; the outcome is decided when the operation runs. */
  startNumberOperation(input: Omit<NumberOperation, 'id' | 'createdAt' | 'startsAt' | 'completesAt' | 'outcome'>): NumberOperation {
    const now = this.now();
    const runTime = this.timing.delay('numberOperation');
    const operation: NumberOperation = {
      ...input,
      id: randomUUID(),
      createdAt: now,
      startsAt: now + runTime * QUEUED_FRACTION,
      completesAt: now + runTime,
    };
    this.operations.set(operation.id, operation);
    return operation;
  }

  operationStatus(operation: NumberOperation, at = this.now()): OperationStatus {
    if (operation.outcome) return operation.outcome.status;
    return at < operation.startsAt ? 'notStarted' : 'running';
  }

  private runOperation(operation: NumberOperation): NonNullable<NumberOperation['outcome']> {
    const at = operation.completesAt;
    const { tenantId } = this.identity;
    const number = this.numbers.get(operation.telephoneNumber);
    const failed = (statusDetail: string) => ({ status: 'failed' as const, statusDetail, numberId: number?.id ?? null });
    const succeeded = () => ({ status: 'succeeded' as const, statusDetail: null, numberId: number?.id ?? null });

    // Teams reports a number of another type exactly like a number the tenant does not own (notes 4.5).
    if (!number || number.numberType !== operation.numberType) {
      return failed(`Telephone Number '${operation.telephoneNumber}' is not found from tenant '${tenantId}'`);
    }
    if (operation.kind === 'unassign') {
      // Unassigning a free number leaves it as asked; treated as success so undo steps can be repeated.
      release(number);
      return succeeded();
    }

    const target = operation.assignmentTargetId === null ? undefined : this.findUser(operation.assignmentTargetId);
    if (!target || !this.isReplicated(target, at)) return failed('The server responded with a Request Error, Status: NotFound');
    if (number.assignmentTargetId === target.id) return succeeded();
    if (number.assignmentTargetId !== null) {
      return failed(`Telephone Number '${number.telephoneNumber}' has already been assigned to another user`);
    }
    const resourceAccount = this.isResourceAccount(target);
    const neededCapability: NumberCapability = resourceAccount ? 'voiceApplicationAssignment' : 'userAssignment';
    if (!number.capabilities.includes(neededCapability)) {
      return failed(resourceAccount
        ? `Telephone Number '${number.telephoneNumber}' cannot be assigned to resource account '${target.id}': it is a user (subscriber) number without the VoiceApplicationAssignment capability; use a service number`
        : `Telephone Number '${number.telephoneNumber}' cannot be assigned to user '${target.id}': it is a service number without the UserAssignment capability`);
    }
    const features = this.teamsFeatures(target, at);
    const licensed = resourceAccount
      ? features.includes('PhoneSystemVirtualUser') || features.includes('PhoneSystem')
      : features.includes('PhoneSystem');
    if (!licensed) {
      return failed(`User '${target.id}' lacks appropriate licenses to assign a '${numberTypeLabel(number.numberType)}' number`);
    }
    if (number.numberType === 'callingPlan' && target.usageLocation !== number.isoCountryCode) {
      return failed(`Telephone Number '${number.telephoneNumber}' is a ${number.isoCountryCode} number but the usage location of user '${target.id}' is ${target.usageLocation ?? 'not set'}; Calling Plan numbers must match the user's usage location`);
    }
    const current = this.numbersOf(target.id).find((other) => other.assignmentCategory === operation.assignmentCategory);
    if (current) {
      return failed(`User '${target.id}' already has the ${operation.assignmentCategory} telephone number '${current.telephoneNumber}'; unassign it first`);
    }
    number.assignmentTargetId = target.id;
    number.assignmentStatus = resourceAccount ? 'voiceApplicationAssigned' : 'userAssigned';
    number.assignmentCategory = operation.assignmentCategory;
    number.locationId = operation.locationId;
    target.enterpriseVoiceEnabled = true;
    target.modifiedAt = at;
    return succeeded();
  }
}

function release(number: TelephoneNumberRecord): void {
  number.assignmentStatus = 'unassigned';
  number.assignmentTargetId = null;
  number.assignmentCategory = null;
  number.locationId = null;
}

function numberTypeLabel(numberType: NumberType): string {
  return { callingPlan: 'CallingPlan', directRouting: 'DirectRouting', operatorConnect: 'OperatorConnect' }[numberType];
}

/** "+" is optional on input (Graph accepts both); stored and returned numbers always carry it. */
export function normalizeTelephoneNumber(value: string): string | undefined {
  const match = /^\+?([1-9]\d{6,14})$/.exec(value.trim());
  return match ? `+${match[1]}` : undefined;
}

export function isNumberType(value: unknown): value is NumberType {
  return typeof value === 'string' && (NUMBER_TYPES as readonly string[]).includes(value);
}
