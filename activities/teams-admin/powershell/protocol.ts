/**
 * The line protocol between the Node session (`session.ts`) and what runs the MicrosoftTeams cmdlets:
 * `dialtone-teams.ps1` under pwsh in production, `simulator/teams-powershell-host.ts` against the tenant
 * simulator. One JSON command per line on stdin, exactly one JSON answer line per command on stdout,
 * nothing else on stdout; the host ends on stdin EOF or on `quit`.
 *
 * The host only runs cmdlets: `invoke` names one of {@link CMDLETS} and its parameters, and the answer
 * is what the module gave, unread — the output objects with the module's own property names
 * (`ObjectId`, `UserPrincipalName`, `Results[].StatusCode`, …) and every error record it wrote
 * (`FullyQualifiedErrorId`, `CategoryInfo`, the exception's type and message). What that means for
 * Dialtone (an association or none, an access denied, throttling) is decided on the Node side
 * (`records.ts`, `cmdlets.ts`), where it is tested against the stand-in that answers as the module does.
 */
import path from 'node:path';
import type { TeamsAdminErrorKind } from '../teams-admin';

/**
 * The MicrosoftTeams module version the script imports (`Import-Module -RequiredVersion`). Keep in step
 * with `$PinnedModuleVersion` in dialtone-teams.ps1 and the Dockerfile (tests compare them).
 */
export const PINNED_TEAMS_MODULE_VERSION = '8.0.0';

/** The shipped script, next to this file. */
export const POWERSHELL_SCRIPT_PATH = path.join(__dirname, 'dialtone-teams.ps1');

/** The cmdlets the host runs; anything else is refused (the script keeps the same list). */
export const CMDLETS = [
  'Get-CsOnlineApplicationInstance',
  'New-CsOnlineApplicationInstance',
  'Get-CsAutoAttendant',
  'Get-CsCallQueue',
  'Get-CsOnlineApplicationInstanceAssociation',
  'New-CsOnlineApplicationInstanceAssociation',
  'Remove-CsOnlineApplicationInstanceAssociation',
] as const;
export type Cmdlet = (typeof CMDLETS)[number];

export type ParameterValue = string | number | boolean | string[];

export interface InvokeArgs {
  cmdlet: Cmdlet;
  /** Named parameters, splatted as given (`-Identities 'a,b'` is `{ Identities: 'a,b' }`). */
  parameters: Record<string, ParameterValue>;
  /**
   * `Stop`: the first error ends the cmdlet and the answer is a failure with its record.
   * `SilentlyContinue`: errors the cmdlet writes (non-terminating) come back in `errors` beside the
   * output, as public code reads the association and voice-app lookups (`-ErrorAction SilentlyContinue`,
   * then a test of the output); an error that ends the cmdlet anyway is still a failure.
   */
  errorAction: 'Stop' | 'SilentlyContinue';
}

/** An error record of the module, as the host saw it (secrets scrubbed). */
export interface ErrorRecordInfo {
  /**
   * `FullyQualifiedErrorId`: for the module's generated cmdlets `<HTTP status name>,<cmdlet class>`, e.g.
   * `Forbidden,Microsoft.Teams.ConfigApi.Cmdlets.NewCsOnlineApplicationInstance` (office-docs-powershell
   * issue 10363); the status name is `HttpStatusCode.ToString()` of the service's answer.
   */
  fullyQualifiedErrorId: string;
  /** `CategoryInfo.Category`, e.g. `InvalidOperation`. */
  category?: string;
  /** `CategoryInfo.Reason`: the exception's short type name, e.g. `UndeclaredResponseException`. */
  reason?: string;
  /** `CategoryInfo.Activity`: the cmdlet. */
  activity?: string;
  /** The exception's full type name. */
  exceptionType?: string;
  /** The exception's message, e.g. `Access Denied.` */
  message: string;
  /** `ErrorDetails.Message`, when set (the service's text). */
  errorDetails?: string;
  /** `ErrorDetails.RecommendedAction`, when set (the service's `action`). */
  recommendedAction?: string;
  /** Messages of inner exceptions, outermost first. */
  innerMessages?: string[];
}

export interface InvokeResult {
  /** The cmdlet's output objects, as ConvertTo-Json writes them (enums as strings). */
  output: Record<string, unknown>[];
  /** Non-terminating error records (with `errorAction: 'SilentlyContinue'`). */
  errors: ErrorRecordInfo[];
}

export interface CommandMap {
  hello: { args: Record<string, never>; result: HelloResult };
  connect: { args: { graphToken: string; teamsToken: string; tenantId?: string }; result: { connected: true } };
  invoke: { args: InvokeArgs; result: InvokeResult };
  quit: { args: Record<string, never>; result: { bye: true } };
}

export type Op = keyof CommandMap;

export interface HelloResult {
  /** `$PSVersionTable.PSVersion`, or the stand-in's Node version. */
  powershell: string;
  module: {
    name: string;
    pinned: string;
    /** Whether `Import-Module -RequiredVersion <pinned>` succeeded. */
    importable: boolean;
    /** Versions `Get-Module -ListAvailable` lists. */
    found: string[];
    /** The command that installs the pinned version, when it is not importable. */
    fix?: string;
    problem?: string;
  };
  /** `pwsh`, or `simulator` for the stand-in. */
  host: string;
}

/**
 * A failed command. The host sets `kind` only for its own failures (module not installed, not connected,
 * an unknown op or cmdlet); a cmdlet's failure comes as its `record`, which the Node side classifies.
 */
export interface WireError {
  kind?: TeamsAdminErrorKind;
  message: string;
  code?: string;
  record?: ErrorRecordInfo;
  retryAfterMs?: number;
  requestId?: string;
}

export type Answer = { id: number | null; ok: true; result: unknown } | { id: number | null; ok: false; error: WireError };

/** Anything that looks like a JWT or a bearer credential, replaced before text is kept or shown. */
export function hideSecrets(text: string): string {
  return text
    .replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[token]')
    .replace(/\bbearer\s+\S+/gi, 'Bearer [token]');
}
