/**
 * What can be known about a number before assigning it, from its inventory entry alone: in the
 * inventory, of the requested type, a service number, free or already the account's, of the usage
 * location's country. Pure; used by the pre-flight of one run and by the plan of a batch.
 */
import { ErrorType } from '../lib/error-types';
import type { NumberAssignment } from './graph/numbers';
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
      message: `${phoneNumber} is already assigned to ${holder ?? `object id ${found.assignmentTargetId}`}. Unassign it there first or choose another number.`,
    });
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
