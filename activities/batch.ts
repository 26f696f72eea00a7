/**
 * The batch's own activities: the plan (reads only: what each row would do, which number an "any" row
 * gets, the licenses and numbers the batch needs against what is free), the license stock while the
 * batch waits for a purchase, and following row runs the batch did not start itself.
 *
 * The plan reads the tenant in bulk (a handful of paged lists for the whole batch), so a real run's
 * plan costs a few calls however many rows; a dry run adds one lookup per row for what only a
 * per-account read shows (a UPN held by an ordinary user, an existing account's kind).
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { mapConcurrently, untilAborted } from '../lib/concurrency';
import { ErrorType } from '../lib/error-types';
import { RESOURCE_ACCOUNT_SKU_PART_NUMBER } from '../lib/microsoft';
import type { DeletedAccountPolicy } from '../lib/validation';
import { ANY_NUMBER } from '../workflows/provision-batch/definitions';
import type { BatchPlan, BatchRowRequest, BatchTotals, RowAction, RowPlan, RowProblem } from '../workflows/provision-batch/definitions';
import { searchAttributes } from '../workflows/provision-resource-account/definitions';
import type { ProvisionResourceAccountStatus, ProvisioningState } from '../workflows/provision-resource-account/definitions';
import { assessLicenseStock, findSubscribedSku } from './graph/licenses';
import { listNumbers } from './graph/number-inventory';
import type { NumberAssignment } from './graph/number-inventory';
import { deletedUserUpn, findUserByUpn, isApplicationInstance, listDeletedUsers, listResourceAccountUsers } from './graph/users';
import type { DirectoryUser } from './graph/users';
import { accountKindProblem } from './account-checks';
import { activationFailed, activationFailedMessage, activationSettled, isFreeServiceNumber, numberProblems } from './number-checks';
import { verifiedDomains } from './graph/organization';
import type { TeamsAdmin } from './teams-admin/teams-admin';

/** Per-row lookups of a dry run at once (each still goes through the pacer). */
const LOOKUP_CONCURRENCY = 8;

export interface PlanBatchInput {
  /** The rows to plan, each with its 1-based row number. */
  rows: Array<BatchRowRequest & { row: number }>;
  /** `dry-run` adds the per-row lookups; `run` reads in bulk only (each row's own pre-flight checks the rest). */
  mode: 'dry-run' | 'run';
  /** Numbers other rows of the batch already hold or were given: never allocated again. */
  reservedNumbers?: string[];
  onDeletedAccount?: DeletedAccountPolicy;
}

export interface ReadLicenseStockInput {
  needed: number;
}
export interface ReadLicenseStockOutput {
  free: number;
  enabled: number;
  /** Set when licenses cannot be assigned at all (no subscription, or an inactive one). */
  problem?: string;
}

export interface FollowRunsInput {
  runs: Array<{ workflowId: string; runId?: string }>;
}
/** Where a row's run stands: what a look at it finds, and what it reports to its batch by itself. */
export interface FollowedRun {
  workflowId: string;
  runId?: string;
  /** The run's state; `failed` when the execution failed, timed out or was terminated; `missing` when there is none. */
  state: ProvisioningState | 'failed' | 'missing';
  step?: string;
  error?: { type: string; message: string };
  accountId?: string;
  phoneNumber?: string;
  outcome?: string;
}
export interface FollowRunsOutput {
  runs: FollowedRun[];
}

export interface BatchActivityDeps {
  graph: Client;
  teamsAdmin: TeamsAdmin;
  onDeletedAccount?: DeletedAccountPolicy;
}

