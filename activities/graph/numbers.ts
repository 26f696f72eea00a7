/**
 * Step 5: assign a Calling Plan service number through Graph's Teams telephone-number management
 * (asynchronous: POST returns 202 + Location of an operation), and its undo. Lookups and the waits for
 * accepted operations go through the worker's shared {@link NumberWatch}, which answers most of them
 * from one read of the inventory.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { ResponseType } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { activationFailed, activationFailedMessage, activationSettled, describeNumber, inventoryVerdict, isServiceNumber } from '../number-checks';
import { DEFAULT_POLLING, previousDetails } from '../polling';
import type { PollingOptions } from '../polling';
import type { AssignPhoneNumberInput, AssignPhoneNumberOutput, UnassignPhoneNumberInput, UnassignPhoneNumberOutput } from '../types';
import { call, httpFailure } from './errors';
import { NUMBERS, NUMBER_WRITE, operationDetail, operationEnded, readNumberOperation } from './number-inventory';
import type { NumberWaitResult, NumberWatch } from './number-watch';

export interface NumberActivityDeps {
  graph: Client;
  /** `budgetMs`: how long one attempt waits for an operation; the watch's cadence comes from the same options. */
  polling?: PollingOptions;
  /** The worker process's shared number watch (activities/index.ts makes one per set of activities). */
  numberWatch: NumberWatch;
}

interface AssignDetails {
  operationId?: string;
  checks: number;
  /** Decided on the first attempt: the number was already this account's before we started. */
  alreadyAssigned?: boolean;
}

