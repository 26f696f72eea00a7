/** Step 2: create (or adopt) the resource account as a Teams application instance. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_APP_IDS, kindForApplicationId } from '../../lib/microsoft';
import { call } from '../graph/errors';
import type { ServiceError } from '../graph/errors';
import { previousDetails } from '../polling';
import type { CreateResourceAccountInput, CreateResourceAccountOutput } from '../types';
import type { TeamsAdminClient } from './client';

const ROLE = 'the Teams Administrator directory role (on its service principal)';

export interface ResourceAccountActivityDeps {
  teamsAdmin: TeamsAdminClient;
}

const KIND_WORDS = { autoAttendant: 'auto attendant', callQueue: 'call queue' } as const;

export function createResourceAccountActivities({ teamsAdmin }: ResourceAccountActivityDeps) {
  return {
    async createResourceAccount({ upn, displayName, kind }: CreateResourceAccountInput): Promise<CreateResourceAccountOutput> {
      const previous = previousDetails<{ preExisting: boolean }>();
      const existing = await call({ action: `look up resource account ${upn}`, permission: ROLE }, () => teamsAdmin.findByUpn(upn));
      if (existing) {
        const existingKind = kindForApplicationId(existing.applicationId);
        if (existingKind === undefined) {
          throw ApplicationFailure.create({
            type: ErrorType.UpnConflict,
            nonRetryable: true,
            message: `${upn} is already a resource account of another application (${existing.applicationId}); choose another UPN.`,
          });
        }
        if (existingKind !== kind) {
          throw ApplicationFailure.create({
            type: ErrorType.AccountKindConflict,
            nonRetryable: true,
            message: `${upn} already exists as a ${KIND_WORDS[existingKind]} resource account, not a ${KIND_WORDS[kind]}. Choose another UPN, or request kind ${existingKind}.`,
          });
        }
        // Adopted only if it was there before this step first looked; otherwise an earlier attempt created it.
        return { accountId: existing.objectId, adopted: previous.preExisting ?? true };
      }

      Context.current().heartbeat({ preExisting: false });
      const created = await call(
        {
          action: `create resource account ${upn}`,
          permission: ROLE,
          classify: (e: ServiceError) => {
            if (e.status === 409) {
              // An earlier attempt may have created it on a replica this lookup did not reach.
              if (previous.preExisting === false) {
                return ApplicationFailure.create({ type: ErrorType.NotYetVisible, message: `${upn} exists but is not visible yet: ${e.message}` });
              }
              return ApplicationFailure.create({
                type: ErrorType.UpnConflict,
                nonRetryable: true,
                message: `${upn} is already used by another directory object (a user, a group, or a deleted user still in the recycle bin): ${e.message} Choose another UPN or remove that object.`,
              });
            }
            if (e.status === 400 && /domain/i.test(e.message)) {
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
      );
      return { accountId: created.objectId, adopted: false };
    },
  };
}
