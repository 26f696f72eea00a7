/**
 * Step 6 (optional): associate the resource account with an existing auto attendant or call queue
 * (`New-CsOnlineApplicationInstanceAssociation`), and its undo. Microsoft's order: number, then
 * association ("Follow these steps in this order", manage-resource-accounts); the account needs its
 * license in Teams first ("an internal check will cause a failure" without it).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { call } from '../graph/errors';
import type { AssociateAccountInput, AssociateAccountOutput, RemoveAssociationInput, RemoveAssociationOutput } from '../types';
import { TEAMS_CMDLETS_GRAPH_PERMISSION } from './teams-admin';
import type { Association, TeamsAdmin, TeamsAdminError } from './teams-admin';

export const TEAMS_ADMIN_ROLE = 'a Teams administrator role (Teams Administrator, Teams Communications Administrator or Teams Telephony Administrator) on its service principal, ' +
  `and ${TEAMS_CMDLETS_GRAPH_PERMISSION}`;

function voiceAppWords(type: Association['configurationType']): string {
  return type === 'AutoAttendant' ? 'auto attendant' : 'call queue';
}

/** The account's license has not reached Teams yet (module error code AppEndpointMissingProvisioning): wait. */
function notProvisionedYet(e: TeamsAdminError): boolean {
  return /MissingProvisioning/i.test(e.details.code ?? '') || /MissingProvisioning|not provisioned/i.test(e.message);
}

export function voiceAppMissing(input: { configurationId: string; configurationType: Association['configurationType'] }): string {
  const what = voiceAppWords(input.configurationType);
  return `No ${what} with identity ${input.configurationId} exists in the tenant. Create it first (Teams admin center > Voice > ` +
    `${input.configurationType === 'AutoAttendant' ? 'Auto attendants' : 'Call queues'}, or ${input.configurationType === 'AutoAttendant' ? 'New-CsAutoAttendant' : 'New-CsCallQueue'}), ` +
    `or name an existing one: ${input.configurationType === 'AutoAttendant' ? 'Get-CsAutoAttendant' : 'Get-CsCallQueue'} | Select Identity, Name.`;
}

export function associatedElsewhere(upn: string, current: Association, wanted: string): string {
  return `${upn} is already associated with the ${voiceAppWords(current.configurationType)} ${current.configurationId}, not ${wanted}. ` +
    `Remove that association first (Remove-CsOnlineApplicationInstanceAssociation -Identities ${current.objectId}, or the Teams admin center), ` +
    'or name that configuration in the request.';
}

export function createAssociationActivities({ teamsAdmin }: { teamsAdmin: TeamsAdmin }) {
  return {
    async associateAccount(input: AssociateAccountInput): Promise<AssociateAccountOutput> {
      const { accountId, upn, configurationId, configurationType } = input;
      const ctx = { action: `associate ${upn} with the ${voiceAppWords(configurationType)} ${configurationId}`, permission: TEAMS_ADMIN_ROLE };
      const before = await call(ctx, () => teamsAdmin.getAssociation(accountId));
      if (before) {
        if (before.configurationId.toLowerCase() === configurationId.toLowerCase()) return { associated: false, alreadyAssociated: true };
        throw ApplicationFailure.create({ type: ErrorType.AssociationConflict, nonRetryable: true, message: associatedElsewhere(upn, before, configurationId) });
      }
      let conflicted = false;
      await call({
        ...ctx,
        classifyTeams: (e) => {
          if (e.kind === 'conflict') {
            conflicted = true;
            return ApplicationFailure.create({ type: ErrorType.AssociationConflict, message: e.message });
          }
          if (e.kind === 'notFound' && /AppEndpointNotFound/i.test(e.details.code ?? e.message)) {
            return ApplicationFailure.create({ type: ErrorType.NotYetVisible, message: `${upn}: Teams does not know the account as an application endpoint yet; trying again shortly` });
          }
          if (e.kind === 'notFound') return ApplicationFailure.create({ type: ErrorType.VoiceAppNotFound, nonRetryable: true, message: voiceAppMissing(input) });
          if (notProvisionedYet(e)) {
            return ApplicationFailure.create({
              type: ErrorType.AccountNotReadyForAssociation,
              message: `${upn}: Teams does not see the account's license yet, so it refuses the association (${e.message}); trying again`,
            });
          }
          return undefined;
        },
      }, () => teamsAdmin.associate({ objectId: accountId, configurationId, configurationType, ...(input.callPriority ? { callPriority: input.callPriority } : {}) }))
        .catch(async (err: unknown) => {
          if (!conflicted) throw err;
          // Refused as associated: an earlier attempt whose answer was lost may have made it. Read what is there.
          const now = await call(ctx, () => teamsAdmin.getAssociation(accountId));
          if (now?.configurationId.toLowerCase() === configurationId.toLowerCase()) return now;
          if (now) throw ApplicationFailure.create({ type: ErrorType.AssociationConflict, nonRetryable: true, message: associatedElsewhere(upn, now, configurationId) });
          throw err;
        });
      return { associated: true, alreadyAssociated: false };
    },

    async removeAssociation(input: RemoveAssociationInput): Promise<RemoveAssociationOutput> {
      const ctx = { action: `remove the association of ${input.accountId}`, permission: TEAMS_ADMIN_ROLE };
      const current = await call(ctx, () => teamsAdmin.getAssociation(input.accountId));
      // Only the association this run made is removed: one to another configuration is someone else's now.
      if (!current || current.configurationId.toLowerCase() !== input.configurationId.toLowerCase()) return { removed: false };
      return { removed: await call(ctx, () => teamsAdmin.removeAssociation(input.accountId)) };
    },
  };
}
