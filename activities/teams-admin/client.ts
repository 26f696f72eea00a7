/**
 * Client for Teams application instances (resource accounts). Graph has no endpoint that creates
 * one: Microsoft's supported way is `New-CsOnlineApplicationInstance` (MicrosoftTeams PowerShell),
 * which calls the Teams admin service behind it. This client speaks that service's
 * application-instance REST shape with an app-only token for the Teams admin resource; the tenant
 * simulator implements the same shape.
 *
 * Only the paged read is known from public code (`GET …/ApplicationInstances?pageSize=&skipToken=`, with
 * `x-authz-scope`, `x-ms-correlation-id` and `X-Requested-With`), so lookups page through the list and
 * never rely on a filter the service may not have; creating accepts any 2xx answer that names the object.
 */
import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { TEAMS_ADMIN_RESOURCE } from '../../lib/microsoft';
import { isRenewable } from '../graph/client';
import { httpFailure, parseRetryAfter } from '../graph/errors';
import { READ_REPEATS, isTransientAnswer, readRepeatPause } from '../pacing';
import type { Pacer } from '../pacing';

export interface ApplicationInstance {
  objectId: string;
  userPrincipalName: string;
  displayName: string;
  applicationId: string;
  phoneNumber?: string | null;
}

export interface TeamsAdminClientOptions {
  /**
   * Credential of the app registration; its service principal needs the Teams Administrator role. A
   * refused token is renewed and the request repeated once only when it is a RenewableTokenCredential.
   */
  credential: TokenCredential;
  /** Service root, e.g. https://api.interfaces.records.teams.microsoft.com or the simulator's URL. */
  baseUrl: string;
  /** Per-request timeout, ms. Default 30000. */
  timeoutMs?: number;
  /** The tenant's budget, shared with the Graph client; every request waits for its cost there. */
  pacer?: Pacer;
}

/** HTTP failure in the shape the activity error mapper reads (status, code, message, headers). */
export class TeamsAdminError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly headers: Headers,
    readonly detailCodes?: string[],
  ) {
    super(message);
    this.name = 'TeamsAdminError';
  }
}

const INSTANCES = '/Teams.PlatformService/v2/ApplicationInstances';
/** The page size public clients use; the service may return fewer. */
const PAGE_SIZE = 100;
/** A guard against a service that keeps returning a skipToken: 100,000 instances is far beyond any tenant. */
const MAX_PAGES = 1000;

/** How long a lookup waits for others to share its walk through the list. */
const GATHER_MS = 50;

export class TeamsAdminClient {
  private gathering: { wanted: Set<string>; found: Promise<Map<string, ApplicationInstance>> } | undefined;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: TeamsAdminClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'https:') throw new Error(`Teams admin base URL must be https (got ${options.baseUrl})`);
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /**
   * The instance with this UPN, looked for page by page through the whole list (the service offers no
   * filter a public client shows). Lookups that arrive within {@link GATHER_MS} of each other share one
   * walk through the list, which goes until it has found them all or the list ends: many accounts of a
   * batch looked up at once cost one walk, not one each. A walk starts only after every lookup it serves
   * was asked, so it never answers from a list read before the question.
   */
  findByUpn(upn: string): Promise<ApplicationInstance | undefined> {
    if (!this.gathering) {
      const wanted = new Set<string>();
      const found = new Promise<void>((resolve) => setTimeout(resolve, GATHER_MS)).then(() => {
        this.gathering = undefined;
        return this.walk(wanted);
      });
      this.gathering = { wanted, found };
    }
    const wanted = upn.toLowerCase();
    this.gathering.wanted.add(wanted);
    return this.gathering.found.then((instances) => instances.get(wanted));
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
    throw new TeamsAdminError(502, 'EndlessPaging', `the application-instance list did not end after ${MAX_PAGES} pages`, undefined, new Headers());
  }

  async create(input: { userPrincipalName: string; displayName: string; applicationId: string }): Promise<ApplicationInstance> {
    const created = (await this.request('POST', INSTANCES, input)) as Partial<ApplicationInstance> | undefined;
    if (typeof created?.objectId !== 'string' || created.objectId === '') {
      throw new TeamsAdminError(502, 'UnexpectedAnswer', 'the service accepted the new instance but its answer did not name the object', undefined, new Headers());
    }
    return created as ApplicationInstance;
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
      const failure = httpFailure(response, text);
      throw new TeamsAdminError(failure.statusCode, failure.code, failure.message, failure.requestId, failure.headers, failure.detailCodes);
    }
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // An answer that cannot be read must not pass for "nothing found": that would lead to a second create.
      throw new TeamsAdminError(502, 'UnreadableAnswer', `${method} ${path.split('?')[0]} answered ${response.status} with a body that is not JSON`,
        response.headers.get('request-id') ?? undefined, response.headers);
    }
  }

  private async send(method: string, path: string, body?: object): Promise<{ response: Response; token: string }> {
    const token = await this.options.credential.getToken(`${TEAMS_ADMIN_RESOURCE}/.default`);
    if (!token) throw new TeamsAdminError(401, 'NoToken', 'the credential returned no token for the Teams admin API', undefined, new Headers());
    const { pacer } = this.options;
    await pacer?.acquire(method, `${this.baseUrl}${path}`);
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token.token}`,
        accept: 'application/json',
        'x-authz-scope': 'tenant',
        'x-ms-correlation-id': randomUUID(),
        'x-requested-with': 'XMLHttpRequest',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.status === 429) pacer?.throttled(parseRetryAfter(response.headers.get('retry-after')), response.headers.get('x-ms-throttle-scope'));
    else pacer?.answered();
    return { response, token: token.token };
  }
}
