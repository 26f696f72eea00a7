/**
 * The `powershell` adapter of the TeamsAdmin port: the MicrosoftTeams module in a few long-lived pwsh
 * sessions per worker process (pool.ts, session.ts), which is Microsoft's supported way to create
 * resource accounts. Which cmdlet each verb runs and how its answer is read: cmdlets.ts.
 */
import path from 'node:path';
import { DEFAULT_SIMULATOR_TLS_DIR, REPO_ROOT } from '../../../lib/paths';
import type { TeamsAdmin } from '../teams-admin';
import { cmdletTeamsAdmin } from './cmdlets';
import { PowerShellPool } from './pool';
import { PINNED_TEAMS_MODULE_VERSION } from './protocol';
import type { PowerShellSessionOptions } from './session';

export { IDENTITIES_CHUNK } from './cmdlets';
export { PowerShellPool, TEAMS_SESSIONS_RANGE } from './pool';
export type { PowerShellPoolStats } from './pool';
export { CMDLETS, PINNED_TEAMS_MODULE_VERSION, POWERSHELL_SCRIPT_PATH } from './protocol';
export { PowerShellSession } from './session';
export type { PowerShellSessionOptions, PowerShellSessionStats } from './session';

export interface PowerShellTeamsAdminOptions extends PowerShellSessionOptions {
  /** PowerShell sessions (child processes) to spread commands over. Default 1. */
  sessions?: number;
}

export interface PowerShellTeamsAdmin extends TeamsAdmin {
  /** The sessions underneath, for stats and diagnostics. */
  readonly session: PowerShellPool;
}

export function createPowerShellTeamsAdmin(options: PowerShellTeamsAdminOptions): PowerShellTeamsAdmin {
  const { sessions, ...sessionOptions } = options;
  const pool = new PowerShellPool(sessionOptions, sessions ?? 1);
  const verbs = cmdletTeamsAdmin((args) => pool.run('invoke', args), () => `MicrosoftTeams ${PINNED_TEAMS_MODULE_VERSION}`);
  return {
    adapter: 'powershell',
    session: pool,
    ...verbs,
    close: () => pool.close(),
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
