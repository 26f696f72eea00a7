/**
 * The Microsoft Graph client the activities use: the official SDK client with token auth from an
 * `@azure/identity` credential, pointed at Microsoft's Graph or at the tenant simulator.
 */
import type { TokenCredential } from '@azure/identity';
import { AuthenticationHandler, Client, HTTPMessageHandler } from '@microsoft/microsoft-graph-client';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { GRAPH_RESOURCE } from '../../lib/microsoft';
import type { ServiceCallMetrics } from '../metrics';
import { routeTemplate } from '../metrics';
import { READ_REPEATS, isTransientAnswer, readRepeatPause } from '../pacing';
import type { Pacer } from '../pacing';
import { parseRetryAfter } from './errors';

/**
 * A credential that can be told that a service refused one of its tokens, so that its next `getToken`
 * fetches a new token instead of serving the refused one from its cache until it expires (up to an
 * hour). Entra rolls its signing keys periodically and, in an emergency, at once ("Signing key rollover
 * in the Microsoft identity platform", https://learn.microsoft.com/entra/identity-platform/signing-key-rollover),
 * and a token can be revoked before it expires; Graph then answers 401 `InvalidAuthenticationToken`.
 */
export interface RenewableTokenCredential extends TokenCredential {
  /** A service answered 401 to a request that carried `token`. The token is compared, never kept or logged. */
  tokenRefused(token: string): void;
}

export function isRenewable(credential: TokenCredential): credential is RenewableTokenCredential {
  return typeof (credential as Partial<RenewableTokenCredential>).tokenRefused === 'function';
}

export interface GraphClientOptions {
  /**
   * Any `@azure/identity` credential (client secret, certificate, managed identity). A refused token is
   * renewed and the request repeated once only when it is a {@link RenewableTokenCredential}.
   */
  credential: TokenCredential;
  /** Graph root without version, e.g. https://graph.microsoft.com or the simulator's URL. Must be https. */
  baseUrl: string;
  /** The tenant's budget, shared with the Teams admin client; every request waits for its cost there. */
  pacer?: Pacer;
  /** Where throttled answers are counted, by route template. */
  metrics?: ServiceCallMetrics;
}

/**
 * First in the chain: each request (and each repeat) waits for the tenant's budget. A read that meets a
 * transient failure (5xx, or a 429 that does not name the app's limit in the tenant) is asked again after
 * a short jittered pause, up to {@link READ_REPEATS} times: a step of several reads should not lose its
 * whole attempt, and fall into Temporal's growing backoff, for one busy answer. Writes are never repeated
 * here (a 504 may have carried one out); their activity decides from a fresh lookup.
 */
class Paced implements Middleware {
  private next: Middleware | undefined;

