/**
 * The tenant's number inventory and number operations, as Graph's Teams telephone-number management
 * reads them: what the number step (numbers.ts), the shared number watch, the pre-flight and
 * the batch plan all read.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { call } from './errors';
import { encodedFilter, odataString } from './query';

export const NUMBERS = '/admin/teams/telephoneNumberManagement/numberAssignments';
export const NUMBER_READ = 'TeamsTelephoneNumber.Read.All';
export const NUMBER_WRITE = 'TeamsTelephoneNumber.ReadWrite.All';
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

/**
 * Every inventory entry (matching `filter`, when given), page by page: the list pages with $top/$skip
 * only, no next link. Also says how many pages that took, which decides how the number watch reads.
 */
export async function listNumberPages(graph: Client, filter: string | undefined, action: string): Promise<{ numbers: NumberAssignment[]; pages: number }> {
  const numbers: NumberAssignment[] = [];
  for (let skip = 0, pages = 1; ; skip += PAGE, pages += 1) {
    const page = await call({ action, permission: NUMBER_READ }, () => {
      const request = graph.api(NUMBERS);
      return (filter === undefined ? request : request.filter(encodedFilter(filter))).top(PAGE).skip(skip).get();
    });
    const value = (page.value as NumberAssignment[] | undefined) ?? [];
    numbers.push(...value);
    if (value.length < PAGE) return { numbers, pages };
  }
}

/** Every inventory entry matching `filter`, page by page. */
export async function listNumbers(graph: Client, filter: string, action: string): Promise<NumberAssignment[]> {
  return (await listNumberPages(graph, filter, action)).numbers;
}

/** Numbers the inventory shows on an account. */
export async function numbersAssignedTo(graph: Client, accountId: string): Promise<NumberAssignment[]> {
  const listed = await listNumbers(graph, `assignmentTargetId eq ${odataString(accountId)}`, `list the numbers assigned to ${accountId}`);
  return listed.filter((entry) => entry.assignmentTargetId === accountId);
}

/** An assign or unassign operation, by the id its Location header named. */
export async function readNumberOperation(graph: Client, operationId: string): Promise<NumberOperation> {
  const body = await call({ action: `read number operation ${operationId}`, permission: NUMBER_READ }, () =>
    graph.api(`/admin/teams/telephoneNumberManagement/operations/${encodeURIComponent(operationId)}`).get(),
  );
  // Microsoft's sample wraps the operation in "value"; accept both.
  return (body?.value ?? body) as NumberOperation;
}

/** An operation that will not change any more: succeeded, failed or skipped. */
export function operationEnded(operation: NumberOperation): boolean {
  return operation.status === 'succeeded' || operation.status === 'failed' || operation.status === 'skipped';
}

/** What an operation that did not succeed said, for messages (Graph documents no texts; none is parsed). */
export function operationDetail(operation: NumberOperation): string {
  return operation.numbers?.map((n) => n.statusDetail).filter(Boolean).join('; ') || `operation ${operation.status}`;
}
