/**
 * Step 2: create (or adopt) the resource account as a Teams application instance. When the UPN is
 * taken, Graph tells by whom: an instance the Teams admin service does not list yet, an ordinary user,
 * or a deleted account still in Entra's deleted users, which the run restores, purges or reports,
 * as its policy says.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_APP_IDS } from '../../lib/microsoft';
import { accountKindProblem } from '../account-checks';
import type { DeletedAccountPolicy } from '../../lib/validation';
import { call } from '../graph/errors';
import { findDeletedUserByUpn, findUserByUpn, isApplicationInstance, purgeDeletedUser, restoreDeletedUser } from '../graph/users';
import { previousDetails } from '../polling';
import type { CreateResourceAccountInput, CreateResourceAccountOutput } from '../types';
import { TEAMS_CMDLETS_GRAPH_PERMISSION } from './teams-admin';
import type { TeamsAdmin, TeamsAdminError } from './teams-admin';

const ROLE = `a Teams administrator role and User Administrator (directory roles on its service principal), and ${TEAMS_CMDLETS_GRAPH_PERMISSION}`;

export interface ResourceAccountActivityDeps {
  teamsAdmin: TeamsAdmin;
  graph: Client;
  /** What to do when a deleted account holds the UPN, unless the run says otherwise. Default `stop`. */
  onDeletedAccount?: DeletedAccountPolicy;
}

const RETENTION_DAYS = 30;

/**
 * How long a UPN conflict that nothing visible explains is taken for replication lag (an object created
 * moments ago that Graph's replicas do not show yet) before it is reported as someone else's object.
 * Microsoft gives no replication SLA; "seconds, sometimes 1–2 minutes" (reference notes 7).
 */
export const UNEXPLAINED_CONFLICT_GRACE_MS = 5 * 60_000;

/**
 * What a previous attempt of this step left in its heartbeat. Whether the run owns the account (and may
 * delete it on roll-back) hangs on `createUnknown`: only a create whose answer never came may have made
 * the account this step later finds; a create answered with a conflict made nothing.
 */
interface CreateDetails {
  /** An attempt sent a create and never learnt its outcome (lost answer, crash): what is found later may be its. */
  createUnknown?: boolean;
  /** This step restored that deleted account. */
  restoredAccountId?: string;
  /** This step purged that deleted account. */
  purgedDeletedAccountId?: string;
  /** When (epoch ms) a conflict that nothing visible explained was first seen. */
  unexplainedConflictSince?: number;
}

function notYetListed(upn: string, why: string): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorType.NotYetVisible, message: `${upn}: ${why}; looking again shortly` });
}