  constructor(
    private readonly pacer: Pacer,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (!next) throw new Error('Paced needs a next middleware');
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const method = (context.options?.method ?? 'GET').toUpperCase();
    for (let repeat = 0; ; repeat += 1) {
      await this.pacer.acquire(method, url);
      await next.execute(context);
      const response = context.response;
      const status = response?.status ?? 0;
      const scope = response?.headers.get('x-ms-throttle-scope');
      const retryAfter = parseRetryAfter(response?.headers.get('retry-after'));
      if (status === 429) this.pacer.throttled(retryAfter, scope);
      else this.pacer.answered();
      if (!isTransientAnswer(status, scope) || method !== 'GET' || repeat >= READ_REPEATS || typeof context.request !== 'string') return;
      const pause = readRepeatPause(retryAfter);
      if (pause === undefined) return;
      await response?.body?.cancel().catch(() => undefined);
      dropAuthorization(context);
      await this.sleep(pause);
    }
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

const AUTHORIZATION = 'Authorization';

/** The bearer token a request carried, wherever the SDK put the header. */
function bearerOf(context: Context): string | undefined {
  const headers = context.options?.headers;
  let value: string | null | undefined;
  if (headers instanceof Headers) value = headers.get(AUTHORIZATION);
  else if (Array.isArray(headers)) value = headers.find(([name]) => name?.toLowerCase() === 'authorization')?.[1];
  else if (headers) value = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1] as string | undefined;
  return /^Bearer (\S+)$/.exec(value ?? '')?.[1];
}

/** The SDK's AuthenticationHandler appends to an existing header, so the refused one must go before the repeat. */
function dropAuthorization(context: Context): void {
  const headers = context.options?.headers;
  if (!context.options || !headers) return;
  if (headers instanceof Headers) headers.delete(AUTHORIZATION);
  else if (Array.isArray(headers)) context.options.headers = headers.filter(([name]) => name?.toLowerCase() !== 'authorization');
  else for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete (headers as Record<string, string>)[name];
}

/**
 * Placed before the AuthenticationHandler: when Graph answers 401 to a request whose token came from
 * the cache, the credential drops that token and the request is sent once more with a new one. Any 401
 * qualifies, not only `InvalidAuthenticationToken`: the other 401s (an app unknown to the tenant) fail
 * the same way with a new token, at the cost of one token request. A 401 is decided before the request
 * is processed, so repeating a write is safe. A second 401 is passed on and maps to AuthenticationFailed.
 */
class RenewRefusedToken implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly credential: RenewableTokenCredential) {}

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (!next) throw new Error('RenewRefusedToken needs a next middleware');
    await next.execute(context);
    // A Request object's body may be a stream that cannot be sent twice; the SDK passes URLs.
    if (context.response?.status !== 401 || typeof context.request !== 'string') return;
    const refused = bearerOf(context);
    if (refused === undefined) return;
    this.credential.tokenRefused(refused);
    dropAuthorization(context);
    // Free the refused answer's connection; its body is not needed.
    await context.response.body?.cancel().catch(() => undefined);
    await next.execute(context);
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

/**
 * Last before the HTTP handler, so it sees every answer Graph sent, the repeats of the middlewares above
 * included: a 429 is counted by the request's route template. A 503 is not throttling for Graph (an
 * unavailable service; https://learn.microsoft.com/graph/errors) and every client treats it as transient.
 */
class CountThrottled implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly metrics: ServiceCallMetrics) {}

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (!next) throw new Error('CountThrottled needs a next middleware');
    await next.execute(context);
    if (context.response?.status === 429) {
      this.metrics.throttled('graph', routeTemplate(typeof context.request === 'string' ? context.request : context.request.url));
    }
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

/**
 * Builds a Graph client **without** the SDK's RetryHandler: Temporal owns retries, and a hidden
 * retry layer would stack on top of them (up to 10 silent retries per attempt) and hide throttling
 * from the workflow's history. The one repeat it makes is for a refused token (see RenewRefusedToken).
 */
export function createGraphClient(options: GraphClientOptions): Client {
  const url = new URL(options.baseUrl);
  if (url.protocol !== 'https:') throw new Error(`Graph base URL must be https (got ${options.baseUrl})`);
  const auth = new AuthenticationHandler(
    new TokenCredentialAuthenticationProvider(options.credential, { scopes: [`${GRAPH_RESOURCE}/.default`] }),
  );
  const http = new HTTPMessageHandler();
  if (options.metrics) {
    const count = new CountThrottled(options.metrics);
    count.setNext(http);
    auth.setNext(count);
  } else {
    auth.setNext(http);
  }
  let first: Middleware = auth;
  if (isRenewable(options.credential)) {
    const renew = new RenewRefusedToken(options.credential);
    renew.setNext(auth);
    first = renew;
  }
  if (options.pacer) {
    const paced = new Paced(options.pacer);
    paced.setNext(first);
    first = paced;
  }
  return Client.initWithMiddleware({
    middleware: first,
    baseUrl: `${url.origin}/`,
    defaultVersion: 'v1.0',
    // The SDK only attaches the token to hosts it knows; the simulator's host must be named.
    customHosts: new Set([url.hostname]),
  });
}
