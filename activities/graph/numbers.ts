/**
 * Step 5: assign a Calling Plan service number through Graph's Teams telephone-number management
 * (asynchronous: POST returns 202 + Location of an operation to poll), and its undo.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { ResponseType } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { isServiceNumber } from '../number-checks';
import { pollUntil, previousDetails } from '../polling';
import type { PollingOptions } from '../polling';
import type { AssignPhoneNumberInput, AssignPhoneNumberOutput, UnassignPhoneNumberInput, UnassignPhoneNumberOutput } from '../types';
import { call, httpFailure } from './errors';
import { encodedFilter, odataString } from './query';

const NUMBERS = '/admin/teams/telephoneNumberManagement/numberAssignments';
const NUMBER_READ = 'TeamsTelephoneNumber.Read.All';
const NUMBER_WRITE = 'TeamsTelephoneNumber.ReadWrite.All';
/** Page size for inventory listings; the list allows up to 1,000. */
const PAGE = 1000;

/** Graph's numberAssignment (not in @microsoft/microsoft-graph-types). */
export interface NumberAssignment {
  id?: string;
  telephoneNumber: string;
  numberType: string;
  activationState?: string;
  assignmentStatus: string;
  assignmentTargetId?: string | null;
  capabilities?: string[];
  isoCountryCode?: string;
  city?: string;
}

/** Graph's telephoneNumberLongRunningOperation. */
export interface NumberOperation {
  id: string;
  status: 'notStarted' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'unknownFutureValue';
  numbers?: Array<{ telephoneNumber?: string; status?: string; statusDetail?: string | null }>;
}

export interface NumberActivityDeps {
  graph: Client;
  polling?: PollingOptions;
}

interface AssignDetails {
  operationId?: string;
  checks: number;
  /** Decided on the first attempt: the number was already this account's before we started. */
  alreadyAssigned?: boolean;
}

/**
 * The inventory entry of one number. The filter is encoded: sent raw, the "+" of an E.164 number
 * would reach Graph as a space and match nothing.
 */
export async function findNumber(graph: Client, phoneNumber: string): Promise<NumberAssignment | undefined> {
  const page = await call({ action: `look up ${phoneNumber} in the tenant's number inventory`, permission: NUMBER_READ }, () =>
    graph.api(NUMBERS).filter(encodedFilter(`telephoneNumber eq ${odataString(phoneNumber)}`)).get(),
  );
  return (page.value as NumberAssignment[] | undefined)?.find((entry) => entry.telephoneNumber === phoneNumber);
}

/** Every inventory entry matching `filter`, page by page (the list pages with $top/$skip only, no next link). */
export async function listNumbers(graph: Client, filter: string, action: string): Promise<NumberAssignment[]> {
  const found: NumberAssignment[] = [];
  for (let skip = 0; ; skip += PAGE) {
    const page = await call({ action, permission: NUMBER_READ }, () => graph.api(NUMBERS).filter(encodedFilter(filter)).top(PAGE).skip(skip).get());
    const value = (page.value as NumberAssignment[] | undefined) ?? [];
    found.push(...value);
    if (value.length < PAGE) return found;
  }
}

/** Numbers the inventory shows on an account. */
export async function numbersAssignedTo(graph: Client, accountId: string): Promise<NumberAssignment[]> {
  const listed = await listNumbers(graph, `assignmentTargetId eq ${odataString(accountId)}`, `list the numbers assigned to ${accountId}`);
  return listed.filter((entry) => entry.assignmentTargetId === accountId);
}

/** A pending or failed activation: the number is between states and must not be counted as settled. */
function unsettled(number: NumberAssignment): boolean {
  return number.activationState !== undefined && number.activationState !== 'activated';
}

