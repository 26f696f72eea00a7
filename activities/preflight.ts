/**
 * The pre-flight: everything about a request that can be known before the first write — license stock,
 * the UPN's domain, what already holds the UPN, and the number (in the inventory, a service number of
 * the right type, free or already this account's, of the usage location's country). Reads only; every
 * problem is returned at once, so a person fixes them in one go and nothing was changed meanwhile.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../lib/error-types';
import { kindForApplicationId } from '../lib/microsoft';
import type { DeletedAccountPolicy } from '../lib/validation';
import { call, callUnlessMissing } from './graph/errors';
import { assessLicenseStock, findSubscribedSku } from './graph/licenses';
import { verifiedDomains } from './graph/organization';
import type { TenantReads } from './graph/shared-reads';
import { findNumber } from './graph/number-inventory';
import type { NumberWatch } from './graph/number-watch';
import { accountKindProblem } from './account-checks';
import { numberProblems } from './number-checks';
import { USER_READ, findDeletedUserByUpn, findUserByUpn, isApplicationInstance } from './graph/users';
import type { TeamsAdmin } from './teams-admin/teams-admin';
import { TEAMS_ADMIN_ROLE, associatedElsewhere, voiceAppMissing } from './teams-admin/associations';
import type { PreflightInput, PreflightOutput, PreflightProblem } from './types';


export interface PreflightDeps {
  graph: Client;
  teamsAdmin: TeamsAdmin;
  onDeletedAccount?: DeletedAccountPolicy;
  /** The worker's shared number watch: the number's lookup is gathered with other runs' lookups. Read alone when absent. */
  numberWatch?: NumberWatch;
  /** The worker's shared tenant-wide reads (domains, SKUs, deleted users): concurrent pre-flights share one read of each. Read alone when absent. */
  tenantReads?: TenantReads;
}

/** Who holds a number, as a person recognises it: the UPN (or that it is a deleted account), else the object id. */
async function describeHolder(graph: Client, id: string): Promise<string> {
  const ctx = { action: `look up the holder ${id} of a number`, permission: USER_READ };
  const user = (await callUnlessMissing(ctx, () => graph.api(`/users/${encodeURIComponent(id)}`).select(['userPrincipalName', 'displayName']).get())) as
    | { userPrincipalName?: string; displayName?: string | null }
    | undefined;
  if (user?.userPrincipalName) return `${user.userPrincipalName}${user.displayName ? ` ("${user.displayName}")` : ''}`;
  const deleted = (await callUnlessMissing(ctx, () =>
    graph.api(`/directory/deletedItems/${encodeURIComponent(id)}`).select(['userPrincipalName']).get(),
  )) as { userPrincipalName?: string } | undefined;
  if (deleted?.userPrincipalName) return `the deleted account ${deleted.userPrincipalName} (object id ${id}; Teams keeps its number until it is unassigned)`;
  return `object id ${id} (not a user this app can read)`;
}

