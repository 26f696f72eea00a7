/**
 * What can be known about a number before assigning it, from its inventory entry alone: in the
 * inventory, of the requested type, a service number, free or already the account's, of the usage
 * location's country. Pure; used by the pre-flight of one run and by the plan of a batch.
 */
import { ErrorType } from '../lib/error-types';
import type { NumberAssignment } from './graph/number-inventory';
import type { PreflightProblem } from './types';

export interface NumberRequest {
  phoneNumber: string;
  numberType: 'callingPlan';
  usageLocation: string;
}

/** A service number: what auto attendants and call queues need (capability voiceApplicationAssignment). */
export function isServiceNumber(number: Pick<NumberAssignment, 'capabilities'>): boolean {
  return (number.capabilities ?? []).some((c) => c.toLowerCase() === 'voiceapplicationassignment');
}

/*
 * Graph documents the values of `activationState` (activated, assignmentPending, assignmentFailed,
 * updatePending, updateFailed; resources/teamsAdministration-numberAssignment), not what each means.
 * Read here as: *Pending, a change still being carried out; *Failed, a change that did not take effect
 * and will not by itself.
 */

/** Activated, or no state reported: the number is not between states. */
export function activationSettled(number: Pick<NumberAssignment, 'activationState'>): boolean {
  return number.activationState === undefined || number.activationState === 'activated';
}

/** `assignmentPending` or `updatePending`: a change to the number is still being carried out. */
export function activationPending(number: Pick<NumberAssignment, 'activationState'>): boolean {
  return number.activationState === 'assignmentPending' || number.activationState === 'updatePending';
}

/** `assignmentFailed` or `updateFailed`: a change to the number did not take effect and a person must look. */
export function activationFailed(number: Pick<NumberAssignment, 'activationState'>): boolean {
  return number.activationState === 'assignmentFailed' || number.activationState === 'updateFailed';
}

/**
 * What the inventory alone says of an operation on `number` for `accountId`: `done`, `activationFailed`
 * (an assignment only), `pending` (a change under way, perhaps this one), or `operation` (only the
 * operation can tell whether it failed or has not started).
 */
export function inventoryVerdict(kind: 'assign' | 'unassign', accountId: string, number: NumberAssignment | undefined): 'done' | 'activationFailed' | 'pending' | 'operation' {
  const onAccount = number?.assignmentTargetId === accountId;
  if (kind === 'unassign') {
    if (!onAccount) return 'done';
    return number && activationPending(number) ? 'pending' : 'operation';
  }
  if (number && onAccount && activationSettled(number)) return 'done';
  if (number && onAccount && activationFailed(number)) return 'activationFailed';
  // Pending on this account or on none: a change under way, perhaps ours. Pending on another account
  // (a stuck number, someone else's update) says nothing about ours.
  return number && activationPending(number) && (onAccount || !number.assignmentTargetId) ? 'pending' : 'operation';
}

/** What the inventory shows of a number, for messages. */
export function describeNumber(number: NumberAssignment | undefined, accountId: string): string {
  if (!number) return 'the number is not in the inventory';
  const where = number.assignmentTargetId === accountId ? 'on the account' : number.assignmentTargetId ? `on ${number.assignmentTargetId}` : 'on no account';
  return `the number is ${where}, ${number.activationState ?? 'activated'}`;
}

/** A free service number: in the inventory, on no account, not between states, assignable to a resource account. */
export function isFreeServiceNumber(number: NumberAssignment): boolean {
  return !number.assignmentTargetId && isServiceNumber(number) && activationSettled(number);
}

/** What a person does about a number whose activation failed on the account it was assigned to. */
export function activationFailedMessage(phoneNumber: string, accountId: string, state: string | undefined, since?: string): string {
  return `${phoneNumber} is on ${accountId} but Teams reports its activation as ${state ?? 'failed'}${since ? ` ${since}` : ''}: it will not ` +
    'work there until that is fixed. In the Teams admin center (Voice > Phone numbers), open the number and remove it from the ' +
    'resource account, then assign it again (for updateFailed, correct the change the number\'s page shows, such as its emergency ' +
    'address); if it stays failed, ask Microsoft support. Then retry the step, or roll the run back (that unassigns the number).';
}

/**
 * Every problem with `found` for `request`. `accountId` is the account the number is for, when it
 * exists; `holder` names whoever else holds the number, as a person recognises it.
 */
export function numberProblems(
  found: NumberAssignment | undefined,
  request: NumberRequest,
  accountId: string | undefined,
  holder: string | undefined,
): PreflightProblem[] {
  const { phoneNumber, numberType } = request;
  if (!found) {
    return [{
      type: ErrorType.NumberNotFound,
      field: 'phoneNumber',
      message: `${phoneNumber} is not in the tenant's phone number inventory. Get it in the Teams admin center (Voice > Phone numbers) or choose a number listed there.`,
    }];
  }
  const problems: PreflightProblem[] = [];
  if (found.numberType !== numberType) {
    problems.push({
      type: ErrorType.NumberNotFound,
      field: 'phoneNumber',
      message: `${phoneNumber} is a ${found.numberType} number, not a ${numberType} number; choose a ${numberType} service number.`,
    });
  }
  if (!isServiceNumber(found)) {
    problems.push({
      type: ErrorType.NumberNotServiceNumber,
      field: 'phoneNumber',
      message: `${phoneNumber} is a user (subscriber) number; auto attendants and call queues need a service number ` +
        '(capability voiceApplicationAssignment). Choose a service number.',
    });
  }
  if (found.assignmentTargetId && found.assignmentTargetId !== accountId) {
    problems.push({
      type: ErrorType.NumberAlreadyAssigned,
      field: 'phoneNumber',
      message: `${phoneNumber} is already assigned to ${holder ?? `object id ${found.assignmentTargetId}`}` +
        `${activationSettled(found) ? '' : ` (${found.activationState})`}. Unassign it there first or choose another number.`,
    });
  }
  if (accountId !== undefined && found.assignmentTargetId === accountId && activationFailed(found)) {
    problems.push({ type: ErrorType.NumberActivationFailed, field: 'phoneNumber', message: activationFailedMessage(phoneNumber, accountId, found.activationState) });
  }
  if (found.numberType === 'callingPlan' && found.isoCountryCode && found.isoCountryCode.toUpperCase() !== request.usageLocation.toUpperCase()) {
    problems.push({
      type: ErrorType.NumberCountryMismatch,
      field: 'usageLocation',
      message: `${phoneNumber} is a ${found.isoCountryCode} number but the usage location is ${request.usageLocation}: Teams assigns a Calling Plan ` +
        `number only to an account whose usage location is the number's country. Set usageLocation ${found.isoCountryCode} or choose a ${request.usageLocation} number.`,
    });
  }
  return problems;
}
