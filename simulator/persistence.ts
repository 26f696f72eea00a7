/**
 * Optional persistence of the simulated tenant (`stateFile` / `SIMULATOR_STATE_FILE`), so a rehearsal
 * survives a restart of the simulator the way Temporal's history survives in its SQLite file.
 *
 * What is kept: the tenant state only — subscriptions, users (with their licenses and timestamps),
 * numbers and number operations. Not kept: behaviour (delays, latency, fault rate, throttle, time scale),
 * the PRNG seed, the request counters and the token signing key; they come from the options each start.
 *
 * Timestamps are stored as they are: epoch ms on the simulator's clock (`now()`). After a restart,
 * everything that was pending is judged against the same clock, so time that passed while the simulator
 * was stopped counts, as it would in the cloud (and as it does for Temporal's timers): a license whose
 * propagation was due during the stop is propagated on the first request; an operation due meanwhile is
 * decided on the first request, from the tenant as it was at its completion time ({@link TenantState.advance}).
 *
 * When it is written: a request that may write (any method but GET, HEAD, OPTIONS) is saved before its
 * answer is sent, so a write the simulator confirmed survives a SIGKILL, as it would at Microsoft. Besides,
 * a save is scheduled after every answered request and runs at most once every
 * {@link SAVE_INTERVAL_MS} (a throttle, so steady traffic still saves); it writes only when the tenant
 * differs from what was last written, so read-only traffic and `advance()` steps are covered alike without
 * classifying routes. `POST /_simulator/reset` saves at once, and closing the simulator flushes. Each write
 * is atomic: the JSON goes to `<file>.tmp`, is fsynced, then renamed over the file, so a crash leaves the
 * previous or the new state, never half a file. Writes are synchronous: the file is small (tens of KB) and
 * the throttle bounds how often the event loop pays for it, and nothing can interleave two writes.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { CapabilityStatus, VoiceAppSeed } from './catalog';
import { CAPABILITY_STATUSES, DEFAULT_VOICE_APPS, NUMBER_CAPABILITIES, NUMBER_TYPES, catalogSku } from './catalog';
import { SimulatorConfigError } from './options';
import type {
  AssignmentStatus,
  AssociationRecord,
  DirectoryUser,
  LicenseAssignment,
  NumberOperation,
  ReleasedUnit,
  TelephoneNumberRecord,
  TenantState,
} from './state';
import { ASSIGNMENT_CATEGORIES, HELD_ACTIVATION_STATES } from './state';

/** Marks the file as ours; `version` changes when the shape does. */
export const STATE_FILE_FORMAT = 'dialtone-simulator-state';
export const STATE_FILE_VERSION = 1;
/** A scheduled save waits at most this long. */
export const SAVE_INTERVAL_MS = 500;

interface PersistedSku {
  skuId: string;
  skuPartNumber: string;
  enabled: number;
  subscriptionIds: string[];
  /** Absent in files written before subscription statuses existed: Enabled. */
  capabilityStatus?: CapabilityStatus;
}

interface TenantSnapshot {
  skus: PersistedSku[];
  users: DirectoryUser[];
  numbers: TelephoneNumberRecord[];
  operations: NumberOperation[];
  /** Absent in older files: none. */
  releasedUnits?: ReleasedUnit[];
  /** Absent in older files: the seeded auto attendants and call queues. */
  voiceApps?: VoiceAppSeed[];
  /** Absent in older files: none. */
  associations?: AssociationRecord[];
}

export interface StateFile extends TenantSnapshot {
  format: typeof STATE_FILE_FORMAT;
  version: typeof STATE_FILE_VERSION;
  tenantId: string;
  /** ISO time on the simulator's clock when the file was written; for people reading it. */
  savedAt: string;
}

export function snapshotOf(state: TenantState): TenantSnapshot {
  return {
    skus: [...state.skus.values()].map((sku) => ({
      skuId: sku.definition.skuId,
      skuPartNumber: sku.definition.skuPartNumber,
      enabled: sku.enabled,
      subscriptionIds: [...sku.subscriptionIds],
      capabilityStatus: sku.capabilityStatus,
    })),
    users: [...state.users.values()],
    numbers: [...state.numbers.values()],
    operations: [...state.operations.values()],
    releasedUnits: [...state.releasedUnits],
    voiceApps: [...state.voiceApps.values()],
    associations: [...state.associations.values()],
  };
}