export function createNumberActivities({ graph, polling }: NumberActivityDeps) {
  /** POSTs an assign/unassign action and returns the operation id from the Location header. */
  async function startOperation(action: 'assignNumber' | 'unassignNumber', body: object, what: string): Promise<string> {
    const response = (await call({ action: what, permission: NUMBER_WRITE }, async () => {
      const raw = (await graph.api(`${NUMBERS}/${action}`).responseType(ResponseType.RAW).post(body)) as Response;
      if (!raw.ok) throw httpFailure(raw, await raw.text());
      return raw;
    })) as Response;
    const location = response.headers.get('location');
    const id = location ? /operations(?:\('([^']+)'\)|\/([^/?]+))/.exec(location) : null;
    const operationId = id?.[1] ?? id?.[2];
    if (!operationId) {
      throw ApplicationFailure.create({
        type: ErrorType.InvalidRequest,
        nonRetryable: true,
        message: `${action} was accepted but returned no operation Location header (got ${location ?? 'none'})`,
      });
    }
    return decodeURIComponent(operationId);
  }

  async function readOperation(operationId: string): Promise<NumberOperation> {
    const body = await call({ action: `read number operation ${operationId}`, permission: NUMBER_READ }, () =>
      graph.api(`/admin/teams/telephoneNumberManagement/operations/${encodeURIComponent(operationId)}`).get(),
    );
    // Microsoft's sample wraps the operation in "value"; accept both.
    return (body?.value ?? body) as NumberOperation;
  }

  async function waitForOperation(operationId: string, before: number, details: (checks: number) => object) {
    return pollUntil<NumberOperation>(
      polling,
      async () => {
        const op = await readOperation(operationId);
        return { done: op.status === 'succeeded' || op.status === 'failed' || op.status === 'skipped', value: op };
      },
      (checks) => Context.current().heartbeat(details(before + checks)),
    );
  }

  const failureDetail = (op: NumberOperation) => op.numbers?.map((n) => n.statusDetail).filter(Boolean).join('; ') || `operation ${op.status}`;

  return {
    async assignPhoneNumber({ accountId, phoneNumber, numberType }: AssignPhoneNumberInput): Promise<AssignPhoneNumberOutput> {
      const previous = previousDetails<AssignDetails>();
      const before = previous.checks ?? 0;
      let operationId = previous.operationId;

      if (!operationId) {
        const number = await findNumber(graph, phoneNumber);
        if (!number) {
          throw ApplicationFailure.create({
            type: ErrorType.NumberNotFound,
            nonRetryable: true,
            message: `${phoneNumber} is not in the tenant's phone number inventory. Get it in the Teams admin center (Voice > Phone numbers) or choose a number listed there.`,
          });
        }
        if (number.numberType !== numberType) {
          throw ApplicationFailure.create({
            type: ErrorType.NumberNotFound,
            nonRetryable: true,
            message: `${phoneNumber} is a ${number.numberType} number, not a ${numberType} number; choose a ${numberType} service number.`,
          });
        }
        const alreadyAssigned = previous.alreadyAssigned ?? (number.assignmentTargetId === accountId && !unsettled(number));
        if (number.assignmentTargetId === accountId) {
          if (!unsettled(number)) return { assigned: !alreadyAssigned, alreadyAssigned, checks: before };
          // An assignment to this account is still being carried out (e.g. one whose answer was lost): let it finish.
          Context.current().heartbeat({ checks: before, alreadyAssigned } satisfies AssignDetails);
          throw ApplicationFailure.create({
            type: ErrorType.AccountNotReadyForNumber,
            message: `${phoneNumber} is being assigned to ${accountId} (${number.activationState}); checking again shortly`,
          });
        }
        if (number.assignmentTargetId) {
          throw ApplicationFailure.create({
            type: ErrorType.NumberAlreadyAssigned,
            nonRetryable: true,
            message: `${phoneNumber} is already assigned (${number.assignmentStatus}${unsettled(number) ? `, ${number.activationState}` : ''}) to ${number.assignmentTargetId}. ` +
              'Unassign it there first or choose another number.',
          });
        }
        if (!isServiceNumber(number)) {
          throw ApplicationFailure.create({
            type: ErrorType.NumberNotServiceNumber,
            nonRetryable: true,
            message: `${phoneNumber} is a user (subscriber) number; auto attendants and call queues need a service number (capability voiceApplicationAssignment). Choose a service number.`,
          });
        }
        operationId = await startOperation(
          'assignNumber',
          { telephoneNumber: phoneNumber, assignmentTargetId: accountId, numberType, assignmentCategory: 'primary' },
          `assign ${phoneNumber} to ${accountId}`,
        );
        Context.current().heartbeat({ operationId, checks: before, alreadyAssigned } satisfies AssignDetails);
      }

      const opId = operationId;
      const alreadyAssigned = previous.alreadyAssigned ?? false;
      const result = await waitForOperation(opId, before, (checks) => ({ operationId: opId, checks, alreadyAssigned }) satisfies AssignDetails);
      const checks = before + result.checks;
      if (!result.done || !result.value) {
        throw ApplicationFailure.create({ type: ErrorType.AccountNotReadyForNumber, message: `Number assignment ${opId} still running after ${checks} checks` });
      }
      const op = result.value;
      if (op.status === 'succeeded') return { assigned: true, alreadyAssigned, operationId: opId, checks };

      // The next attempt starts over with a fresh lookup and a new operation.
      Context.current().heartbeat({ checks, alreadyAssigned } satisfies AssignDetails);
      const detail = failureDetail(op);
      // Graph documents no failure texts, so none is matched: what the inventory shows now decides.
      const now = await findNumber(graph, phoneNumber);
      if (!now) {
        throw ApplicationFailure.create({ type: ErrorType.NumberNotFound, nonRetryable: true, message: `${phoneNumber} left the tenant's inventory: ${detail}` });
      }
      if (now.assignmentTargetId && now.assignmentTargetId !== accountId) {
        throw ApplicationFailure.create({
          type: ErrorType.NumberAlreadyAssigned,
          nonRetryable: true,
          message: `${phoneNumber} was assigned to ${now.assignmentTargetId} meanwhile (${detail}). Unassign it there first or choose another number.`,
        });
      }
      // The number is free and ours to take, yet Teams refused: on a freshly licensed account that is
      // Teams not being ready yet. Retried until the step's propagation deadline, then a person decides.
      throw ApplicationFailure.create({
        type: ErrorType.AccountNotReadyForNumber,
        message: `Teams did not yet accept ${phoneNumber} for ${accountId} (the license or the account may still be reaching Teams): ${detail}`,
      });
    },

    async unassignPhoneNumber({ accountId, phoneNumber, numberType }: UnassignPhoneNumberInput): Promise<UnassignPhoneNumberOutput> {
      const previous = previousDetails<AssignDetails>();
      let operationId = previous.operationId;
      if (!operationId) {
        const number = await findNumber(graph, phoneNumber);
        if (!number || number.assignmentTargetId !== accountId) return { unassigned: false };
        operationId = await startOperation('unassignNumber', { telephoneNumber: phoneNumber, numberType }, `unassign ${phoneNumber} from ${accountId}`);
      }
      const opId = operationId;
      const result = await waitForOperation(opId, 0, (checks) => ({ operationId: opId, checks }));
      if (!result.done || !result.value) {
        throw ApplicationFailure.create({ type: ErrorType.TransientServiceError, message: `Unassignment ${opId} still running` });
      }
      if (result.value.status !== 'succeeded') {
        Context.current().heartbeat({ checks: result.checks });
        throw ApplicationFailure.create({
          type: ErrorType.NumberUnassignFailed,
          nonRetryable: true,
          message: `Unassigning ${phoneNumber} from ${accountId} failed: ${failureDetail(result.value)}. The account keeps the number for now; ` +
            'unassign it in the Teams admin center (Voice > Phone numbers), or ask Microsoft support if it stays pending, then retry.',
        });
      }
      return { unassigned: true };
    },
  };
}