/** Toll-free ranges where they are known by prefix (NANP 8XX, UK 0800/0808); elsewhere a number with no city. */
const TOLL_FREE_PREFIXES = ['+1800', '+1833', '+1844', '+1855', '+1866', '+1877', '+1888', '+44800', '+44808'];
export function isTollFree(number: Pick<NumberAssignment, 'telephoneNumber' | 'city' | 'isoCountryCode'>): boolean {
  if (number.telephoneNumber.startsWith('+1') || number.telephoneNumber.startsWith('+44')) {
    return TOLL_FREE_PREFIXES.some((prefix) => number.telephoneNumber.startsWith(prefix));
  }
  return !number.city;
}

function describeChoice(row: BatchRowRequest): string {
  const kind = row.tollFree === true ? ' toll-free' : row.tollFree === false ? ' toll' : '';
  return `free ${row.usageLocation}${kind} service number${row.numberCity ? ` in ${row.numberCity}` : ''}`;
}

export function createBatchActivities({ graph, teamsAdmin, onDeletedAccount: workerPolicy = 'stop' }: BatchActivityDeps) {
  return {
    async planBatch(input: PlanBatchInput): Promise<BatchPlan> {
      const readAt = new Date().toISOString();
      const [domains, sku, instances, deleted, inventory] = await Promise.all([
        verifiedDomains(graph),
        findSubscribedSku(graph),
        listResourceAccountUsers<DirectoryUser>(graph, ['id', 'userPrincipalName', 'displayName', 'department', 'assignedLicenses']).then(({ users }) => users.filter(isApplicationInstance)),
        listDeletedUsers(graph),
        listNumbers(graph, "numberType eq 'callingPlan'", "list the tenant's Calling Plan numbers"),
      ]);
      const policy = input.onDeletedAccount ?? workerPolicy;
      const byUpn = new Map(instances.map((user) => [user.userPrincipalName.toLowerCase(), user]));
      const upnById = new Map(instances.map((user) => [user.id, user.userPrincipalName]));
      const deletedUpns = new Map(deleted.map((user) => [deletedUserUpn(user), user]));
      const numbers = new Map(inventory.map((number) => [number.telephoneNumber, number]));
      const fixed = new Set(input.rows.filter((row) => row.phoneNumber !== ANY_NUMBER).map((row) => row.phoneNumber));
      const taken = new Set([...fixed, ...(input.reservedNumbers ?? [])]);
      const pool = inventory.filter((number) => isFreeServiceNumber(number) && !taken.has(number.telephoneNumber))
        .sort((a, b) => a.telephoneNumber.localeCompare(b.telephoneNumber));

      // Per-row reads only a dry run makes: an ordinary user holding the UPN, an existing account's kind.
      const lookups = input.mode === 'dry-run'
        ? await mapConcurrently(input.rows, LOOKUP_CONCURRENCY, async (row) => {
            Context.current().heartbeat();
            const upn = row.upn.toLowerCase();
            if (byUpn.has(upn)) return { instance: await teamsAdmin.findByUpn(row.upn).catch(() => undefined), user: undefined };
            if (deletedUpns.has(upn)) return { instance: undefined, user: undefined };
            return { instance: undefined, user: await findUserByUpn(graph, row.upn) };
          })
        : [];

      const plans: RowPlan[] = input.rows.map((row, index) => {
        const upn = row.upn.toLowerCase();
        const problems: RowProblem[] = [];
        const domain = upn.slice(upn.lastIndexOf('@') + 1);
        if (!domains.includes(domain)) {
          problems.push({ type: ErrorType.DomainNotVerified, field: 'upn', message: `${domain} is not a verified domain of the tenant (verified: ${domains.join(', ') || 'none readable'}); verify it in the Microsoft 365 admin center (Settings > Domains) or use a verified one` });
        }
        const existing = byUpn.get(upn);
        const lookup = lookups[index];
        let conflict = false;
        if (existing) {
          const problem = lookup?.instance ? accountKindProblem(row.upn, lookup.instance.applicationId, row.kind) : undefined;
          if (problem) {
            conflict = true;
            problems.push(problem);
          }
        } else if (deletedUpns.has(upn) && policy === 'stop') {
          conflict = true;
          problems.push({ type: ErrorType.DeletedAccountHoldsUpn, field: 'upn', message: `${row.upn} is held by a deleted account (object id ${deletedUpns.get(upn)?.id}), kept 30 days in Entra's deleted users; set rowOptions.onDeletedAccount "restore" or "purge", or choose another UPN` });
        } else if (lookup?.user && !isApplicationInstance(lookup.user)) {
          conflict = true;
          problems.push({ type: ErrorType.UpnConflict, field: 'upn', message: `${row.upn} is already used by a directory user that is not a resource account (object id ${lookup.user.id}); choose another UPN` });
        }
        const accountId = existing?.id;
        const holdsLicense = (existing?.assignedLicenses ?? []).some((l) => l.skuId === sku?.skuId);

        let phoneNumber: string | undefined;
        let allocated = false;
        let numberDone = false;
        if (row.phoneNumber === ANY_NUMBER) {
          const own = accountId ? inventory.find((n) => n.assignmentTargetId === accountId && n.numberType === 'callingPlan') : undefined;
          if (own && accountId) {
            phoneNumber = own.telephoneNumber;
            // A number whose activation is pending or failed is not done; a failed one needs a person first.
            numberDone = activationSettled(own);
            if (activationFailed(own)) {
              problems.push({ type: ErrorType.NumberActivationFailed, field: 'phoneNumber', message: activationFailedMessage(own.telephoneNumber, accountId, own.activationState) });
            }
          } else if (!conflict) {
            const at = pool.findIndex((n) =>
              (n.isoCountryCode ?? '').toUpperCase() === row.usageLocation &&
              (row.numberCity === undefined || (n.city ?? '').toLowerCase() === row.numberCity.toLowerCase()) &&
              (row.tollFree === undefined || isTollFree(n) === row.tollFree));
            const chosen = at >= 0 ? pool.splice(at, 1)[0] : undefined;
            if (chosen) {
              phoneNumber = chosen.telephoneNumber;
              allocated = true;
            } else {
              problems.push({ type: ErrorType.NumberNotFound, field: 'phoneNumber', message: `no ${describeChoice(row)} is left in the tenant's inventory for this row; get more in the Teams admin center (Voice > Phone numbers > Add), relax numberCity / tollFree, or give a number` });
            }
          }
        } else {
          phoneNumber = row.phoneNumber;
          const found = numbers.get(row.phoneNumber);
          numberDone = Boolean(accountId && found?.assignmentTargetId === accountId && activationSettled(found));
          const holder = found?.assignmentTargetId ? upnById.get(found.assignmentTargetId) : undefined;
          problems.push(...numberProblems(found, { phoneNumber: row.phoneNumber, numberType: 'callingPlan', usageLocation: row.usageLocation }, accountId, holder));
        }
        const action: RowAction = conflict ? 'conflict' : existing ? (holdsLicense && numberDone ? 'already-provisioned' : 'adopt') : 'create';
        return {
          row: row.row,
          upn: row.upn,
          action,
          ...(phoneNumber ? { phoneNumber } : {}),
          ...(allocated ? { allocated } : {}),
          ...(accountId ? { accountId } : {}),
          needsLicense: action !== 'conflict' && !holdsLicense,
          problems,
        };
      });
      return { rows: plans, totals: totalsOf(plans, input.rows, inventory, taken, sku ? assessLicenseStock(sku, 0).stock?.available ?? 0 : 0), readAt };
    },

    async readLicenseStock({ needed }: ReadLicenseStockInput): Promise<ReadLicenseStockOutput> {
      const { stock, problem } = assessLicenseStock(await findSubscribedSku(graph), needed);
      const free = stock?.available ?? 0;
      return { free, enabled: stock?.enabled ?? 0, ...(problem && problem.type !== ErrorType.LicensesInsufficient ? { problem: problem.message } : {}) };
    },

    /** Where runs the batch did not start itself stand (joined runs, and runs of its earlier generations). */
    async followRuns({ runs }: FollowRunsInput): Promise<FollowRunsOutput> {
      const client = Context.current().client;
      // A query needs a workflow task: a worker shutting down stops polling those before its activities
      // end, so the lookups are abandoned at the activity's cancellation instead of holding the shutdown.
      const followed = await untilAborted(mapConcurrently(runs, LOOKUP_CONCURRENCY, async ({ workflowId, runId }): Promise<FollowedRun> => {
        Context.current().heartbeat();
        const handle = client.workflow.getHandle<() => Promise<ProvisionResourceAccountStatus>>(workflowId, runId);
        let description;
        try {
          description = await handle.describe();
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return { workflowId, ...(runId ? { runId } : {}), state: 'missing' };
          throw err;
        }
        const base = { workflowId, runId: description.runId };
        switch (description.status.name) {
          case 'RUNNING': {
            const state = description.typedSearchAttributes.get(searchAttributes.state);
            if (state !== 'needs-attention') return { ...base, state: 'running' };
            const status = await handle.query<ProvisionResourceAccountStatus>('getStatus');
            return {
              ...base,
              state: 'needs-attention',
              ...(status.attention ? { step: status.attention.step, error: { type: status.attention.error.type, message: status.attention.error.message } } : {}),
              ...(status.accountId ? { accountId: status.accountId } : {}),
              phoneNumber: status.request.phoneNumber,
            };
          }
          case 'COMPLETED': {
            const status = await handle.result();
            return {
              ...base,
              state: status.state,
              ...(status.accountId ? { accountId: status.accountId } : {}),
              phoneNumber: status.request.phoneNumber,
              ...(status.outcome ? { outcome: status.outcome } : {}),
            };
          }
          case 'CANCELLED':
            return { ...base, state: 'cancelled', outcome: 'cancelled' };
          default:
            return { ...base, state: 'failed', error: { type: `Run${description.status.name}`, message: `the run ended ${description.status.name.toLowerCase().replaceAll('_', ' ')}` } };
        }
      }), Context.current().cancellationSignal);
      return { runs: followed };
    },
  };
}

