/**
 * The `powershell` adapter of the TeamsAdmin port: the MicrosoftTeams module in one long-lived pwsh per
 * worker process (session.ts), which is Microsoft's supported way to create resource accounts.
 */
import path from 'node:path';
import { DEFAULT_SIMULATOR_TLS_DIR, REPO_ROOT } from '../../../lib/paths';
import type { ApplicationInstance, AssociateInput, Association, ConfigurationType, TeamsAdmin, VoiceApp } from '../teams-admin';
import { PowerShellSession } from './session';
import type { PowerShellSessionOptions } from './session';

export { PINNED_TEAMS_MODULE_VERSION, POWERSHELL_SCRIPT_PATH } from './protocol';
export { PowerShellSession } from './session';
export type { PowerShellSessionOptions, PowerShellSessionStats } from './session';

/** How long a lookup waits for others to share its command (as the REST adapter's walk does). */
const GATHER_MS = 50;

export type PowerShellTeamsAdminOptions = PowerShellSessionOptions;

export interface PowerShellTeamsAdmin extends TeamsAdmin {
  /** The session underneath, for stats and diagnostics. */
  readonly session: PowerShellSession;
}

export function createPowerShellTeamsAdmin(options: PowerShellTeamsAdminOptions): PowerShellTeamsAdmin {
  const session = new PowerShellSession(options);
  let gathering: { wanted: Set<string>; found: Promise<Map<string, ApplicationInstance>> } | undefined;

  return {
    adapter: 'powershell',
    session,

    /**
     * Lookups that arrive within {@link GATHER_MS} of each other share one `findMany` command (one
     * `Get-CsOnlineApplicationInstance` for one, one walk through the list for many). The command is
     * sent only after every lookup it serves was asked, so it never answers from an older read.
     */
    findByUpn(upn: string): Promise<ApplicationInstance | undefined> {
      if (!gathering) {
        const wanted = new Set<string>();
        const found = new Promise<void>((resolve) => setTimeout(resolve, GATHER_MS)).then(async () => {
          gathering = undefined;
          const { instances } = await session.run('findMany', { upns: [...wanted] });
          return new Map(instances.map((instance) => [instance.userPrincipalName.toLowerCase(), instance]));
        });
        gathering = { wanted, found };
      }
      const key = upn.toLowerCase();
      gathering.wanted.add(key);
      return gathering.found.then((instances) => instances.get(key));
    },

    create(input): Promise<ApplicationInstance> {
      return session.run('create', input);
    },

    async findVoiceApp(configurationType: ConfigurationType, identity: string): Promise<VoiceApp | undefined> {
      return (await session.run('findVoiceApp', { configurationType, identity })).voiceApp ?? undefined;
    },

    async getAssociation(objectId: string): Promise<Association | undefined> {
      return (await session.run('getAssociation', { objectId })).association ?? undefined;
    },

    async associate(input: AssociateInput): Promise<Association> {
      return (await session.run('associate', input)).association;
    },

    async removeAssociation(objectId: string): Promise<boolean> {
      return (await session.run('removeAssociation', { objectId })).removed;
    },

    probe(): Promise<{ detail: string }> {
      return session.run('probe', {});
    },

    close: () => session.close(),
  };
}

/** The env var naming the simulator the stand-in host talks to. */
export const SIMULATOR_HOST_URL_ENV = 'DIALTONE_SIMULATOR_URL';

/**
 * How to launch the simulator's stand-in for pwsh (simulator/teams-powershell-host.ts) with the current
 * Node, for `command`/`args`/`env`/`cwd` of {@link createPowerShellTeamsAdmin}. It trusts the simulator's
 * CA through NODE_EXTRA_CA_CERTS (this process's, else the local stack's default).
 */
export function simulatorPowerShellHost(simulatorUrl: string): Required<Pick<PowerShellSessionOptions, 'command' | 'args' | 'env' | 'cwd'>> {
  return {
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO_ROOT, 'simulator', 'teams-powershell-host.ts')],
    env: {
      ...process.env,
      [SIMULATOR_HOST_URL_ENV]: simulatorUrl,
      NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? path.join(DEFAULT_SIMULATOR_TLS_DIR, 'ca.pem'),
    },
    cwd: REPO_ROOT,
  };
}
