/**
 * What an existing resource account holding a UPN means for a request of a given kind: adopt it, or a
 * conflict a person must resolve. Pure; used by the pre-flight, the create step and a batch's plan.
 */
import { ErrorType } from '../lib/error-types';
import { kindForApplicationId } from '../lib/microsoft';
import type { ResourceAccountKind } from '../lib/microsoft';
import type { PreflightProblem } from './types';

export const KIND_WORDS = { autoAttendant: 'auto attendant', callQueue: 'call queue' } as const;

/** The conflict when the account holding `upn` (a Teams application instance of `applicationId`) cannot serve as a `kind`; undefined when it can be adopted. */
export function accountKindProblem(upn: string, applicationId: string, kind: ResourceAccountKind): PreflightProblem | undefined {
  const existingKind = kindForApplicationId(applicationId);
  if (existingKind === undefined) {
    return { type: ErrorType.UpnConflict, field: 'upn', message: `${upn} is already a resource account of another application (${applicationId}); choose another UPN.` };
  }
  if (existingKind !== kind) {
    return {
      type: ErrorType.AccountKindConflict,
      field: 'kind',
      message: `${upn} already exists as a ${KIND_WORDS[existingKind]} resource account, not a ${KIND_WORDS[kind]}. Choose another UPN, or request kind ${existingKind}.`,
    };
  }
  return undefined;
}