function totalsOf(plans: RowPlan[], rows: BatchRowRequest[], inventory: NumberAssignment[], taken: Set<string>, free: number): BatchTotals {
  const byAction: Record<RowAction, number> = { create: 0, adopt: 0, 'already-provisioned': 0, conflict: 0 };
  for (const plan of plans) byAction[plan.action] += 1;
  const needed = plans.filter((plan) => plan.needsLicense).length;
  const countries = new Map<string, { needed: number; free: number }>();
  for (const [index, plan] of plans.entries()) {
    const row = rows[index];
    if (!row || plan.action === 'conflict' || plan.action === 'already-provisioned') continue;
    const entry = countries.get(row.usageLocation) ?? { needed: 0, free: 0 };
    entry.needed += 1;
    countries.set(row.usageLocation, entry);
  }
  const planned = new Set(plans.map((p) => p.phoneNumber));
  for (const number of inventory) {
    const country = (number.isoCountryCode ?? '').toUpperCase();
    const entry = countries.get(country);
    // Free for this batch: free in the inventory and not held for another use; a fixed row's own free number counts.
    if (entry && isFreeServiceNumber(number) && (!taken.has(number.telephoneNumber) || planned.has(number.telephoneNumber))) entry.free += 1;
  }
  return {
    rows: plans.length,
    byAction,
    rowsWithProblems: plans.filter((plan) => plan.problems.length > 0).length,
    licenses: { needed, free, short: Math.max(0, needed - free), skuPartNumber: RESOURCE_ACCOUNT_SKU_PART_NUMBER },
    numbers: [...countries.entries()].sort(([a], [b]) => a.localeCompare(b))
      .map(([country, { needed: n, free: f }]) => ({ country, needed: n, free: f, short: Math.max(0, n - f) })),
  };
}
