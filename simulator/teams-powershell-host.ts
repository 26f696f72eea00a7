/**
 * A stand-in for `pwsh dialtone-teams.ps1` against the tenant simulator: the same JSON line protocol on
 * stdin/stdout (activities/teams-admin/powershell/protocol.ts), doing what the MicrosoftTeams module
 * does under the hood — calling the Teams admin service ("ConfigAPI") with the Teams token given in
 * `connect` — against the simulator's Teams routes. Started by `simulatorPowerShellHost(url)`; the
 * simulator's URL comes from DIALTONE_SIMULATOR_URL and its CA from NODE_EXTRA_CA_CERTS.
 *
 * Like pwsh running the script it handles one command at a time (a line that arrives before the previous
 * answer waits, and is reported on stderr), never retries on its own (the module's own retries are
 * unknown, so none is the least convenient reading), and ends on stdin EOF or `quit`. Errors are
 * classified from the service's status and error code into the same kinds the script derives from the
 * module's error records (simulator/README.md says which texts are guesses).
 */
import { createInterface } from 'node:readline';
import { PINNED_TEAMS_MODULE_VERSION } from '../activities/teams-admin/powershell/protocol';
import type { Answer, CommandMap, WireError } from '../activities/teams-admin/powershell/protocol';
import { ASSOCIATIONS, INSTANCES, VOICE_APPS, teamsAdminHeaders } from '../activities/teams-admin/rest-client';
import type { ApplicationInstance, Association, ConfigurationType } from '../activities/teams-admin/teams-admin';

const URL_ENV = 'DIALTONE_SIMULATOR_URL';
const TEAMS_AUDIENCE = '48ac35b8-9aa8-4d74-927d-1f4a14a0b239';
const GRAPH_AUDIENCES = ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'];
const REQUEST_TIMEOUT_MS = 60_000;
const MAX_PAGES = 1000;

class HostError extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
}

const fail = (kind: WireError['kind'], message: string, code?: string): HostError => new HostError({ kind, message, ...(code ? { code } : {}) });

let teamsToken: string | undefined;

function claimsOf(token: string): { aud?: string; tid?: string } | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { aud?: string; tid?: string };
  } catch {
    return undefined;
  }
}

/** The service's failure as the module would surface it: the body's code and message, classified. */
async function failure(response: Response): Promise<HostError> {
  const text = await response.text();
  let code: string | undefined;
  let message = `Response status code does not indicate success: ${response.status} (${response.statusText}).`;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: { code?: string }[] } };
    const detail = body.error?.details?.find((entry) => entry.code)?.code;
    code = detail ?? body.error?.code;
    if (body.error?.message) message = `${body.error.message} (${response.status} ${response.statusText})`;
  } catch {
    // Not JSON: the status text is all there is.
  }
  const requestId = response.headers.get('request-id') ?? undefined;
  const base = { message, ...(code ? { code } : {}), ...(requestId ? { requestId } : {}) };
  const status = response.status;
  if (status === 401) return new HostError({ kind: 'unauthenticated', ...base });
  if (status === 403) return new HostError({ kind: 'forbidden', ...base });
  if (status === 429) {
    const seconds = Number(response.headers.get('retry-after'));
    return new HostError({ kind: 'throttled', ...base, ...(Number.isFinite(seconds) && seconds > 0 ? { retryAfterMs: seconds * 1000 } : {}) });
  }
  if (status >= 500) return new HostError({ kind: 'transient', ...base });
  if (status === 404) return new HostError({ kind: 'notFound', ...base });
  if (status === 409 || code === 'ObjectConflict' || code === 'AppEndpointAlreadyAssociated') return new HostError({ kind: 'conflict', ...base });
  if (/verified domain/i.test(message)) return new HostError({ kind: 'domainNotVerified', ...base });
  return new HostError({ kind: 'invalid', ...base });
}

