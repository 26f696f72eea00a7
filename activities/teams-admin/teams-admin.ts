/**
 * The `TeamsAdmin` port: what the activities need from Teams for resource accounts (application
 * instances) and their association with an auto attendant or call queue, whatever speaks to Teams.
 * Two adapters implement it, chosen by the worker's `DIALTONE_TEAMS_ADMIN`:
 * - `powershell` (supported, the default): the MicrosoftTeams module in one long-lived `pwsh` per worker
 *   process (`powershell/`), the way Microsoft documents for creating resource accounts;
 * - `rest-experimental`: the Teams admin service's undocumented REST shape (`rest-client.ts`), which no
 *   public source confirms beyond the paged read.
 *
 * Adapters fail with {@link TeamsAdminError}, whose `kind` says what went wrong in the domain's words;
 * HTTP statuses and PowerShell error records stay inside the adapters.
 */

export interface ApplicationInstance {
  objectId: string;
  userPrincipalName: string;
  displayName: string;
  applicationId: string;
  phoneNumber?: string | null;
}

import type { ConfigurationType } from '../../lib/microsoft';

export type { ConfigurationType };

/** An auto attendant or call queue (`Get-CsAutoAttendant` / `Get-CsCallQueue -Identity`). */
export interface VoiceApp {
  identity: string;
  name: string;
  configurationType: ConfigurationType;
}

/** A resource account's association (`Get-CsOnlineApplicationInstanceAssociation -Identity`). */
export interface Association {
  /** The resource account's object id. */
  objectId: string;
  configurationId: string;
  configurationType: ConfigurationType;
  callPriority?: number;
}

export interface AssociateInput {
  objectId: string;
  configurationId: string;
  configurationType: ConfigurationType;
  /** 1 (highest) to 5; Teams' default is 3. */
  callPriority?: number;
}

export type TeamsAdminErrorKind =
  /** The UPN (or the association) is already taken by something else. */
  | 'conflict'
  /** The UPN's domain is not a verified domain of the tenant. */
  | 'domainNotVerified'
  /** What the command names does not exist (or is not visible yet). */
  | 'notFound'
  /** The app's token was refused, also a new one. */
  | 'unauthenticated'
  /** The app lacks a directory role (or permission) the command needs. */
  | 'forbidden'
  /** Teams asked to slow down. */
  | 'throttled'
  /** A transient failure, or no answer: the command may or may not have had its effect. */
  | 'transient'
  /** Teams refused the command as malformed or not allowed for this object. */
  | 'invalid'
  /** The adapter cannot work at all on this machine: `pwsh` or the pinned module is missing. */
  | 'notInstalled';

/** A failure of a TeamsAdmin command, in the domain's words. Messages never carry tokens or secrets. */
export class TeamsAdminError extends Error {
  constructor(
    readonly kind: TeamsAdminErrorKind,
    message: string,
    readonly details: {
      requestId?: string;
      retryAfterMs?: number;
      code?: string;
      /** The HTTP status the service answered, where the adapter learnt it. */
      status?: number;
      /** The PowerShell error record's FullyQualifiedErrorId (powershell adapter). */
      fullyQualifiedErrorId?: string;
    } = {},
  ) {
    super(message);
    this.name = 'TeamsAdminError';
  }
}

export function isTeamsAdminError(err: unknown): err is TeamsAdminError {
  return err instanceof TeamsAdminError || (err instanceof Error && err.name === 'TeamsAdminError' && typeof (err as { kind?: unknown }).kind === 'string');
}

/**
 * What a refused Teams command asks of the app, besides its directory role: the MicrosoftTeams module's
 * *-Cs cmdlets need the Graph application permission Organization.Read.All ("For *-Cs cmdlets - the
 * Microsoft Graph API permission needed is Organization.Read.All", teams-powershell-application-
 * authentication), and without it they answer "Access Denied." like a missing role.
 */
export const TEAMS_CMDLETS_GRAPH_PERMISSION = 'the Microsoft Graph application permission Organization.Read.All (with admin consent), which the Teams cmdlets need';

export type TeamsAdminAdapterName = 'powershell' | 'rest-experimental';
export const TEAMS_ADMIN_ADAPTERS: readonly TeamsAdminAdapterName[] = ['powershell', 'rest-experimental'];

export interface TeamsAdmin {
  readonly adapter: TeamsAdminAdapterName;
  /** The instance with this UPN (case-insensitive), or undefined when Teams lists none. */
  findByUpn(upn: string): Promise<ApplicationInstance | undefined>;
  /** `New-CsOnlineApplicationInstance`. Fails with `conflict` when the UPN is taken. */
  create(input: { userPrincipalName: string; displayName: string; applicationId: string }): Promise<ApplicationInstance>;
  /** The auto attendant or call queue with this identity, or undefined when there is none. */
  findVoiceApp(configurationType: ConfigurationType, identity: string): Promise<VoiceApp | undefined>;
  /** The account's association, or undefined when it has none. */
  getAssociation(objectId: string): Promise<Association | undefined>;
  /** `New-CsOnlineApplicationInstanceAssociation`. Fails with `conflict` when the account is associated elsewhere. */
  associate(input: AssociateInput): Promise<Association>;
  /** `Remove-CsOnlineApplicationInstanceAssociation`; false when there was none. */
  removeAssociation(objectId: string): Promise<boolean>;
  /** A cheap read that proves the adapter can reach Teams with the app's identity (`dialtone doctor`). */
  probe(): Promise<{ detail: string }>;
  /** Ends what the adapter keeps open (the pwsh session). */
  close(): Promise<void>;
}
