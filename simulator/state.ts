/**
 * The simulated tenant: directory users (active and soft-deleted), subscriptions, the telephone-number
 * inventory and number operations, with the timing of a real cloud. Nothing here runs on a timer: every
 * background step (replication, license propagation, Teams sync, operation completion, the purge of
 * deleted users) is a timestamp compared with the clock, and due work runs when the next request
 * arrives ({@link TenantState.advance}). That keeps the simulator deterministic under an injected clock
 * and lets a compressed timeScale cost nothing.
 */
import { randomUUID } from 'node:crypto';
import { APPLICATION_INSTANCE_DEPARTMENT, kindForApplicationId } from '../lib/microsoft';
import { isIsoCountryCode, validateUpn } from '../lib/validation';
import type { CapabilityStatus, NumberCapability, NumberSeed, NumberType, SkuDefinition, TeamsFeature, UserSeed, VoiceAppSeed } from './catalog';
import { NUMBER_TYPES, SERVICE_NUMBER_CAPABILITIES, catalogSku } from './catalog';
import { GraphApiError, badRequest, resourceNotFound } from './errors';
import { sameId } from './ids';
import type { SimulatorDelays } from './options';

export interface TenantSku {
  definition: SkuDefinition;
  /** Units of the subscriptions; `prepaidUnits` reports them under the field of `capabilityStatus`. */
  enabled: number;
  subscriptionIds: string[];
  capabilityStatus: CapabilityStatus;
}

export interface LicenseAssignment {
  skuId: string;
  disabledPlans: string[];
  assignedAt: number;
  /** When `provisionedPlans` / licenseDetails turn to Success. */
  provisionedAt: number;
  /** When Teams lists the license's features (after provisioning). */
  teamsSyncedAt: number;
  /** When `subscribedSkus.consumedUnits` starts counting this assignment. */
  countedAt: number;
}

export interface DirectoryUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mailNickname: string;
  accountEnabled: boolean;
  department: string | null;
  /** The value on the primary replica (what the last write set). */
  usageLocation: string | null;
  /** What other replicas still show until {@link usageLocationVisibleAt}. */
  previousUsageLocation: string | null;
  usageLocationVisibleAt: number;
  /** Teams application id for application instances (resource accounts), else null. */
  applicationId: string | null;
  licenses: LicenseAssignment[];
  /** Set by Teams when a number is assigned. */
  enterpriseVoiceEnabled: boolean;
  createdAt: number;
  modifiedAt: number;
  /** Until then Graph answers 404 and Teams does not know the user (eventual consistency). */
  replicatedAt: number;
  /** Until then the Teams admin service neither lists nor finds the application instance. */
  listedAt: number;
  /** Set while the user is soft-deleted (in `directory/deletedItems`); null when active. */
  deletedAt: number | null;
}

/** The body of assignLicense, validated. */
export interface LicenseChange {
  add: { skuId: string; disabledPlans: string[] }[];
  /** skuIds. */
  remove: string[];
}

/** A unit that left a user but that `consumedUnits` still counts until `until`. */
export interface ReleasedUnit {
  skuId: string;
  until: number;
}