/**
 * Fills an empty tenant state from a validated file. Fields added after a file was written (subscription
 * status, usage-location replication, Teams listing, soft deletion, stuck numbers, held activation states,
 * the consumedUnits lag) take the values that describe a tenant where none of that is happening.
 */
export function restoreInto(state: TenantState, file: StateFile): void {
  for (const sku of file.skus) {
    const definition = catalogSku(sku.skuPartNumber);
    if (!definition) throw new Error(`unknown SKU ${sku.skuPartNumber}`);
    state.skus.set(definition.skuId.toLowerCase(), {
      definition, enabled: sku.enabled, subscriptionIds: [...sku.subscriptionIds], capabilityStatus: sku.capabilityStatus ?? 'Enabled',
    });
  }
  for (const stored of file.users) {
    const user: DirectoryUser = {
      ...stored,
      previousUsageLocation: stored.previousUsageLocation ?? stored.usageLocation,
      usageLocationVisibleAt: stored.usageLocationVisibleAt ?? stored.createdAt,
      listedAt: stored.listedAt ?? stored.createdAt,
      deletedAt: stored.deletedAt ?? null,
      licenses: stored.licenses.map((license) => ({ ...license, countedAt: license.countedAt ?? license.assignedAt })),
    };
    state.users.set(user.id, user);
  }
  for (const number of file.numbers) {
    state.numbers.set(number.telephoneNumber, {
      ...number, stuckSince: number.stuckSince ?? null, heldActivation: number.heldActivation ?? null, failNextActivation: number.failNextActivation ?? false,
    });
  }
  for (const operation of file.operations) state.operations.set(operation.id, operation);
  state.releasedUnits = [...(file.releasedUnits ?? [])];
  for (const app of file.voiceApps ?? DEFAULT_VOICE_APPS) state.voiceApps.set(app.identity.toLowerCase(), { ...app });
  for (const association of file.associations ?? []) state.associations.set(association.objectId.toLowerCase(), { ...association });
}

/**
 * Reads and validates a state file. Returns undefined when the file does not exist; throws a
 * {@link SimulatorConfigError} naming the file and the way out for anything else.
 */