export function createResourceAccountActivities({ teamsAdmin, graph, onDeletedAccount = 'stop' }: ResourceAccountActivityDeps) {
  /**
   * The UPN is taken but the Teams admin service does not list it: find out by whom, and either wait
   * (an instance not listed yet), stop (someone else's object), or deal with a deleted account.
   */
  async function resolveConflict(
    input: CreateResourceAccountInput,
    conflict: TeamsAdminError,
    previous: Partial<CreateDetails>,
    details: CreateDetails,
  ): Promise<never> {
    const { upn } = input;
    const holder = await findUserByUpn(graph, upn);
    if (holder) {
      if (isApplicationInstance(holder)) throw notYetListed(upn, 'the directory has this resource account but the Teams admin service does not list it yet');
      throw ApplicationFailure.create({
        type: ErrorType.UpnConflict,
        nonRetryable: true,
        message: `${upn} is already used by ${holder.displayName ? `"${holder.displayName}", ` : ''}a directory user that is not a resource account ` +
          `(object id ${holder.id}). Choose another UPN, or rename or delete that user.`,
      });
    }
    // An earlier attempt of this step may have created it; the directory has not replicated it yet.
    if (previous.createUnknown) throw notYetListed(upn, 'an earlier attempt created this account and it is not visible yet');

    const deleted = await findDeletedUserByUpn(graph, upn);
    if (!deleted) {
      const since = previous.unexplainedConflictSince ?? Date.now();
      if (Date.now() - since < UNEXPLAINED_CONFLICT_GRACE_MS) {
        Context.current().heartbeat({ ...details, unexplainedConflictSince: since } satisfies CreateDetails);
        throw notYetListed(upn, 'the directory reports the UPN as taken but no replica shows by what yet');
      }
      throw ApplicationFailure.create({
        type: ErrorType.UpnConflict,
        nonRetryable: true,
        message: `${upn} is already used by another directory object (a group, a contact or a mailbox alias; none that the app can read): ` +
          `${conflict.message} Choose another UPN or remove that object.`,
      });
    }
    const policy = input.onDeletedAccount ?? onDeletedAccount;
    const deletedAt = deleted.deletedDateTime ? new Date(deleted.deletedDateTime) : undefined;
    const until = deletedAt ? new Date(deletedAt.getTime() + RETENTION_DAYS * 24 * 60 * 60 * 1000) : undefined;
    if (policy === 'purge') {
      await purgeDeletedUser(graph, deleted.id);
      Context.current().heartbeat({ ...details, purgedDeletedAccountId: deleted.id } satisfies CreateDetails);
      throw notYetListed(upn, `permanently deleted the deleted account ${deleted.id} that held the UPN; creating the account next`);
    }
    if (policy === 'restore') {
      await restoreDeletedUser(graph, deleted.id);
      Context.current().heartbeat({ ...details, restoredAccountId: deleted.id } satisfies CreateDetails);
      throw notYetListed(upn, `restored the deleted account ${deleted.id}; adopting it once Teams lists it again`);
    }
    throw ApplicationFailure.create({
      type: ErrorType.DeletedAccountHoldsUpn,
      nonRetryable: true,
      message: `${upn} is held by a deleted account (object id ${deleted.id}${deletedAt ? `, deleted ${deletedAt.toISOString()}` : ''}), which ` +
        `Microsoft keeps in Entra's deleted users for ${RETENTION_DAYS} days${until ? `, until ${until.toISOString()}` : ''}. Decide retry with ` +
        'onDeletedAccount "restore" (bring that account back and use it) or "purge" (delete it permanently and create a new one); ' +
        'or purge it yourself in the Microsoft Entra admin center (Users > Deleted users) and retry, or choose another UPN.',
      details: [{ deletedAccountId: deleted.id, deletedDateTime: deleted.deletedDateTime ?? null }],
    });
  }

  return {
    async createResourceAccount(input: CreateResourceAccountInput): Promise<CreateResourceAccountOutput> {
      const { upn, displayName, kind } = input;
      const previous = previousDetails<CreateDetails>();
      const purged = previous.purgedDeletedAccountId ? { purgedDeletedAccountId: previous.purgedDeletedAccountId } : {};
      const existing = await call({ action: `look up resource account ${upn}`, permission: ROLE }, () => teamsAdmin.findByUpn(upn));
      if (existing) {
        const conflict = accountKindProblem(upn, existing.applicationId, kind);
        if (conflict) throw ApplicationFailure.create({ type: conflict.type, nonRetryable: true, message: conflict.message });
        // Adopted unless this step restored it or an earlier attempt's create, whose answer was lost, made it.
        const restored = previous.restoredAccountId === existing.objectId;
        const ours = restored || previous.createUnknown === true;
        return { accountId: existing.objectId, adopted: !ours, ...(restored ? { restored } : {}), ...purged };
      }

      Context.current().heartbeat({ ...previous, createUnknown: true } satisfies CreateDetails);
      let conflict: TeamsAdminError | undefined;
      const created = await call(
        {
          action: `create resource account ${upn}`,
          permission: ROLE,
          classifyTeams: (e: TeamsAdminError) => {
            if (e.kind === 'conflict') {
              conflict = e;
              return ApplicationFailure.create({ type: ErrorType.UpnConflict, message: e.message });
            }
            if (e.kind === 'domainNotVerified') {
              return ApplicationFailure.create({
                type: ErrorType.DomainNotVerified,
                nonRetryable: true,
                message: `${upn}: ${e.message} Add and verify the domain in the Microsoft 365 admin center, or use the tenant's onmicrosoft.com domain.`,
              });
            }
            return undefined;
          },
        },
        () => teamsAdmin.create({ userPrincipalName: upn, displayName, applicationId: RESOURCE_ACCOUNT_APP_IDS[kind] }),
      ).catch(async (err: unknown) => {
        if (!conflict) throw err;
        // Answered with a conflict: this create made nothing.
        const details: CreateDetails = { ...previous, createUnknown: previous.createUnknown ?? false };
        Context.current().heartbeat(details);
        return resolveConflict(input, conflict, previous, details);
      });
      return { accountId: created.objectId, adopted: false, ...purged };
    },
  };
}
