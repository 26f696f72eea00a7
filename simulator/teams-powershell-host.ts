/**
 * A stand-in for `pwsh dialtone-teams.ps1` against the tenant simulator: the same JSON line protocol on
 * stdin/stdout (activities/teams-admin/powershell/protocol.ts), answering each `invoke` of a cmdlet as
 * the MicrosoftTeams module answers it — its output objects with the module's property names, its error
 * records (`FullyQualifiedErrorId`, `CategoryInfo`, the exception's type and message), written as
 * terminating or non-terminating errors as the module writes them — while doing under the hood what the
 * module does: calling the Teams admin service with the Teams token handed over in `connect`, here the
 * simulator's Teams routes. Started by `simulatorPowerShellHost(url)`; the simulator's URL comes from
 * DIALTONE_SIMULATOR_URL and its CA from NODE_EXTRA_CA_CERTS.
 *
 * It classifies nothing: what a record means is decided by the product (records.ts), exactly as it
 * reads pwsh's. Which records and shapes are Microsoft's, which are the least convenient guess, is in
 * simulator/README.md ("Stand-in for pwsh"). Like pwsh running the script it handles one command at a
 * time (a line that arrives before the previous answer waits, and is reported on stderr), never retries
 * on its own, and ends on stdin EOF or `quit`. Each request names the cmdlet it serves
 * (`x-dialtone-cmdlet`), so the simulator applies that cmdlet's latency (`cmdletLatency`).
 */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { CMDLETS, PINNED_TEAMS_MODULE_VERSION } from '../activities/teams-admin/powershell/protocol';
import type { Answer, Cmdlet, ErrorRecordInfo, InvokeArgs, InvokeResult, ParameterValue, WireError } from '../activities/teams-admin/powershell/protocol';
import { ASSOCIATIONS, INSTANCES, VOICE_APPS, teamsAdminHeaders } from '../activities/teams-admin/rest-client';

const URL_ENV = 'DIALTONE_SIMULATOR_URL';
const TEAMS_AUDIENCE = '48ac35b8-9aa8-4d74-927d-1f4a14a0b239';
const GRAPH_AUDIENCES = ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'];
const REQUEST_TIMEOUT_MS = 120_000;
const MAX_PAGES = 1000;
/** The lookup route the simulator serves for `-Identity`/`-Identities` (simulator/routes/teams.ts). */
const LOOKUP = `${INSTANCES}/lookup`;

/** `HttpStatusCode.ToString()` of .NET for the statuses the simulator answers. */
const STATUS_NAMES: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 412: 'PreconditionFailed',
  429: 'TooManyRequests', 500: 'InternalServerError', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout',
};

/** A failure of the host itself (not of a cmdlet): it carries a kind. */
class HostError extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
}

/** A cmdlet's terminating error: its record. */
class CmdletError extends Error {
  constructor(readonly record: ErrorRecordInfo) {
    super(record.message);
  }
}

const hostFailure = (kind: NonNullable<WireError['kind']>, message: string, code?: string): HostError =>
  new HostError({ kind, message, ...(code ? { code } : {}) });

let teamsToken: string | undefined;
/** What reading the organization with the Graph token answered at connect (row 5 of the README table). */
let organizationReadable = false;

function claimsOf(token: string): { aud?: string; tid?: string } | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { aud?: string; tid?: string };
  } catch {
    return undefined;
  }
}

/** `Get-CsOnlineApplicationInstance` → `GetCsOnlineApplicationInstance`, the cmdlet's class name. */
function cmdletClass(cmdlet: Cmdlet): string {
  return `Microsoft.Teams.ConfigApi.Cmdlets.${cmdlet.replaceAll('-', '')}`;
}

/**
 * The record the module's generated cmdlets write for a failed call (office-docs-powershell issue 10363):
 * `<HttpStatusCode>,<cmdlet class>`, category InvalidOperation, an UndeclaredResponseException whose
 * message is the service's; for a refusal `Access Denied.` with the ConfigAPI's action.
 */
