/**
 * Step 5: assign a Calling Plan service number through Graph's Teams telephone-number management
 * (asynchronous: POST returns 202 + Location of an operation to poll), and its undo.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { ResponseType } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { pollUntil, previousDetails } from '../polling';
import type { PollingOptions } from '../polling';
import type { AssignPhoneNumberInput, AssignPhoneNumberOutput, UnassignPhoneNumberInput, UnassignPhoneNumberOutput } from '../types';
import { call, httpFailure } from './errors';

const NUMBERS = '/admin/teams/telephoneNumberManagement/numberAssignments';
const NUMBER_READ = 'TeamsTelephoneNumber.Read.All';
const NUMBER_WRITE = 'TeamsTelephoneNumber.ReadWrite.All';

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

export function createNumberActivities({ graph, polling }: NumberActivityDeps) {
  async function findNumber(phoneNumber: string): Promise<NumberAssignment | undefined> {
    const filter = `telephoneNumber eq '${phoneNumber}'`;
    const page = await call({ action: `look up ${phoneNumber} in the tenant's number inventory`, permission: NUMBER_READ }, () =>
      graph.api(NUMBERS).filter(filter).get(),
    );
    return (page.value as NumberAssignment[] | undefined)?.[0];
  }

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
    return operationId;
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

  return {
    async assignPhoneNumber({ accountId, phoneNumber, numberType }: AssignPhoneNumberInput): Promise<AssignPhoneNumberOutput> {
      const previous = previousDetails<AssignDetails>();
      const before = previous.checks ?? 0;
      let operationId = previous.operationId;

      if (!operationId) {
        const number = await findNumber(phoneNumber);
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
        const alreadyAssigned = previous.alreadyAssigned ?? number.assignmentTargetId === accountId;
        if (number.assignmentTargetId === accountId && number.activationState !== 'assignmentPending') {
          return { assigned: !alreadyAssigned, alreadyAssigned, checks: before };
        }
        if (number.assignmentStatus !== 'unassigned' && number.assignmentTargetId && number.assignmentTargetId !== accountId) {
          throw ApplicationFailure.create({
            type: ErrorType.NumberAlreadyAssigned,
            nonRetryable: true,
            message: `${phoneNumber} is already assigned (${number.assignmentStatus}) to ${number.assignmentTargetId}. Unassign it there first or choose another number.`,
          });
        }
        if (!(number.capabilities ?? []).some((c) => c.toLowerCase() === 'voiceapplicationassignment')) {
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

      const detail = op.numbers?.map((n) => n.statusDetail).filter(Boolean).join('; ') || `operation ${op.status}`;
      // The next attempt starts over with a fresh lookup and a new operation.
      Context.current().heartbeat({ checks, alreadyAssigned } satisfies AssignDetails);
      if (/lacks appropriate licenses|Status: NotFound|not (yet )?(synced|found in Teams)/i.test(detail)) {
        throw ApplicationFailure.create({
          type: ErrorType.AccountNotReadyForNumber,
          message: `Teams is not ready to give ${accountId} a number yet (license or account still propagating): ${detail}`,
        });
      }
      if (/already been assigned/i.test(detail)) {
        throw ApplicationFailure.create({
          type: ErrorType.NumberAlreadyAssigned,
          nonRetryable: true,
          message: `${phoneNumber}: ${detail}. Unassign it there first or choose another number.`,
        });
      }
      if (/is not found from tenant/i.test(detail)) {
        throw ApplicationFailure.create({ type: ErrorType.NumberNotFound, nonRetryable: true, message: `${phoneNumber}: ${detail}` });
      }
      throw ApplicationFailure.create({
        type: ErrorType.NumberAssignmentFailed,
        nonRetryable: true,
        message: `Assigning ${phoneNumber} to ${accountId} failed: ${detail}`,
      });
    },

    async unassignPhoneNumber({ accountId, phoneNumber, numberType }: UnassignPhoneNumberInput): Promise<UnassignPhoneNumberOutput> {
      const previous = previousDetails<AssignDetails>();
      let operationId = previous.operationId;
      if (!operationId) {
        const number = await findNumber(phoneNumber);
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
        const detail = result.value.numbers?.map((n) => n.statusDetail).filter(Boolean).join('; ') || result.value.status;
        throw ApplicationFailure.create({ type: ErrorType.NumberAssignmentFailed, message: `Unassigning ${phoneNumber} failed: ${detail}` });
      }
      return { unassigned: true };
    },
  };
}