export function createPreflightActivities({ graph, teamsAdmin, onDeletedAccount = 'stop', numberWatch, tenantReads }: PreflightDeps) {
  return {
    async preflight(input: PreflightInput): Promise<PreflightOutput> {
      const { upn, kind, phoneNumber } = input;
      const problems: PreflightProblem[] = [];
      const domain = upn.slice(upn.lastIndexOf('@') + 1).toLowerCase();
      const { association } = input;
      const [domains, user, sku, number, voiceApp] = await Promise.all([
        tenantReads ? tenantReads.verifiedDomains() : verifiedDomains(graph),
        tenantReads ? tenantReads.userByUpn(upn) : findUserByUpn(graph, upn),
        tenantReads ? tenantReads.subscribedSku() : findSubscribedSku(graph),
        numberWatch ? numberWatch.lookup(phoneNumber) : findNumber(graph, phoneNumber),
        association
          ? call({ action: `look up the auto attendant or call queue ${association.configurationId}`, permission: TEAMS_ADMIN_ROLE },
            () => teamsAdmin.findVoiceApp(association.configurationType, association.configurationId))
          : Promise.resolve(undefined),
      ]);
      if (association && !voiceApp) problems.push({ type: ErrorType.VoiceAppNotFound, field: 'association', message: voiceAppMissing(association) });

      if (!domains.includes(domain)) {
        problems.push({
          type: ErrorType.DomainNotVerified,
          field: 'upn',
          message: `${domain} is not a verified domain of the tenant (verified: ${domains.join(', ') || 'none readable'}). ` +
            'Add and verify it in the Microsoft 365 admin center (Settings > Domains), or use one of the verified domains.',
        });
      }

      // What holds the UPN now: nothing, a resource account (adopted when of the right kind), a user, or a deleted account.
      let account: PreflightOutput['account'] = { state: 'absent' };
      if (user && !isApplicationInstance(user)) {
        problems.push({
          type: ErrorType.UpnConflict,
          field: 'upn',
          message: `${upn} is already used by ${user.displayName ? `"${user.displayName}", ` : ''}a directory user that is not a resource account ` +
            `(object id ${user.id}). Choose another UPN, or rename or delete that user.`,
        });
        account = { state: 'other-user', accountId: user.id };
      } else if (user) {
        const instance = await call({ action: `look up resource account ${upn}`, permission: TEAMS_ADMIN_ROLE }, () => teamsAdmin.findByUpn(upn));
        if (!instance) {
          // Created moments ago: Teams lists it later. Its kind decides adopt or conflict, so look again shortly.
          throw ApplicationFailure.create({
            type: ErrorType.NotYetVisible,
            message: `${upn}: the directory has this resource account but the Teams admin service does not list it yet; looking again shortly`,
          });
        }
        const existingKind = kindForApplicationId(instance.applicationId);
        const conflict = accountKindProblem(upn, instance.applicationId, kind);
        if (conflict) problems.push(conflict);
        const current = association
          ? await call({ action: `read the association of ${upn}`, permission: TEAMS_ADMIN_ROLE }, () => teamsAdmin.getAssociation(user.id))
          : undefined;
        if (association && current && current.configurationId.toLowerCase() !== association.configurationId.toLowerCase()) {
          problems.push({ type: ErrorType.AssociationConflict, field: 'association', message: associatedElsewhere(upn, current, association.configurationId) });
        }
        account = {
          state: 'resource-account',
          accountId: user.id,
          ...(existingKind ? { kind: existingKind } : {}),
          holdsLicense: (user.assignedLicenses ?? []).some((l) => l.skuId === sku?.skuId),
          ...(current ? { associatedWith: current.configurationId } : {}),
        };
      } else {
        const deleted = tenantReads ? await tenantReads.deletedUserByUpn(upn) : await findDeletedUserByUpn(graph, upn);
        if (deleted) {
          const policy = input.onDeletedAccount ?? onDeletedAccount;
          account = { state: 'deleted', accountId: deleted.id, policy };
          if (policy === 'stop') {
            problems.push({
              type: ErrorType.DeletedAccountHoldsUpn,
              field: 'upn',
              message: `${upn} is held by a deleted account (object id ${deleted.id}${deleted.deletedDateTime ? `, deleted ${deleted.deletedDateTime}` : ''}), ` +
                "which Microsoft keeps in Entra's deleted users for 30 days. Decide retry with onDeletedAccount \"restore\" (bring it back and use it) " +
                'or "purge" (delete it permanently and create a new one), or choose another UPN.',
            });
          }
        }
      }

      const needed = account.state === 'resource-account' && account.holdsLicense ? 0 : 1;
      const { stock, problem } = assessLicenseStock(sku, needed);
      if (problem) problems.push({ type: problem.type, field: 'licenses', message: problem.message });

      const accountId = account.state === 'resource-account' ? account.accountId : undefined;
      const holder = number?.assignmentTargetId && number.assignmentTargetId !== accountId ? await describeHolder(graph, number.assignmentTargetId) : undefined;
      problems.push(...numberProblems(number, input, accountId, holder));
      return {
        problems,
        ...(stock ? { license: stock } : {}),
        account,
        ...(number
          ? {
              number: {
                numberType: number.numberType,
                ...(number.isoCountryCode ? { isoCountryCode: number.isoCountryCode } : {}),
                ...(number.city ? { city: number.city } : {}),
                onThisAccount: account.accountId !== undefined && number.assignmentTargetId === account.accountId,
              },
            }
          : {}),
      };
    },
  };
}