function recordOf(cmdlet: Cmdlet, status: number, message: string, recommendedAction?: string): ErrorRecordInfo {
  const name = STATUS_NAMES[status] ?? String(status);
  return {
    fullyQualifiedErrorId: `${name},${cmdletClass(cmdlet)}`,
    category: 'InvalidOperation',
    reason: 'UndeclaredResponseException',
    activity: cmdlet,
    exceptionType: 'Microsoft.Teams.ConfigAPI.Cmdlets.Generated.Runtime.UndeclaredResponseException',
    message,
    ...(recommendedAction ? { recommendedAction } : {}),
  };
}

/** The service's failure as the module surfaces it: a record with the status name and the body's message. */
async function failure(cmdlet: Cmdlet, response: Response): Promise<CmdletError> {
  const status = response.status;
  // The ConfigAPI answers a refusal with {"code":"Forbidden","message":"Access Denied.","action":"Provide
  // different credential or request access."} (Microsoft365DSC issue 3704); the module shows its message.
  if (status === 403) return new CmdletError(recordOf(cmdlet, 403, 'Access Denied.', 'Provide different credential or request access.'));
  const text = await response.text();
  let message = `The server responded with a Request Error, Status: ${STATUS_NAMES[status] ?? status}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    const code = body.error?.code;
    // The association codes are the module's own (its metadata names them); Graph's codes are not shown.
    const shown = code && /^(AppEndpoint|Configuration)/.test(code) ? ` (${code})` : '';
    if (body.error?.message) message = `${body.error.message}${shown}`;
  } catch {
    // Not JSON: the module falls back to the status (office-docs-powershell issues 8643, 11175).
  }
  // A 429's Retry-After does not reach the record (nothing public shows it there): the least convenient reading.
  return new CmdletError(recordOf(cmdlet, status, message));
}

async function call(cmdlet: Cmdlet | 'Connect-MicrosoftTeams', method: string, path: string, body?: object, token = teamsToken): Promise<Response> {
  const base = process.env[URL_ENV];
  if (!base) throw hostFailure('notInstalled', `${URL_ENV} is not set: the stand-in needs the simulator's URL.`, 'SimulatorUrlMissing');
  try {
    return await fetch(`${base.replace(/\/+$/, '')}${path}`, {
      method,
      // What the module sends under the hood is not public; the headers public clients send will do.
      headers: { ...teamsAdminHeaders(token ?? '', body !== undefined), 'x-dialtone-cmdlet': cmdlet },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const message = `An error occurred while sending the request. (${err instanceof Error ? err.message : String(err)})`;
    if (cmdlet === 'Connect-MicrosoftTeams') throw hostFailure('transient', message);
    throw new CmdletError({ ...recordOf(cmdlet, 0, message), fullyQualifiedErrorId: `HttpRequestException,${cmdletClass(cmdlet)}`, exceptionType: 'System.Net.Http.HttpRequestException' });
  }
}

/** Calls the service for a cmdlet; a failure is the cmdlet's record. */
async function service(cmdlet: Cmdlet, method: string, path: string, body?: object): Promise<unknown> {
  const response = await call(cmdlet, method, path, body);
  if (!response.ok) throw await failure(cmdlet, response);
  const text = await response.text();
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** The output object of Get-/New-CsOnlineApplicationInstance (office-docs-powershell issue 9087; AcsResourceId since 6.3.0). */
function instanceObject(raw: Record<string, unknown>, tenantId: string): Record<string, unknown> {
  return {
    ObjectId: raw.objectId,
    TenantId: tenantId,
    UserPrincipalName: raw.userPrincipalName,
    ApplicationId: raw.applicationId,
    DisplayName: raw.displayName,
    PhoneNumber: raw.phoneNumber ?? null,
    AcsResourceId: null,
  };
}

const tenantOfToken = (): string => claimsOf(teamsToken ?? '')?.tid ?? '';

interface Written {
  output: Record<string, unknown>[];
  errors: ErrorRecordInfo[];
}

type CmdletHandler = (parameters: Record<string, ParameterValue>) => Promise<Written>;

const identitiesOf = (value: ParameterValue | undefined): string[] =>
  (Array.isArray(value) ? value : String(value ?? '').split(',')).map((identity) => String(identity).trim()).filter(Boolean);

const cmdlets: Record<Cmdlet, CmdletHandler> = {
  /**
   * Without -Identity/-Identities every instance of the tenant, however many (-ResultSize and -Skip are
   * "currently not working", DOC); with them the named ones, and a non-terminating NotFound for each
   * one that is not there (what the module writes for those is UNKNOWN; an error per miss is the least
   * convenient reading that keeps the found ones).
   */
  async 'Get-CsOnlineApplicationInstance'(parameters) {
    const tenantId = tenantOfToken();
    const wanted = [...identitiesOf(parameters.Identity), ...identitiesOf(parameters.Identities)];
    if (wanted.length === 0) {
      const output: Record<string, unknown>[] = [];
      let skipToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const query = new URLSearchParams({ pageSize: '100', ...(skipToken ? { skipToken } : {}) });
        const body = ((await service('Get-CsOnlineApplicationInstance', 'GET', `${INSTANCES}?${query}`)) ?? {}) as { applicationInstances?: Record<string, unknown>[]; skipToken?: string | null };
        output.push(...(body.applicationInstances ?? []).map((raw) => instanceObject(raw, tenantId)));
        if (!body.skipToken) return { output, errors: [] };
        skipToken = body.skipToken;
      }
      return { output, errors: [] };
    }
    const body = ((await service('Get-CsOnlineApplicationInstance', 'GET', `${LOOKUP}?${new URLSearchParams({ identities: wanted.join(',') })}`)) ?? {}) as {
      applicationInstances?: Record<string, unknown>[];
    };
    const found = (body.applicationInstances ?? []).map((raw) => instanceObject(raw, tenantId));
    const seen = new Set(found.flatMap((item) => [String(item.ObjectId).toLowerCase(), String(item.UserPrincipalName).toLowerCase()]));
    const errors = wanted.filter((identity) => !seen.has(identity.toLowerCase()))
      .map((identity) => recordOf('Get-CsOnlineApplicationInstance', 404, `Application instance '${identity}' was not found.`));
    return { output: found, errors };
  },

  async 'New-CsOnlineApplicationInstance'(parameters) {
    const created = (await service('New-CsOnlineApplicationInstance', 'POST', INSTANCES, {
      userPrincipalName: parameters.UserPrincipalName,
      displayName: parameters.DisplayName,
      applicationId: parameters.ApplicationId,
    })) as Record<string, unknown>;
    return { output: [instanceObject(created, tenantOfToken())], errors: [] };
  },

  'Get-CsAutoAttendant': (parameters) => voiceApp('Get-CsAutoAttendant', VOICE_APPS.AutoAttendant, parameters),
  'Get-CsCallQueue': (parameters) => voiceApp('Get-CsCallQueue', VOICE_APPS.CallQueue, parameters),

  /**
   * No association: a non-terminating error and no output. Microsoft's bulk tools say the cmdlet "will
   * generate a 'Correlation id for this request' message when the RA is not assigned to anything, also
   * generates error" (CODE); its status and wording are UNKNOWN, so it is a BadRequest, not a NotFound.
   */
  async 'Get-CsOnlineApplicationInstanceAssociation'(parameters) {
    const cmdlet = 'Get-CsOnlineApplicationInstanceAssociation';
    const identity = String(parameters.Identity ?? '');
    const response = await call(cmdlet, 'GET', `${ASSOCIATIONS}/${encodeURIComponent(identity)}`);
    if (response.status === 404) {
      return { output: [], errors: [recordOf(cmdlet, 400, `Correlation id for this request : ${randomUUID()}`)] };
    }
    if (!response.ok) throw await failure(cmdlet, response);
    const found = (await response.json()) as Record<string, unknown>;
    return { output: [{ Id: found.objectId, ConfigurationId: found.configurationId, ConfigurationType: found.configurationType, CallPriority: found.callPriority }], errors: [] };
  },

  /**
   * `AssociationOperationOutput` with `Results[]` of `{Id, ConfigurationType, ConfigurationId, Result,
   * StatusCode, StatusMessage}` (module 2.x script). An account already associated is an item with
   * StatusCode Conflict, not an error (the least convenient of the two readings the module's history
   * allows); `Result` of a success is `Succeeded` (its real values are UNKNOWN).
   */
  async 'New-CsOnlineApplicationInstanceAssociation'(parameters) {
    const cmdlet = 'New-CsOnlineApplicationInstanceAssociation';
    const endpoints = identitiesOf(parameters.Identities);
    const item = (id: string, statusCode: string, result: string, statusMessage: string) => ({
      Id: id, ConfigurationType: parameters.ConfigurationType, ConfigurationId: parameters.ConfigurationId, Result: result, StatusCode: statusCode, StatusMessage: statusMessage,
    });
    const response = await call(cmdlet, 'POST', ASSOCIATIONS, {
      callPriority: parameters.CallPriority ?? 3,
      configurationId: parameters.ConfigurationId,
      configurationType: parameters.ConfigurationType,
      endpointsId: endpoints,
    });
    if (response.status === 409) {
      const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      return { output: [{ Results: endpoints.map((id) => item(id, 'Conflict', 'Failed', `${body.error?.message ?? 'Conflict'} (${body.error?.code ?? 'Conflict'})`)) }], errors: [] };
    }
    if (!response.ok) throw await failure(cmdlet, response);
    return { output: [{ Results: endpoints.map((id) => item(id, 'Created', 'Succeeded', '')) }], errors: [] };
  },

  /** Removing none: a terminating BadRequest (the wording and status are UNKNOWN; not a NotFound, the least convenient). */
  async 'Remove-CsOnlineApplicationInstanceAssociation'(parameters) {
    const cmdlet = 'Remove-CsOnlineApplicationInstanceAssociation';
    const endpoints = identitiesOf(parameters.Identities);
    const results = [];
    for (const id of endpoints) {
      const response = await call(cmdlet, 'DELETE', `${ASSOCIATIONS}/${encodeURIComponent(id)}`);
      if (response.status === 404) throw new CmdletError(recordOf(cmdlet, 400, `Correlation id for this request : ${randomUUID()}`));
      if (!response.ok) throw await failure(cmdlet, response);
      results.push({ Id: id, Result: 'Succeeded', StatusCode: 'OK', StatusMessage: '' });
    }
    return { output: [{ Results: results }], errors: [] };
  },
};

/** `Get-CsAutoAttendant` / `Get-CsCallQueue -Identity`: an unknown identity "generates an error" (DOC: Get-CsCallQueue.md). */
async function voiceApp(cmdlet: 'Get-CsAutoAttendant' | 'Get-CsCallQueue', route: string, parameters: Record<string, ParameterValue>): Promise<Written> {
  const identity = String(parameters.Identity ?? '');
  const response = await call(cmdlet, 'GET', `${route}/${encodeURIComponent(identity)}`);
  if (response.status === 404) return { output: [], errors: [recordOf(cmdlet, 404, `The configuration '${identity}' was not found.`)] };
  if (!response.ok) throw await failure(cmdlet, response);
  const found = (await response.json()) as Record<string, unknown>;
  return { output: [{ Identity: found.identity, Name: found.name }], errors: [] };
}

async function invoke({ cmdlet, parameters, errorAction }: InvokeArgs): Promise<InvokeResult> {
  if (!(CMDLETS as readonly string[]).includes(cmdlet)) {
    throw hostFailure('invalid', `Cmdlet '${String(cmdlet)}' is not one this host runs (${CMDLETS.join(', ')}).`, 'UnknownCmdlet');
  }
  if (!teamsToken) throw hostFailure('unauthenticated', 'The session is not connected: send connect with a Graph and a Teams admin token first.', 'NotConnected');
  // The *-Cs cmdlets need the app's Graph token to read the organization (Organization.Read.All,
  // teams-powershell-application-authentication): without it every one is refused like a missing role.
  if (!organizationReadable) throw new CmdletError(recordOf(cmdlet, 403, 'Access Denied.', 'Provide different credential or request access.'));
  const written = await cmdlets[cmdlet](parameters ?? {});
  // With -ErrorAction Stop the first error a cmdlet writes ends it.
  if (errorAction === 'Stop' && written.errors[0]) throw new CmdletError(written.errors[0]);
  return written;
}

async function connect(args: { graphToken?: string; teamsToken?: string; tenantId?: string }): Promise<{ connected: true }> {
  const { graphToken: graph, teamsToken: teams, tenantId } = args;
  if (!graph || !teams) {
    throw hostFailure('invalid', 'connect needs graphToken and teamsToken (access tokens for Microsoft Graph and the Skype and Teams Tenant Admin API).', 'MissingToken');
  }
  // The module tells the two tokens apart by audience; a Teams token is what its Cs cmdlets need.
  const audiences = [graph, teams].map((token) => claimsOf(token)?.aud ?? '');
  if (!GRAPH_AUDIENCES.includes(audiences[0] ?? '') || audiences[1] !== TEAMS_AUDIENCE) {
    throw hostFailure('unauthenticated', 'AccessTokens must be a Microsoft Graph token and a Skype and Teams Tenant Admin API token (48ac35b8-…), in that order.', 'InvalidAccessTokens');
  }
  const tid = claimsOf(teams)?.tid;
  if (tenantId && tid && tid.toLowerCase() !== tenantId.toLowerCase()) {
    throw hostFailure('unauthenticated', 'The access tokens were issued for another tenant than -TenantId.', 'TenantMismatch');
  }
  // Connecting reads the tenant's organization with the Graph token; a refusal does not fail the
  // connection (whether the module checks it here is UNKNOWN) but every cmdlet after it.
  const organization = await call('Connect-MicrosoftTeams', 'GET', '/v1.0/organization?$select=id', undefined, graph);
  if (organization.status === 401) throw hostFailure('unauthenticated', 'The Microsoft Graph access token was refused.', 'InvalidAuthenticationToken');
  if (organization.status !== 200 && organization.status !== 403) {
    throw hostFailure('transient', `Connect-MicrosoftTeams could not read the organization: ${organization.status}.`);
  }
  await organization.arrayBuffer();
  organizationReadable = organization.status === 200;
  teamsToken = teams;
  return { connected: true };
}

/** Resolves once the line has been handed to the pipe, so exiting after it loses nothing. */
function send(answer: Answer): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(answer)}\n`, () => resolve()));
}

async function handle(line: string): Promise<boolean> {
  let id: number | null = null;
  try {
    const command = JSON.parse(line) as { id?: number; op?: string } & Record<string, unknown>;
    id = typeof command.id === 'number' ? command.id : null;
    switch (command.op) {
      case 'hello':
        await send({ id, ok: true, result: {
          powershell: `stand-in (Node ${process.version})`,
          module: { name: 'MicrosoftTeams', pinned: PINNED_TEAMS_MODULE_VERSION, importable: true, found: [PINNED_TEAMS_MODULE_VERSION] },
          host: 'simulator',
        } });
        return true;
      case 'connect':
        await send({ id, ok: true, result: await connect(command as { graphToken?: string; teamsToken?: string; tenantId?: string }) });
        return true;
      case 'invoke':
        await send({ id, ok: true, result: await invoke(command as unknown as InvokeArgs) });
        return true;
      case 'quit':
        await send({ id, ok: true, result: { bye: true } });
        return false;
      default:
        throw hostFailure('invalid', `Unknown op '${String(command.op)}': use hello, connect, invoke or quit.`, 'UnknownOp');
    }
  } catch (err) {
    const error: WireError = err instanceof HostError ? err.wire
      : err instanceof CmdletError ? { message: err.record.message, record: err.record }
        : { kind: 'transient', message: err instanceof Error ? err.message : String(err) };
    await send({ id, ok: false, error });
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