export function readStateFile(path: string, tenantId: string): StateFile | undefined {
  const fail = (reason: string): never => {
    throw new SimulatorConfigError(
      `Cannot load the tenant simulator's state from ${path}: ${reason}. ` +
      'Delete or move that file to start from the seeded tenant again (or point SIMULATOR_STATE_FILE / stateFile elsewhere); ' +
      'to discard a readable state while the simulator runs, use POST /_simulator/reset.');
  };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return fail(`the file cannot be read (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`it is not valid JSON (${(error as Error).message})`);
  }
  const problems = stateFileProblems(parsed);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
    return fail(`it is not a usable state file: ${shown}`);
  }
  const file = parsed as StateFile;
  if (file.tenantId.toLowerCase() !== tenantId.toLowerCase()) {
    return fail(`it holds tenant ${file.tenantId}, but this simulator serves tenant ${tenantId}`);
  }
  return file;
}

/** Writes the file atomically: temporary file, fsync, rename. */
export function writeStateFileAtomically(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** Keeps one tenant's state file up to date; see the module comment for when it writes. */
export class StateStore {
  readonly path: string;
  private timer: NodeJS.Timeout | undefined;
  /** The snapshot part of the last content written, to skip identical writes. */
  private lastWritten: string | undefined;
  private log: Pick<FastifyBaseLogger, 'error'> = { error: (...args: unknown[]) => console.error(...args) };

  constructor(
    path: string,
    private readonly tenantId: string,
    private readonly currentState: () => TenantState,
    private readonly now: () => number,
  ) {
    this.path = resolve(path);
  }

  useLogger(log: Pick<FastifyBaseLogger, 'error'>): void {
    this.log = log;
  }

  /** Loads the file into `state` if it exists; returns whether it did. Throws SimulatorConfigError for a bad file. */
  loadInto(state: TenantState): boolean {
    const file = readStateFile(this.path, this.tenantId);
    if (!file) return false;
    restoreInto(state, file);
    this.lastWritten = JSON.stringify(snapshotOf(state));
    return true;
  }

  /** Asks for a save within {@link SAVE_INTERVAL_MS}; calls while one is pending join it. */
  schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.saveOrLog();
    }, SAVE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Saves now if the tenant changed since the last write (cancelling a scheduled save). Throws on I/O errors. */
  save(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const snapshot = snapshotOf(this.currentState());
    const body = JSON.stringify(snapshot);
    if (body === this.lastWritten) return;
    const file: StateFile = {
      format: STATE_FILE_FORMAT,
      version: STATE_FILE_VERSION,
      tenantId: this.tenantId,
      savedAt: new Date(this.now()).toISOString(),
      ...snapshot,
    };
    writeStateFileAtomically(this.path, `${JSON.stringify(file, null, 1)}\n`);
    this.lastWritten = body;
  }

  /** Like {@link save}, but a failure is a {@link SimulatorConfigError} naming the file. */
  saveAtStartUp(): void {
    try {
      this.save();
    } catch (error) {
      throw new SimulatorConfigError(`Cannot write the tenant simulator's state file ${this.path}: ${(error as Error).message}. ` +
        'Make its folder writable or point SIMULATOR_STATE_FILE / stateFile elsewhere.');
    }
  }

  /** Like {@link save}, but a failure is logged and retried with the next save instead of failing a request. */
  saveOrLog(): void {
    try {
      this.save();
    } catch (error) {
      this.log.error({ err: error }, `tenant simulator could not save its state to ${this.path}; it will try again after the next request`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Validation of the file's shape. Strict enough that a hand-edited or foreign file fails at start-up
// with the field named, instead of failing some request later.
// ---------------------------------------------------------------------------------------------------

type Check = (value: unknown) => boolean;

const isString: Check = (value) => typeof value === 'string';
const isNullableString: Check = (value) => value === null || typeof value === 'string';
const isBoolean: Check = (value) => typeof value === 'boolean';
const isTime: Check = (value) => typeof value === 'number' && Number.isFinite(value);
const isCount: Check = (value) => Number.isInteger(value) && (value as number) >= 0;
const isStringList: Check = (value) => Array.isArray(value) && value.every(isString);
const oneOf = (values: readonly unknown[]): Check => (value) => values.includes(value);
/** A field added after version 1 files were first written: absent is fine, present must be valid. */
const optional = (check: Check): Check => (value) => value === undefined || check(value);
const nullableOneOf = (values: readonly unknown[]): Check => (value) => value === null || values.includes(value);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const ASSIGNMENT_STATUSES: readonly AssignmentStatus[] = ['unassigned', 'userAssigned', 'conferenceAssigned', 'voiceApplicationAssigned'];

const SKU_FIELDS: Record<keyof PersistedSku, Check> = {
  skuId: isString,
  skuPartNumber: isString,
  enabled: isCount,
  subscriptionIds: isStringList,
  capabilityStatus: optional(oneOf(CAPABILITY_STATUSES)),
};

const LICENSE_FIELDS: Record<keyof LicenseAssignment, Check> = {
  skuId: isString,
  disabledPlans: isStringList,
  assignedAt: isTime,
  provisionedAt: isTime,
  teamsSyncedAt: isTime,
  countedAt: optional(isTime),
};

const USER_FIELDS: Record<keyof DirectoryUser, Check> = {
  id: isString,
  userPrincipalName: isString,
  displayName: isString,
  mailNickname: isString,
  accountEnabled: isBoolean,
  department: isNullableString,
  usageLocation: isNullableString,
  previousUsageLocation: optional(isNullableString),
  usageLocationVisibleAt: optional(isTime),
  applicationId: isNullableString,
  licenses: Array.isArray,
  enterpriseVoiceEnabled: isBoolean,
  createdAt: isTime,
  modifiedAt: isTime,
  replicatedAt: isTime,
  listedAt: optional(isTime),
  deletedAt: optional((value) => value === null || isTime(value)),
};

const NUMBER_FIELDS: Record<keyof TelephoneNumberRecord, Check> = {
  id: isString,
  telephoneNumber: isString,
  numberType: oneOf(NUMBER_TYPES),
  capabilities: (value) => Array.isArray(value) && value.every(oneOf(NUMBER_CAPABILITIES)),
  isoCountryCode: isString,
  city: isNullableString,
  assignmentStatus: oneOf(ASSIGNMENT_STATUSES),
  assignmentTargetId: isNullableString,
  assignmentCategory: nullableOneOf(ASSIGNMENT_CATEGORIES),
  locationId: isNullableString,
  stuckSince: optional((value) => value === null || isTime(value)),
  heldActivation: optional(nullableOneOf(HELD_ACTIVATION_STATES)),
  failNextActivation: optional(isBoolean),
};

const RELEASED_UNIT_FIELDS: Record<keyof ReleasedUnit, Check> = {
  skuId: isString,
  until: isTime,
};

const OPERATION_FIELDS: Record<Exclude<keyof NumberOperation, 'outcome'>, Check> = {
  id: isString,
  kind: oneOf(['assign', 'unassign']),
  telephoneNumber: isString,
  numberType: oneOf(NUMBER_TYPES),
  assignmentTargetId: isNullableString,
  assignmentCategory: oneOf(ASSIGNMENT_CATEGORIES),
  locationId: isNullableString,
  baseUrl: isString,
  createdAt: isTime,
  startsAt: isTime,
  completesAt: isTime,
};

const OUTCOME_FIELDS: Record<keyof NonNullable<NumberOperation['outcome']>, Check> = {
  status: oneOf(['succeeded', 'failed']),
  statusDetail: isNullableString,
  numberId: isNullableString,
};

function fieldProblems(value: unknown, fields: Record<string, Check>, path: string): string[] {
  if (!isObject(value)) return [`${path} must be an object`];
  return Object.entries(fields).filter(([name, check]) => !check(value[name])).map(([name]) => `${path}.${name} is missing or invalid`);
}

function listProblems(value: unknown, path: string, itemProblems: (item: unknown, itemPath: string) => string[]): string[] {
  if (!Array.isArray(value)) return [`${path} must be an array`];
  return value.flatMap((item, index) => itemProblems(item, `${path}[${index}]`));
}

export function stateFileProblems(value: unknown): string[] {
  if (!isObject(value) || value.format !== STATE_FILE_FORMAT) {
    return [`format must be "${STATE_FILE_FORMAT}" (this is not a tenant simulator state file)`];
  }
  if (value.version !== STATE_FILE_VERSION) {
    return [`version ${JSON.stringify(value.version)} is not supported (this simulator reads version ${STATE_FILE_VERSION})`];
  }
  const problems: string[] = [];
  if (!isString(value.tenantId)) problems.push('tenantId must be a string');
  problems.push(...listProblems(value.skus, 'skus', (sku, path) => {
    const found = fieldProblems(sku, SKU_FIELDS, path);
    if (found.length === 0) {
      const { skuId, skuPartNumber } = sku as PersistedSku;
      const definition = catalogSku(skuPartNumber);
      if (!definition || definition.skuId.toLowerCase() !== skuId.toLowerCase()) found.push(`${path} is not a SKU of the simulator's catalog`);
    }
    return found;
  }));
  problems.push(...listProblems(value.users, 'users', (user, path) => {
    const found = fieldProblems(user, USER_FIELDS, path);
    if (found.length === 0) found.push(...listProblems((user as DirectoryUser).licenses, `${path}.licenses`, (license, p) => fieldProblems(license, LICENSE_FIELDS, p)));
    return found;
  }));
  problems.push(...listProblems(value.numbers, 'numbers', (number, path) => fieldProblems(number, NUMBER_FIELDS, path)));
  if (value.releasedUnits !== undefined) {
    problems.push(...listProblems(value.releasedUnits, 'releasedUnits', (unit, path) => fieldProblems(unit, RELEASED_UNIT_FIELDS, path)));
  }
  problems.push(...listProblems(value.operations, 'operations', (operation, path) => {
    const found = fieldProblems(operation, OPERATION_FIELDS, path);
    const outcome = isObject(operation) ? operation.outcome : undefined;
    if (outcome !== undefined) found.push(...fieldProblems(outcome, OUTCOME_FIELDS, `${path}.outcome`));
    return found;
  }));
  return problems;
}
