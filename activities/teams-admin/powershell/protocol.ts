/**
 * The line protocol between the Node session (`session.ts`) and what runs the MicrosoftTeams cmdlets:
 * `dialtone-teams.ps1` under pwsh in production, `simulator/teams-powershell-host.ts` against the tenant
 * simulator. One JSON command per line on stdin, exactly one JSON answer line per command on stdout,
 * nothing else on stdout; the host ends on stdin EOF or on `quit`.
 */
import path from 'node:path';
import type { ApplicationInstance, Association, ConfigurationType, TeamsAdminErrorKind, VoiceApp } from '../teams-admin';

/**
 * The MicrosoftTeams module version the script imports (`Import-Module -RequiredVersion`). Keep in step
 * with `$PinnedModuleVersion` in dialtone-teams.ps1 and the Dockerfile (tests compare them).
 */
export const PINNED_TEAMS_MODULE_VERSION = '7.6.0';

/** The shipped script, next to this file. */
export const POWERSHELL_SCRIPT_PATH = path.join(__dirname, 'dialtone-teams.ps1');

export interface CommandMap {
  hello: { args: Record<string, never>; result: HelloResult };
  connect: { args: { graphToken: string; teamsToken: string; tenantId?: string }; result: { connected: true } };
  findMany: { args: { upns: string[] }; result: { instances: ApplicationInstance[] } };
  create: { args: { userPrincipalName: string; displayName: string; applicationId: string }; result: ApplicationInstance };
  findVoiceApp: { args: { configurationType: ConfigurationType; identity: string }; result: { voiceApp: VoiceApp | null } };
  getAssociation: { args: { objectId: string }; result: { association: Association | null } };
  associate: {
    args: { objectId: string; configurationId: string; configurationType: ConfigurationType; callPriority?: number };
    result: { association: Association };
  };
  removeAssociation: { args: { objectId: string }; result: { removed: boolean } };
  probe: { args: Record<string, never>; result: { detail: string } };
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

export interface WireError {
  kind: TeamsAdminErrorKind;
  message: string;
  code?: string;
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