export function createNumberActivities({ graph, polling, numberWatch }: NumberActivityDeps) {
  const budgetMs = polling?.budgetMs ?? DEFAULT_POLLING.budgetMs;

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

  /**
   * Waits for the operation through the shared watch. When the attempt's budget runs out while the
   * inventory still shows a change under way, the operation is read once: what the inventory shows while
   * an operation runs is not documented, so its pending marking alone never decides. An operation that
   * ended is then judged from a fresh look at the number, as the last look may predate its end.
   */
  async function waitFor(kind: 'assign' | 'unassign', operationId: string, phoneNumber: string, accountId: string, onLook: (looks: number) => void): Promise<NumberWaitResult> {
    const ctx = Context.current();
    const result = await numberWatch.wait({ kind, operationId, phoneNumber, accountId }, budgetMs, onLook, ctx.cancelled);
    if (result.outcome !== 'waiting' || result.operation) return result;
    const operation = await readNumberOperation(graph, operationId);
    if (!operationEnded(operation)) return { ...result, operation };
    const number = await numberWatch.lookup(phoneNumber);
    if (operation.status !== 'succeeded') return { outcome: 'failed', looks: result.looks, operation, number };
    const verdict = inventoryVerdict(kind, accountId, number);
    if (verdict === 'done') return { outcome: 'done', looks: result.looks, number };
    if (verdict === 'activationFailed' && number) return { outcome: 'activationFailed', looks: result.looks, number };
    return { ...result, number, state: describeNumber(number, accountId), operation };
  }

  return {
    async assignPhoneNumber({ accountId, phoneNumber, numberType }: AssignPhoneNumberInput): Promise<AssignPhoneNumberOutput> {
      const previous = previousDetails<AssignDetails>();
      const before = previous.checks ?? 0;
      let operationId = previous.operationId;

      if (!operationId) {
        const number = await numberWatch.lookup(phoneNumber);
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
        const alreadyAssigned = previous.alreadyAssigned ?? (number.assignmentTargetId === accountId && activationSettled(number));
        if (number.assignmentTargetId === accountId) {
          if (activationSettled(number)) return { assigned: !alreadyAssigned, alreadyAssigned, checks: before };
          if (activationFailed(number)) {
            throw ApplicationFailure.create({ type: ErrorType.NumberActivationFailed, nonRetryable: true, message: activationFailedMessage(phoneNumber, accountId, number.activationState) });
          }
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
            message: `${phoneNumber} is already assigned (${number.assignmentStatus}${activationSettled(number) ? '' : `, ${number.activationState}`}) to ${number.assignmentTargetId}. ` +
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
        // Recorded before waiting: an attempt after a worker stops waits for this operation instead of starting another.
        Context.current().heartbeat({ operationId, checks: before, alreadyAssigned } satisfies AssignDetails);
      }

      const opId = operationId;
      const alreadyAssigned = previous.alreadyAssigned ?? false;
      // The watch calls back from its own loop, outside this activity's context: heartbeat through ours.
      const ctx = Context.current();
      const result = await waitFor('assign', opId, phoneNumber, accountId, (looks) =>
        ctx.heartbeat({ operationId: opId, checks: before + looks, alreadyAssigned } satisfies AssignDetails));
      const checks = before + result.looks;
      switch (result.outcome) {
        case 'done':
          return { assigned: true, alreadyAssigned, operationId: opId, checks };
        case 'activationFailed':
          throw ApplicationFailure.create({
            type: ErrorType.NumberActivationFailed,
            nonRetryable: true,
            message: activationFailedMessage(phoneNumber, accountId, result.number.activationState, `after operation ${opId} reported success`),
          });
        case 'waiting':
          if (result.operation?.status === 'succeeded') {
            // The operation is done but the inventory does not agree yet: the next attempt starts from a fresh lookup.
            Context.current().heartbeat({ checks, alreadyAssigned } satisfies AssignDetails);
            throw ApplicationFailure.create({ type: ErrorType.AccountNotReadyForNumber, message: `Number assignment ${opId} succeeded but ${result.state}; looking again` });
          }
          throw ApplicationFailure.create({ type: ErrorType.AccountNotReadyForNumber, message: `Number assignment ${opId} still running after ${checks} checks: ${result.state}` });
        case 'failed':
          break;
      }

      // The next attempt starts over with a fresh lookup and a new operation.
      Context.current().heartbeat({ checks, alreadyAssigned } satisfies AssignDetails);
      const detail = operationDetail(result.operation);
      // Graph documents no failure texts, so none is matched: what the inventory showed beside the failed operation decides.
      const now = result.number;
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
      if (now.assignmentTargetId === accountId && activationFailed(now)) {
        throw ApplicationFailure.create({ type: ErrorType.NumberActivationFailed, nonRetryable: true, message: activationFailedMessage(phoneNumber, accountId, now.activationState) });
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
        // Whatever its activation state: a number whose activation failed comes off like any other.
        const number = await numberWatch.lookup(phoneNumber);
        if (!number || number.assignmentTargetId !== accountId) return { unassigned: false };
        operationId = await startOperation('unassignNumber', { telephoneNumber: phoneNumber, numberType }, `unassign ${phoneNumber} from ${accountId}`);
        Context.current().heartbeat({ operationId, checks: 0 } satisfies AssignDetails);
      }
      const opId = operationId;
      const before = previous.checks ?? 0;
      const ctx = Context.current();
      const result = await waitFor('unassign', opId, phoneNumber, accountId, (looks) =>
        ctx.heartbeat({ operationId: opId, checks: before + looks } satisfies AssignDetails));
      if (result.outcome === 'done') return { unassigned: true };
      if (result.outcome === 'failed') {
        Context.current().heartbeat({ checks: before + result.looks } satisfies AssignDetails);
        throw ApplicationFailure.create({
          type: ErrorType.NumberUnassignFailed,
          nonRetryable: true,
          message: `Unassigning ${phoneNumber} from ${accountId} failed: ${operationDetail(result.operation)}. The account keeps the number for now; ` +
            'unassign it in the Teams admin center (Voice > Phone numbers), or ask Microsoft support if it stays pending, then retry.',
        });
      }
      if (result.outcome === 'waiting' && result.operation?.status === 'succeeded') {
        // Done by the operation's account, not by the inventory's: the next attempt looks again and unassigns if it must.
        Context.current().heartbeat({ checks: before + result.looks } satisfies AssignDetails);
      }
      throw ApplicationFailure.create({ type: ErrorType.TransientServiceError, message: `Unassignment ${opId} still running: ${result.outcome === 'waiting' ? result.state : result.outcome}` });
    },
  };
}