export type AssignmentStatus = 'unassigned' | 'userAssigned' | 'conferenceAssigned' | 'voiceApplicationAssigned';
export type AssignmentCategory = 'primary' | 'private' | 'alternate';
export const ASSIGNMENT_CATEGORIES: readonly AssignmentCategory[] = ['primary', 'private', 'alternate'];
export type ActivationState = 'activated' | 'assignmentPending' | 'assignmentFailed' | 'updatePending' | 'updateFailed';
/** The activation states a number keeps until something changes them (the control API, an unassignment). */
export type HeldActivationState = 'assignmentFailed' | 'updatePending' | 'updateFailed';
export const HELD_ACTIVATION_STATES: readonly HeldActivationState[] = ['assignmentFailed', 'updatePending', 'updateFailed'];

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
  /**
   * Set when the account holding the number was deleted before the number was unassigned: Teams leaves
   * the number "stuck in pending mode" (manage-resource-accounts). Only `POST /_simulator/numbers/{n}/release`
   * (Microsoft support, in real life) frees it.
   */
  stuckSince: number | null;
  /**
   * A failed or pending activation the number keeps (`null`: activated, unless an assignment is in
   * flight or the number is stuck). Microsoft documents these values of `activationState`, not what
   * leads to them; the control API sets them, and an armed {@link failNextActivation} sets
   * `assignmentFailed`. An unassignment clears it.
   */
  heldActivation: HeldActivationState | null;
  /** The next assignment of this number that succeeds leaves it on the account with `assignmentFailed`. */
  failNextActivation: boolean;
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
/** Deleted users stay restorable for 30 days, then are deleted permanently (Graph: delete user). */
export const DELETED_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Failure texts of number operations. Graph documents none (`statusDetail` is "the asynchronous
 * operation details"); the only known texts come from the PowerShell cmdlet. These are invented on
 * purpose, worded unlike the cmdlet's, so a client that matches texts fails here as it would on Graph.
 */
export const NUMBER_OPERATION_FAILURES = {
  numberUnavailable: 'The telephone number is not available for this operation.',
  targetUnresolved: (target: string) => `The assignment target '${target}' could not be resolved.`,
  targetNotEligible: (target: string) => `The assignment target '${target}' is not eligible for this telephone number.`,
  capabilityMismatch: 'The telephone number does not support assignment to this kind of target.',
  countryMismatch: "The telephone number's country does not match the usage location of the assignment target.",
  categoryOccupied: 'The assignment target already holds a telephone number in this assignment category.',
  pending: 'The telephone number has a pending operation.',
} as const;

/** base64url without padding, the form of Graph's numberAssignment and operation ids. */
function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** A numberAssignment id as Graph's samples show it: base64url of `<GUID>|<+E.164>`. */
export function numberAssignmentId(telephoneNumber: string): string {
  return base64url(`${randomUUID()}|${telephoneNumber}`);
}

/** An operation id as Graph's samples show it: base64url of `Assignment|<GUID>` or `Unassignment|<GUID>`. */
function operationId(kind: NumberOperation['kind']): string {
  return base64url(`${kind === 'assign' ? 'Assignment' : 'Unassignment'}|${randomUUID()}`);
}

const conflict = (): GraphApiError =>
  new GraphApiError(400, 'Request_BadRequest', 'Another object with the same value for property userPrincipalName already exists.', [
    { code: 'ObjectConflict', target: 'userPrincipalName', message: 'Another object with the same value for property userPrincipalName already exists.' },
  ]);

/** A resource account's association with an auto attendant or call queue. */
export interface AssociationRecord {
  objectId: string;
  configurationId: string;
  configurationType: VoiceAppSeed['configurationType'];
  callPriority: number;
  createdAt: number;
}

export class TenantState {
  /** Active and soft-deleted users, by lower-case object id. */
  readonly users = new Map<string, DirectoryUser>();
  /** By lower-case skuId. */
  readonly skus = new Map<string, TenantSku>();
  /** By E.164 number. */
  readonly numbers = new Map<string, TelephoneNumberRecord>();
  readonly operations = new Map<string, NumberOperation>();
  /** Units still counted by `consumedUnits` after they were freed. */
  releasedUnits: ReleasedUnit[] = [];
  /** Auto attendants and call queues, by lower-case identity. */
  readonly voiceApps = new Map<string, VoiceAppSeed>();
  /** Associations, by the resource account's lower-case object id. */
  readonly associations = new Map<string, AssociationRecord>();

  constructor(
    readonly identity: TenantIdentity,
    private readonly timing: StateTiming,
  ) {}

  private now(): number {
    return this.timing.now();
  }

  /**
   * Runs every operation whose time has come, in completion order, each against the state of its
   * moment; deletes users whose 30 days in deleted items are over; forgets units no longer counted.
   */
  advance(): void {
    const now = this.now();
    const due = [...this.operations.values()]
      .filter((operation) => operation.outcome === undefined && operation.completesAt <= now)
      .sort((a, b) => a.completesAt - b.completesAt);
    for (const operation of due) operation.outcome = this.runOperation(operation);
    for (const user of this.users.values()) {
      if (user.deletedAt !== null && user.deletedAt + DELETED_RETENTION_MS <= now) this.users.delete(user.id);
    }
    this.releasedUnits = this.releasedUnits.filter((unit) => unit.until > now);
  }

  /** An active (not deleted) user by object id or UPN. */
  findUser(idOrUpn: string): DirectoryUser | undefined {
    const key = idOrUpn.toLowerCase();
    const byId = this.users.get(key);
    if (byId) return byId.deletedAt === null ? byId : undefined;
    for (const user of this.users.values()) {
      if (user.deletedAt === null && user.userPrincipalName.toLowerCase() === key) return user;
    }
    return undefined;
  }

  /** Soft-deleted users, oldest deletion first. */
  deletedUsers(): DirectoryUser[] {
    return [...this.users.values()].filter((user) => user.deletedAt !== null).sort((a, b) => (a.deletedAt ?? 0) - (b.deletedAt ?? 0));
  }

  findDeletedUser(id: string): DirectoryUser | undefined {
    const user = this.users.get(id.toLowerCase());
    return user?.deletedAt === null ? undefined : user;
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

  /** Users a Graph list shows now: active and replicated, in creation order. */
  visibleUsers(): DirectoryUser[] {
    const now = this.now();
    return [...this.users.values()].filter((user) => user.deletedAt === null && this.isReplicated(user, now));
  }

  /** The usage location replicas show at `at` (the primary's value once the change has replicated). */
  visibleUsageLocation(user: DirectoryUser, at = this.now()): string | null {
    return at >= user.usageLocationVisibleAt ? user.usageLocation : user.previousUsageLocation;
  }

  isVerifiedDomain(domain: string): boolean {
    return this.identity.domains.includes(domain.toLowerCase());
  }

  /** Application instances the Teams admin service lists now: active, past the listing delay, in creation order. */
  listedApplicationInstances(): DirectoryUser[] {
    const now = this.now();
    return [...this.users.values()].filter((user) => user.applicationId !== null && user.deletedAt === null && now >= user.listedAt);
  }

  /**
   * Creates the disabled directory user behind a Teams application instance (New-CsOnlineApplicationInstance).
   * Unlike Graph's user creation, a soft-deleted application instance still blocks its UPN here: the
   * instance's SIP address stays in Teams until the object is purged. Microsoft documents neither way;
   * this is the least convenient plausible reading (simulator README).
   */
  createApplicationInstance(input: { userPrincipalName: string; displayName: string; applicationId: string }): DirectoryUser {
    const upn = input.userPrincipalName.toLowerCase();
    if (this.deletedUsers().some((user) => user.applicationId !== null && user.userPrincipalName.toLowerCase() === upn)) throw conflict();
    return this.addUser({
      userPrincipalName: input.userPrincipalName,
      displayName: input.displayName,
      applicationId: input.applicationId,
    }, { replicated: false });
  }

  /**
   * Adds a directory user. Seeded users (`replicated: true`) look as if created long ago, with their
   * licenses fully provisioned; others go through the replication window. A soft-deleted user does not
   * hold its UPN against a new user ("Restore a user": the conflict appears only when restoring).
   */
  addUser(seed: UserSeed, options: { replicated: boolean }): DirectoryUser {
    const upnProblem = validateUpn(seed.userPrincipalName, 'userPrincipalName');
    if (upnProblem) throw badRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.");
    const [localPart = '', domain = ''] = seed.userPrincipalName.split('@');
    if (!this.isVerifiedDomain(domain)) {
      throw badRequest('The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.');
    }
    if (this.findUser(seed.userPrincipalName)) throw conflict();
    if (seed.usageLocation !== undefined && !isIsoCountryCode(seed.usageLocation)) {
      throw badRequest("Invalid value specified for property 'usageLocation' of resource 'User'.");
    }
    const skus = (seed.licenses ?? []).map((partNumber) => {
      const sku = [...this.skus.values()].find((s) => s.definition.skuPartNumber.toLowerCase() === partNumber.toLowerCase());
      if (!sku) throw badRequest(`The tenant has no subscription to ${partNumber}; purchase it first.`);
      if (this.consumedUnits(sku.definition.skuId) >= assignableUnits(sku)) throw noAvailableLicenses(sku);
      return sku;
    });

    const now = this.now();
    const longAgo = now - 24 * 60 * 60 * 1000;
    const createdAt = options.replicated ? longAgo : now;
    const replicatedAt = options.replicated ? createdAt : now + this.timing.delay('replication');
    const user: DirectoryUser = {
      id: randomUUID(),
      userPrincipalName: seed.userPrincipalName,
      displayName: seed.displayName,
      mailNickname: localPart,
      accountEnabled: seed.applicationId === undefined,
      department: seed.applicationId === undefined ? null : APPLICATION_INSTANCE_DEPARTMENT,
      usageLocation: seed.usageLocation ?? null,
      previousUsageLocation: seed.usageLocation ?? null,
      usageLocationVisibleAt: createdAt,
      applicationId: seed.applicationId?.toLowerCase() ?? null,
      licenses: skus.map((sku) => ({
        skuId: sku.definition.skuId,
        disabledPlans: [],
        assignedAt: createdAt,
        provisionedAt: createdAt,
        teamsSyncedAt: createdAt,
        countedAt: createdAt,
      })),
      enterpriseVoiceEnabled: false,
      createdAt,
      modifiedAt: createdAt,
      replicatedAt,
      listedAt: options.replicated || seed.applicationId === undefined ? createdAt : now + this.timing.delay('applicationInstanceListing'),
      deletedAt: null,
    };
    this.users.set(user.id, user);
    return user;
  }

  updateUser(idOrUpn: string, patch: Record<string, unknown>): void {
    const user = this.requireVisibleUser(idOrUpn);
    const now = this.now();
    const writable: Record<string, (value: unknown) => void> = {
      usageLocation: (value) => {
        if (typeof value !== 'string' || !isIsoCountryCode(value)) {
          throw badRequest("Invalid value specified for property 'usageLocation' of resource 'User'.");
        }
        // Writing the primary's own value again changes nothing; a new value replicates with a lag.
        if (value === user.usageLocation) return;
        user.previousUsageLocation = this.visibleUsageLocation(user, now);
        user.usageLocation = value;
        user.usageLocationVisibleAt = now + this.timing.delay('usageLocationReplication');
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
    user.modifiedAt = now;
  }

  /**
   * Soft-deletes the user (DELETE /users/{id}): it moves to deleted items for 30 days, its license
   * units are freed (they come back on restore), and a number still assigned to it gets stuck in
   * pending, as Teams warns (manage-resource-accounts: "dissociate the telephone number … before
   * deleting it, to avoid getting your service number stuck in pending mode").
   */
  deleteUser(idOrUpn: string): void {
    const user = this.requireVisibleUser(idOrUpn);
    const now = this.now();
    for (const number of this.numbersOf(user.id)) number.stuckSince = now;
    for (const license of user.licenses) this.release(license.skuId, now);
    user.deletedAt = now;
    user.modifiedAt = now;
  }

  /**
   * Restores a soft-deleted user with all its properties and licenses, even without free units (Entra:
   * restore a user). Refused while an active object holds its UPN; the restored object replicates and
   * reaches Teams with the usual delays.
   */
  restoreUser(id: string): DirectoryUser {
    const user = this.findDeletedUser(id);
    if (!user) throw resourceNotFound(id);
    if (this.findUser(user.userPrincipalName)) throw conflict();
    const now = this.now();
    user.deletedAt = null;
    user.modifiedAt = now;
    user.replicatedAt = now + this.timing.delay('replication');
    if (user.applicationId !== null) user.listedAt = now + this.timing.delay('applicationInstanceListing');
    const countedAt = now + this.timing.delay('consumedUnits');
    user.licenses = user.licenses.map((license) => ({ ...license, countedAt }));
    return user;
  }

  /** Deletes a soft-deleted user permanently; it can no longer be restored. */
  purgeUser(id: string): void {
    if (!this.findDeletedUser(id)) throw resourceNotFound(id);
    this.users.delete(id.toLowerCase());
  }

  findSku(skuId: string): TenantSku | undefined {
    return this.skus.get(skuId.toLowerCase());
  }

  /** Units of the SKU held by users now (deleted users hold none); what assignLicense checks. */
  consumedUnits(skuId: string): number {
    let count = 0;
    for (const user of this.users.values()) {
      if (user.deletedAt === null && user.licenses.some((license) => sameId(license.skuId, skuId))) count += 1;
    }
    return count;
  }

  /** What `subscribedSkus.consumedUnits` reports at `at`: assignments and releases show with a lag. */
  reportedConsumedUnits(skuId: string, at = this.now()): number {
    let count = 0;
    for (const user of this.users.values()) {
      if (user.deletedAt !== null) continue;
      if (user.licenses.some((license) => sameId(license.skuId, skuId) && license.countedAt <= at)) count += 1;
    }
    return count + this.releasedUnits.filter((unit) => sameId(unit.skuId, skuId) && unit.until > at).length;
  }

  private release(skuId: string, now: number): void {
    this.releasedUnits.push({ skuId, until: now + this.timing.delay('consumedUnits') });
  }

  /** Adds units of a catalog SKU, as an operator's purchase would (a new subscription each time). */
  purchase(skuPartNumber: string, units: number, capabilityStatus?: CapabilityStatus): TenantSku {
    const definition = catalogSku(skuPartNumber);
    if (!definition) throw badRequest(`Unknown SKU part number '${skuPartNumber}'.`);
    const existing = this.findSku(definition.skuId);
    const sku = existing ?? { definition, enabled: 0, subscriptionIds: [], capabilityStatus: 'Enabled' as CapabilityStatus };
    sku.enabled += units;
    sku.subscriptionIds.push(randomUUID());
    if (capabilityStatus !== undefined) sku.capabilityStatus = capabilityStatus;
    this.skus.set(definition.skuId.toLowerCase(), sku);
    return sku;
  }

  /** Changes a subscription's status, as its renewal lapsing (or being fixed) would. */
  setSubscriptionStatus(skuPartNumber: string, capabilityStatus: CapabilityStatus): TenantSku {
    const definition = catalogSku(skuPartNumber);
    const sku = definition && this.findSku(definition.skuId);
    if (!sku) throw badRequest(`The tenant has no ${skuPartNumber} subscription.`);
    sku.capabilityStatus = capabilityStatus;
    return sku;
  }

  assignLicense(idOrUpn: string, { add, remove }: LicenseChange): DirectoryUser {
    const user = this.requireVisibleUser(idOrUpn);
    const now = this.now();

    for (const skuId of remove) {
      if (!this.findSku(skuId)) throw badRequest(`License ${skuId} does not correspond to a valid company License.`);
      if (!user.licenses.some((license) => sameId(license.skuId, skuId))) {
        throw badRequest('User does not have a corresponding license.');
      }
    }
    const newlyAdded: TenantSku[] = [];
    for (const { skuId } of add) {
      const sku = this.findSku(skuId);
      if (!sku || sku.capabilityStatus === 'Deleted') throw badRequest(`License ${skuId} does not correspond to a valid company License.`);
      if (!user.licenses.some((license) => sameId(license.skuId, skuId))) newlyAdded.push(sku);
    }
    // The license service reads a replica: a usage location written moments ago may not be there yet.
    if (add.length > 0 && this.visibleUsageLocation(user, now) === null) {
      throw badRequest('License assignment cannot be done for user with invalid usage location.');
    }
    for (const sku of newlyAdded) {
      if (this.consumedUnits(sku.definition.skuId) >= assignableUnits(sku)) throw noAvailableLicenses(sku);
    }

    for (const license of user.licenses) {
      if (remove.some((skuId) => sameId(license.skuId, skuId))) this.release(license.skuId, now);
    }
    user.licenses = user.licenses.filter((license) => !remove.some((skuId) => sameId(license.skuId, skuId)));
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
        countedAt: held?.countedAt ?? now + this.timing.delay('consumedUnits'),
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
      id: numberAssignmentId(seed.telephoneNumber),
      telephoneNumber: seed.telephoneNumber,
      numberType: seed.numberType ?? 'callingPlan',
      capabilities: [...(seed.capabilities ?? SERVICE_NUMBER_CAPABILITIES)],
      isoCountryCode: seed.isoCountryCode,
      city: seed.city ?? null,
      assignmentStatus: 'unassigned',
      assignmentTargetId: null,
      assignmentCategory: null,
      locationId: null,
      stuckSince: null,
      heldActivation: null,
      failNextActivation: false,
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

  /**
   * Numbers with an accepted assignment not carried out yet; computed once for a whole listing. "Carried
   * out" is {@link advance}'s doing, not the clock's: an operation whose time has come but that no request
   * has advanced yet still holds its number pending, so a number is never seen between the two states (off
   * its account and no longer pending) while a request waits in the cloud's latency after the last advance.
   */
  pendingAssignmentNumbers(): ReadonlySet<string> {
    const pending = new Set<string>();
    for (const operation of this.operations.values()) {
      if (operation.kind === 'assign' && operation.outcome === undefined) pending.add(operation.telephoneNumber);
    }
    return pending;
  }

  /**
   * `activationState` as Graph would report it. Microsoft documents the values, not their meaning; the
   * simulator shows `assignmentPending` while an accepted assignment of the number has not completed
   * (`pending`, from {@link pendingAssignmentNumbers}), and for a number stuck on a deleted account;
   * otherwise the state the number holds (`assignmentFailed`, `updatePending`, `updateFailed`), if any.
   */
  activationState(number: TelephoneNumberRecord, pending: ReadonlySet<string>): ActivationState {
    if (number.stuckSince !== null || pending.has(number.telephoneNumber)) return 'assignmentPending';
    return number.heldActivation ?? 'activated';
  }

  /**
   * Puts a number into an activation state, for rehearsing what a failed or pending activation does to
   * provisioning and roll-back; `activated` clears a held state (and an armed one-shot failure).
   */
  setActivation(telephoneNumber: string, activationState: Exclude<ActivationState, 'assignmentPending'>): TelephoneNumberRecord {
    const number = this.requireNumber(telephoneNumber);
    number.heldActivation = activationState === 'activated' ? null : activationState;
    if (activationState === 'activated') number.failNextActivation = false;
    return number;
  }

  /** Arms (or disarms) a one-shot failure: the next assignment of the number that succeeds fails its activation. */
  failNextActivationOf(telephoneNumber: string, armed = true): TelephoneNumberRecord {
    const number = this.requireNumber(telephoneNumber);
    number.failNextActivation = armed;
    return number;
  }

  /** Frees a stuck number, as Microsoft support would; the simulator's control API exposes it. */
  releaseStuckNumber(telephoneNumber: string): TelephoneNumberRecord {
    const number = this.requireNumber(telephoneNumber);
    release(number);
    return number;
  }

  /** Leaves a number stuck in pending mode, for rehearsing what that does to provisioning and roll-back. */
  stickNumber(telephoneNumber: string): TelephoneNumberRecord {
    const number = this.requireNumber(telephoneNumber);
    number.stuckSince = this.now();
    return number;
  }

  requireNumber(telephoneNumber: string): TelephoneNumberRecord {
    const number = this.findNumber(telephoneNumber);
    if (!number) throw new GraphApiError(404, 'NotFound', `The tenant has no telephone number ${telephoneNumber}.`);
    return number;
  }

  /** Accepts an assign or unassign request; the outcome is decided when the operation runs. */
  startNumberOperation(input: Omit<NumberOperation, 'id' | 'createdAt' | 'startsAt' | 'completesAt' | 'outcome'>): NumberOperation {
    const now = this.now();
    const runTime = this.timing.delay('numberOperation');
    const operation: NumberOperation = {
      ...input,
      id: operationId(input.kind),
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
    const number = this.numbers.get(operation.telephoneNumber);
    const failed = (statusDetail: string) => ({ status: 'failed' as const, statusDetail, numberId: number?.id ?? null });
    const succeeded = () => ({ status: 'succeeded' as const, statusDetail: null, numberId: number?.id ?? null });
    const texts = NUMBER_OPERATION_FAILURES;

    // A number of another type is reported like a number the tenant does not own (notes 4.5).
    if (!number || number.numberType !== operation.numberType) return failed(texts.numberUnavailable);
    // An update in flight holds the number as a stuck one does (UNKNOWN; the least convenient reading).
    if (number.stuckSince !== null || number.heldActivation === 'updatePending') return failed(texts.pending);
    if (operation.kind === 'unassign') {
      // Unassigning a free number leaves it as asked; treated as success so undo steps can be repeated.
      release(number);
      return succeeded();
    }

    const targetId = operation.assignmentTargetId ?? '';
    const target = this.findUser(targetId);
    if (!target || !this.isReplicated(target, at)) return failed(texts.targetUnresolved(targetId));
    // Assigning it again to the same account reports success and changes nothing, a failed activation included (UNKNOWN).
    if (number.assignmentTargetId === target.id) return succeeded();
    if (number.assignmentTargetId !== null) return failed(texts.numberUnavailable);
    const resourceAccount = this.isResourceAccount(target);
    const neededCapability: NumberCapability = resourceAccount ? 'voiceApplicationAssignment' : 'userAssignment';
    if (!number.capabilities.includes(neededCapability)) return failed(texts.capabilityMismatch);
    const features = this.teamsFeatures(target, at);
    const licensed = resourceAccount
      ? features.includes('PhoneSystemVirtualUser') || features.includes('PhoneSystem')
      : features.includes('PhoneSystem');
    if (!licensed) return failed(texts.targetNotEligible(target.id));
    if (number.numberType === 'callingPlan' && this.visibleUsageLocation(target, at) !== number.isoCountryCode) {
      return failed(texts.countryMismatch);
    }
    if (this.numbersOf(target.id).some((other) => other.assignmentCategory === operation.assignmentCategory)) {
      return failed(texts.categoryOccupied);
    }
    number.assignmentTargetId = target.id;
    number.assignmentStatus = resourceAccount ? 'voiceApplicationAssigned' : 'userAssigned';
    number.assignmentCategory = operation.assignmentCategory;
    number.locationId = operation.locationId;
    // The least convenient reading of an activation that fails (UNKNOWN): the operation still reports
    // success and the number stays on the account, marked assignmentFailed, so a client must look at the
    // inventory after a successful operation.
    number.heldActivation = number.failNextActivation ? 'assignmentFailed' : null;
    number.failNextActivation = false;
    target.enterpriseVoiceEnabled = true;
    target.modifiedAt = at;
    return succeeded();
  }
}

/** Units a new assignment may use: enabled units, and warning units (a grace period still allows assignment). */
export function assignableUnits(sku: TenantSku): number {
  return sku.capabilityStatus === 'Enabled' || sku.capabilityStatus === 'Warning' ? sku.enabled : 0;
}

/** Graph's message for a SKU with no unit left (community code matches it; Microsoft does not document it). */
function noAvailableLicenses(sku: TenantSku): GraphApiError {
  return badRequest(`Subscription with SKU ${sku.definition.skuPartNumber} does not have any available licenses.`);
}

function release(number: TelephoneNumberRecord): void {
  number.assignmentStatus = 'unassigned';
  number.assignmentTargetId = null;
  number.assignmentCategory = null;
  number.locationId = null;
  number.stuckSince = null;
  number.heldActivation = null;
}

/**
 * "+" is optional on input in request bodies (Graph's assignNumber sample sends none); stored and
 * returned numbers always carry it. No other character is forgiven: not even surrounding spaces.
 */
export function normalizeTelephoneNumber(value: string): string | undefined {
  const match = /^\+?([1-9]\d{6,14})$/.exec(value);
  return match ? `+${match[1]}` : undefined;
}

export function isNumberType(value: unknown): value is NumberType {
  return typeof value === 'string' && (NUMBER_TYPES as readonly string[]).includes(value);
}