async function call(method: string, path: string, body?: object): Promise<unknown> {
  if (!teamsToken) throw fail('unauthenticated', 'The session is not connected: send connect with a Graph and a Teams admin token first.', 'NotConnected');
  const base = process.env[URL_ENV];
  if (!base) throw fail('notInstalled', `${URL_ENV} is not set: the stand-in needs the simulator's URL.`, 'SimulatorUrlMissing');
  let response: Response;
  try {
    response = await fetch(`${base.replace(/\/+$/, '')}${path}`, {
      method,
      // What the module sends under the hood is not public; the headers public clients send will do.
      headers: teamsAdminHeaders(teamsToken, body !== undefined),
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw fail('transient', `The request to the Teams admin service failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw fail('transient', `${method} ${path.split('?')[0]} answered ${response.status} with a body that is not JSON`, 'UnreadableAnswer');
  }
}

/** A read for which "there is none" is an answer, not a failure. */
async function readOrNothing(path: string): Promise<unknown> {
  try {
    return await call('GET', path);
  } catch (err) {
    if (err instanceof HostError && err.wire.kind === 'notFound') return undefined;
    throw err;
  }
}

function instanceOf(raw: Partial<ApplicationInstance>): ApplicationInstance {
  return {
    objectId: String(raw.objectId ?? ''),
    userPrincipalName: String(raw.userPrincipalName ?? ''),
    displayName: String(raw.displayName ?? ''),
    applicationId: String(raw.applicationId ?? ''),
    phoneNumber: raw.phoneNumber ?? null,
  };
}

function associationOf(raw: Partial<Association>, objectId: string): Association {
  return {
    objectId: String(raw.objectId ?? objectId),
    configurationId: String(raw.configurationId ?? ''),
    configurationType: raw.configurationType as ConfigurationType,
    ...(typeof raw.callPriority === 'number' ? { callPriority: raw.callPriority } : {}),
  };
}

type Handlers = { [K in keyof CommandMap]: (args: CommandMap[K]['args']) => Promise<CommandMap[K]['result']> };

const handlers: Handlers = {
  async hello() {
    return {
      powershell: `stand-in (Node ${process.version})`,
      module: { name: 'MicrosoftTeams', pinned: PINNED_TEAMS_MODULE_VERSION, importable: true, found: [PINNED_TEAMS_MODULE_VERSION] },
      host: 'simulator',
    };
  },
  async connect({ graphToken, teamsToken: teams, tenantId }) {
    if (!graphToken || !teams) {
      throw fail('invalid', 'connect needs graphToken and teamsToken (access tokens for Microsoft Graph and the Skype and Teams Tenant Admin API).', 'MissingToken');
    }
    // The module tells the two tokens apart by audience; a Teams token is what its Cs cmdlets need.
    const audiences = [graphToken, teams].map((token) => claimsOf(token)?.aud ?? '');
    if (!GRAPH_AUDIENCES.includes(audiences[0] ?? '') || audiences[1] !== TEAMS_AUDIENCE) {
      throw fail('unauthenticated', 'AccessTokens must be a Microsoft Graph token and a Skype and Teams Tenant Admin API token (48ac35b8-…), in that order.', 'InvalidAccessTokens');
    }
    const tid = claimsOf(teams)?.tid;
    if (tenantId && tid && tid.toLowerCase() !== tenantId.toLowerCase()) {
      throw fail('unauthenticated', 'The access tokens were issued for another tenant than -TenantId.', 'TenantMismatch');
    }
    teamsToken = teams;
    return { connected: true };
  },
  async findMany({ upns }) {
    const wanted = new Set(upns.map((upn) => upn.toLowerCase()));
    const found: ApplicationInstance[] = [];
    let skipToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ pageSize: '100', ...(skipToken ? { skipToken } : {}) });
      const body = ((await call('GET', `${INSTANCES}?${query}`)) ?? {}) as { applicationInstances?: Partial<ApplicationInstance>[]; skipToken?: string | null };
      for (const raw of body.applicationInstances ?? []) {
        if (raw.userPrincipalName && wanted.has(raw.userPrincipalName.toLowerCase())) found.push(instanceOf(raw));
      }
      if (found.length >= wanted.size || !body.skipToken) return { instances: found };
      skipToken = body.skipToken;
    }
    throw fail('transient', `the application-instance list did not end after ${MAX_PAGES} pages`, 'EndlessPaging');
  },
  async create(input) {
    const created = (await call('POST', INSTANCES, input)) as Partial<ApplicationInstance> | undefined;
    if (!created?.objectId) throw fail('transient', 'New-CsOnlineApplicationInstance returned without naming the new object; look it up before creating again.', 'UnexpectedAnswer');
    return instanceOf(created);
  },
  async findVoiceApp({ configurationType, identity }) {
    const route = VOICE_APPS[configurationType];
    if (!route) throw fail('invalid', `configurationType '${String(configurationType)}' is not AutoAttendant or CallQueue.`, 'ConfigurationTypeInvalid');
    const found = (await readOrNothing(`${route}/${encodeURIComponent(identity)}`)) as { identity?: string; name?: string } | undefined;
    return { voiceApp: found ? { identity: String(found.identity ?? identity), name: String(found.name ?? ''), configurationType } : null };
  },
  async getAssociation({ objectId }) {
    const found = (await readOrNothing(`${ASSOCIATIONS}/${encodeURIComponent(objectId)}`)) as Partial<Association> | undefined;
    return { association: found?.configurationId ? associationOf(found, objectId) : null };
  },
  async associate({ objectId, configurationId, configurationType, callPriority }) {
    const body = (await call('POST', ASSOCIATIONS, {
      callPriority: callPriority ?? 3,
      configurationId,
      configurationType,
      endpointsId: [objectId],
    })) as { associations?: Partial<Association>[] } | undefined;
    const first = body?.associations?.[0] ?? { objectId, configurationId, configurationType, callPriority: callPriority ?? 3 };
    return { association: associationOf(first, objectId) };
  },
  async removeAssociation({ objectId }) {
    try {
      await call('DELETE', `${ASSOCIATIONS}/${encodeURIComponent(objectId)}`);
      return { removed: true };
    } catch (err) {
      if (err instanceof HostError && err.wire.kind === 'notFound') return { removed: false };
      throw err;
    }
  },
  async probe() {
    const body = (await call('GET', `${INSTANCES}?pageSize=1`)) as { applicationInstances?: unknown[] } | undefined;
    return { detail: `MicrosoftTeams ${PINNED_TEAMS_MODULE_VERSION} (simulator stand-in) connected; Get-CsOnlineApplicationInstance answered (${body?.applicationInstances?.length ?? 0} shown of at most 1)` };
  },
  async quit() {
    return { bye: true };
  },
};

/** Resolves once the line has been handed to the pipe, so exiting after it loses nothing. */
function send(answer: Answer): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(answer)}\n`, () => resolve()));
}

async function handle(line: string): Promise<boolean> {
  let id: number | null = null;
  try {
    const command = JSON.parse(line) as { id?: number; op?: string } & Record<string, unknown>;
    id = typeof command.id === 'number' ? command.id : null;
    const op = command.op as keyof CommandMap;
    const handler = Object.hasOwn(handlers, op) ? (handlers[op] as (args: unknown) => Promise<unknown>) : undefined;
    if (!handler) {
      throw fail('invalid', `Unknown op '${String(command.op)}': use hello, connect, findMany, create, findVoiceApp, getAssociation, associate, removeAssociation, probe or quit.`, 'UnknownOp');
    }
    await send({ id, ok: true, result: await handler(command) });
    return op !== 'quit';
  } catch (err) {
    const wire = err instanceof HostError ? err.wire : { kind: 'transient' as const, message: err instanceof Error ? err.message : String(err) };
    await send({ id, ok: false, error: wire });
    return true;
  }
}

function main(): void {
  const lines: string[] = [];
  let busy: string | undefined;
  let ended = false;
  const next = async (): Promise<void> => {
    while (!busy && lines.length > 0) {
      const line = lines.shift() ?? '';
      busy = line;
      const goOn = await handle(line);
      busy = undefined;
      if (!goOn) process.exit(0);
    }
    if (ended && !busy && lines.length === 0) process.exit(0);
  };
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === '') return;
    if (busy !== undefined) {
      const idOf = (text: string) => /"id":\s*(\d+)/.exec(text)?.[1] ?? '?';
      process.stderr.write(`protocol: command ${idOf(line)} arrived before the answer to command ${idOf(busy)}\n`);
    }
    lines.push(line);
    void next();
  });
  input.on('close', () => {
    ended = true;
    void next();
  });
}

main();
