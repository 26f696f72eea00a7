/**
 * The `rest-experimental` adapter of the TeamsAdmin port: the Teams admin service ("ConfigAPI") that
 * the MicrosoftTeams PowerShell module calls under the hood, spoken directly with an app-only token
 * for the Teams admin resource. EXPERIMENTAL and unsupported by Microsoft: only the paged read is
 * known from public code (`GET …/ApplicationInstances?pageSize=&skipToken=`, with `x-authz-scope`,
 * `x-ms-correlation-id` and `X-Requested-With`), so lookups page through the list and never rely on a
 * filter the service may not have. The create and association paths are the cmdlets' synopses
 * (reference notes 2.2 and 5.1); their exact bodies and statuses are unknown. The supported adapter is
 * `powershell`. The tenant simulator implements the same shapes.
 *
 * HTTP failures become {@link TeamsAdminError}s with a domain `kind`; statuses stay in this file.
 */
import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { TEAMS_ADMIN_RESOURCE } from '../../lib/microsoft';
import { GatheredLookups } from '../gather';
import { isRenewable } from '../graph/client';
import { httpFailure, parseRetryAfter } from '../graph/errors';
import type { HttpFailure } from '../graph/errors';
import type { ServiceCallMetrics } from '../metrics';
import { routeTemplate } from '../metrics';
import { READ_REPEATS, isTransientAnswer, readRepeatPause } from '../pacing';
import type { Pacer } from '../pacing';
import { TeamsAdminError } from './teams-admin';
import type { ApplicationInstance, AssociateInput, Association, ConfigurationType, TeamsAdmin, VoiceApp } from './teams-admin';

/**
 * The headers every public client of the Teams admin service sends (CIPP's New-TeamsRequestV2: bearer
 * token, `x-authz-scope: tenant`, a GUID correlation id, `X-Requested-With`); the simulator requires them.
 */
export function teamsAdminHeaders(token: string, json: boolean): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    accept: 'application/json',
    'x-authz-scope': 'tenant',
    'x-ms-correlation-id': randomUUID(),
    'x-requested-with': 'XMLHttpRequest',
    ...(json ? { 'content-type': 'application/json' } : {}),
  };
}

/** `-CallPriority` when none is given: Teams' documented default is 3 (1 highest, 5 lowest). */
export const DEFAULT_CALL_PRIORITY = 3;

function toAssociation(objectId: string, found: Partial<Association>): Association {
  return {
    objectId: found.objectId ?? objectId,
    configurationId: found.configurationId ?? '',
    configurationType: found.configurationType === 'CallQueue' ? 'CallQueue' : 'AutoAttendant',
    ...(typeof found.callPriority === 'number' ? { callPriority: found.callPriority } : {}),
  };
}

export interface RestTeamsAdminOptions {
  /**
   * Credential of the app registration; its service principal needs a Teams administrator role. A
   * refused token is renewed and the request repeated once only when it is a RenewableTokenCredential.
   */
  credential: TokenCredential;
  /** Service root, e.g. https://api.interfaces.records.teams.microsoft.com or the simulator's URL. */
  baseUrl: string;
  /** Per-request timeout, ms. Default 30000. */
  timeoutMs?: number;
  /** The tenant's budget, shared with the Graph client; every request waits for its cost there. */
  pacer?: Pacer;
  /** Where throttled answers are counted, by route template. */
  metrics?: ServiceCallMetrics;
}

/** Error codes the association service is known to answer with (module metadata, reference notes). */
const ALREADY_ASSOCIATED = /AppEndpointAlreadyAssociated/i;

/** An HTTP failure in the domain's words. */
export function teamsAdminFailure(failure: HttpFailure | { statusCode: number; code: string; message: string; requestId?: string; headers?: Headers; detailCodes?: string[] }): TeamsAdminError {
  const { statusCode: status, code, requestId } = failure;
  const retryAfterMs = parseRetryAfter(failure.headers?.get('retry-after'));
  const details = { code, ...(requestId ? { requestId } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  const said = `${code}: ${failure.message}`;
  const conflict = (status === 400 || status === 409) &&
    ((failure.detailCodes ?? []).includes('ObjectConflict') || /same value for property userPrincipalName/i.test(failure.message) ||
      ALREADY_ASSOCIATED.test(code) || (status === 409 && code !== 'Directory_ConcurrencyViolation'));
  if (conflict) return new TeamsAdminError('conflict', said, details);
  if (status === 409) return new TeamsAdminError('transient', said, details);
  if (status === 400 && /domain/i.test(failure.message)) return new TeamsAdminError('domainNotVerified', failure.message, details);
  if (status === 401) return new TeamsAdminError('unauthenticated', said, details);
  if (status === 403) return new TeamsAdminError('forbidden', said, details);
  if (status === 404) return new TeamsAdminError('notFound', said, details);
  if (status === 429) return new TeamsAdminError('throttled', said, details);
  if (status >= 500 || status <= 0) return new TeamsAdminError('transient', `${status > 0 ? `HTTP ${status}` : 'No answer'} ${said}`, details);
  return new TeamsAdminError('invalid', `HTTP ${status} ${said}`, details);
}

/** The Teams admin service's paths (public code and the cmdlets' synopses; reference notes 2.2 and 5.1). */
export const INSTANCES = '/Teams.PlatformService/v2/ApplicationInstances';
export const ASSOCIATIONS = '/Teams.VoiceApps/applicationinstanceassociations';
export const VOICE_APPS: Record<ConfigurationType, string> = { AutoAttendant: '/Teams.VoiceApps/auto-attendants', CallQueue: '/Teams.VoiceApps/callqueues' };
/** The page size public clients use; the service may return fewer. */
const PAGE_SIZE = 100;
/** A guard against a service that keeps returning a skipToken: 100,000 instances is far beyond any tenant. */
const MAX_PAGES = 1000;

/** EXPERIMENTAL: the undocumented REST shape; prefer the `powershell` adapter. */
export class RestTeamsAdmin implements TeamsAdmin {
  readonly adapter = 'rest-experimental' as const;
  /** Lookups gathered into one walk through the list. */
  private readonly lookups = new GatheredLookups<ApplicationInstance>((upns) => this.walk(new Set(upns)));
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: RestTeamsAdminOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'https:') throw new Error(`Teams admin base URL must be https (got ${options.baseUrl})`);
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /**
   * The instance with this UPN, looked for page by page through the whole list (the service offers no
   * filter a public client shows). Lookups that arrive within the gathering time ({@link GatheredLookups}) of each other share one
   * walk through the list, which goes until it has found them all or the list ends: many accounts of a
   * batch looked up at once cost one walk, not one each. A walk starts only after every lookup it serves
   * was asked, so it never answers from a list read before the question.
   */
  findByUpn(upn: string): Promise<ApplicationInstance | undefined> {
    return this.lookups.get(upn.toLowerCase());
  }

  private async walk(wanted: Set<string>): Promise<Map<string, ApplicationInstance>> {
    const found = new Map<string, ApplicationInstance>();
    let skipToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ pageSize: String(PAGE_SIZE), ...(skipToken ? { skipToken } : {}) });
      const body = ((await this.request('GET', `${INSTANCES}?${query}`)) ?? {}) as { applicationInstances?: ApplicationInstance[]; skipToken?: string | null };
      for (const instance of body.applicationInstances ?? []) {
        const name = instance.userPrincipalName?.toLowerCase();
        if (name && wanted.has(name)) found.set(name, instance);
      }
      if (found.size === wanted.size || !body.skipToken) return found;
      skipToken = body.skipToken;
    }
    throw new TeamsAdminError('transient', `the application-instance list did not end after ${MAX_PAGES} pages`, { code: 'EndlessPaging' });
  }

  async create(input: { userPrincipalName: string; displayName: string; applicationId: string }): Promise<ApplicationInstance> {
    const created = (await this.request('POST', INSTANCES, input)) as Partial<ApplicationInstance> | undefined;
    if (typeof created?.objectId !== 'string' || created.objectId === '') {
      throw new TeamsAdminError('transient', 'the service accepted the new instance but its answer did not name the object', { code: 'UnexpectedAnswer' });
    }
    return created as ApplicationInstance;
  }

  async findVoiceApp(configurationType: ConfigurationType, identity: string): Promise<VoiceApp | undefined> {
    const found = (await this.unlessNotFound(this.request('GET', `${VOICE_APPS[configurationType]}/${encodeURIComponent(identity)}`))) as
      { identity?: string; name?: string } | undefined;
    return found ? { identity: found.identity ?? identity, name: found.name ?? '', configurationType } : undefined;
  }

  async getAssociation(objectId: string): Promise<Association | undefined> {
    const found = (await this.unlessNotFound(this.request('GET', `${ASSOCIATIONS}/${encodeURIComponent(objectId)}`))) as Partial<Association> | undefined;
    return found?.configurationId ? toAssociation(objectId, found) : undefined;
  }

  async associate(input: AssociateInput): Promise<Association> {
    const body = {
      callPriority: input.callPriority ?? DEFAULT_CALL_PRIORITY,
      configurationId: input.configurationId,
      configurationType: input.configurationType,
      endpointsId: [input.objectId],
    };
    const answer = (await this.request('POST', ASSOCIATIONS, body)) as { associations?: Partial<Association>[] } | undefined;
    const made = answer?.associations?.find((a) => a.objectId?.toLowerCase() === input.objectId.toLowerCase());
    return toAssociation(input.objectId, made ?? { ...input, callPriority: body.callPriority });
  }

  async removeAssociation(objectId: string): Promise<boolean> {
    const removed = await this.unlessNotFound(this.request('DELETE', `${ASSOCIATIONS}/${encodeURIComponent(objectId)}`).then(() => true));
    return removed === true;
  }

  async probe(): Promise<{ detail: string }> {
    const body = (await this.request('GET', `${INSTANCES}?pageSize=1`)) as { applicationInstances?: unknown[] } | undefined;
    return { detail: `listed application instances through the REST adapter (${body?.applicationInstances?.length ?? 0} on the first page)` };
  }

  async close(): Promise<void> {
    // Nothing is kept open: every request is its own.
  }

  private async unlessNotFound<T>(pending: Promise<T>): Promise<T | undefined> {
    try {
      return await pending;
    } catch (err) {
      if (err instanceof TeamsAdminError && err.kind === 'notFound') return undefined;
      throw err;
    }
  }

  /**
   * One call, sent once more with a new token when the service refuses the cached one (401): after a
   * signing-key rollover or a revocation the credential would otherwise serve the refused token until it
   * expires. A 401 is decided before the request is processed, so repeating a create is safe; a second
   * 401 is the caller's failure.
   */
  private async request(method: string, path: string, body?: object): Promise<unknown> {
    const { credential } = this.options;
    let sent = await this.send(method, path, body);
    if (sent.response.status === 401 && isRenewable(credential)) {
      credential.tokenRefused(sent.token);
      await sent.response.body?.cancel().catch(() => undefined);
      sent = await this.send(method, path, body);
    }
    // A read met by a transient failure is asked again after a short jittered pause (as the Graph client does).
    for (let repeat = 0; method === 'GET' && repeat < READ_REPEATS; repeat += 1) {
      if (!isTransientAnswer(sent.response.status, sent.response.headers.get('x-ms-throttle-scope'))) break;
      const pause = readRepeatPause(parseRetryAfter(sent.response.headers.get('retry-after')));
      if (pause === undefined) break;
      await sent.response.body?.cancel().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, pause));
      sent = await this.send(method, path, body);
    }
    const { response } = sent;
    const text = await response.text();
    if (!response.ok) {
      throw teamsAdminFailure(httpFailure(response, text));
    }
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // An answer that cannot be read must not pass for "nothing found": that would lead to a second create.
      throw new TeamsAdminError('transient', `${method} ${path.split('?')[0]} answered ${response.status} with a body that is not JSON`,
        { code: 'UnreadableAnswer', ...(response.headers.get('request-id') ? { requestId: response.headers.get('request-id') ?? '' } : {}) });
    }
  }

  private async send(method: string, path: string, body?: object): Promise<{ response: Response; token: string }> {
    const token = await this.options.credential.getToken(`${TEAMS_ADMIN_RESOURCE}/.default`);
    if (!token) throw new TeamsAdminError('unauthenticated', 'the credential returned no token for the Teams admin API', { code: 'NoToken' });
    const { pacer } = this.options;
    await pacer?.acquire(method, `${this.baseUrl}${path}`);
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: teamsAdminHeaders(token.token, body !== undefined),
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.timeoutMs),
    }).catch((err: unknown) => {
      // No answer (refused, reset, timed out): whether the request had its effect is unknown.
      throw new TeamsAdminError('transient', `no answer from the Teams admin service to ${method} ${path.split('?')[0]}: ${err instanceof Error ? err.message : String(err)}`,
        { code: err instanceof Error ? err.name : 'NoAnswer' });
    });
    if (response.status === 429) this.options.metrics?.throttled('teams', routeTemplate(path));
    if (response.status === 429) pacer?.throttled(parseRetryAfter(response.headers.get('retry-after')), response.headers.get('x-ms-throttle-scope'));
    else pacer?.answered();
    return { response, token: token.token };
  }
}
