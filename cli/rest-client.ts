/**
 * The REST API as the `dialtone` command reaches it: one request at a time, the answer as text, and a
 * failure to connect turned into a message that names the URL tried and how to point at another API.
 */
import { EnvReader } from '../lib/config';
import type { Env } from '../lib/config';
import { LOCAL_API_PORT } from '../lib/local-defaults';

export interface ApiTarget {
  /** Where the API listens, without a trailing slash (a path prefix is kept). */
  baseUrl: string;
  /** Bearer token; never printed. */
  token?: string;
}

export function readApiTarget(env: Env): ApiTarget {
  const r = new EnvReader(env);
  const baseUrl = r.url('DIALTONE_API_URL', `http://127.0.0.1:${LOCAL_API_PORT}`, ['http:', 'https:']);
  const token = r.secret('DIALTONE_API_TOKEN');
  if (URL.canParse(baseUrl)) {
    const { username, password } = new URL(baseUrl);
    if (username || password) r.problems.push('DIALTONE_API_URL must not hold a user name or password: put the token in DIALTONE_API_TOKEN');
  }
  r.done();
  return { baseUrl, token };
}

export interface ApiRequest {
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is, with its content type (a CSV file), instead of a JSON body. */
  text?: { contentType: string; body: string };
  headers?: Record<string, string>;
}

export interface ApiAnswer {
  ok: boolean;
  status: number;
  text: string;
}

/** The API did not answer at all: nothing listening, a host name that does not resolve, a TLS failure. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(
      `cannot reach the Dialtone API at ${url}: ${reason}\n` +
        `Set DIALTONE_API_URL to the API's address; the default, http://127.0.0.1:${LOCAL_API_PORT}, is where \`npm start\` runs the local stack.`,
    );
    this.name = 'ApiUnreachableError';
  }
}

export class RestClient {
  constructor(private readonly target: ApiTarget) {}

  async request(method: 'GET' | 'POST', path: string, request: ApiRequest = {}): Promise<ApiAnswer> {
    const url = new URL(`${this.target.baseUrl}${path}`);
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    try {
      const response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(request.text === undefined ? {} : { 'content-type': request.text.contentType }),
          ...request.headers,
          ...(this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}),
        },
        body: request.text !== undefined ? request.text.body : request.body === undefined ? undefined : JSON.stringify(request.body),
      });
      return { ok: response.ok, status: response.status, text: await response.text() };
    } catch (err) {
      const reason = describeFailure(err);
      throw new ApiUnreachableError(url.href, this.target.token ? reason.replaceAll(this.target.token, '<DIALTONE_API_TOKEN>') : reason);
    }
  }
}

const CERTIFICATE_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/;

/**
 * fetch reports every failure as "fetch failed"; the reason a person can act on (ECONNREFUSED,
 * ENOTFOUND, a certificate error) is at the end of its cause chain, or in each error of an
 * AggregateError when several addresses were tried.
 */
function describeFailure(err: unknown): string {
  let deepest: unknown = err;
  while (deepest instanceof Error && deepest.cause instanceof Error) deepest = deepest.cause;
  const causes = deepest instanceof AggregateError && deepest.errors.length > 0 ? (deepest.errors as unknown[]) : [deepest];
  const described = [...new Set(causes.map(describeOne))].join('; ');
  const certificate = causes.some((c) => CERTIFICATE_CODES.test(errorCode(c) ?? ''));
  return certificate ? `${described} (if the API's certificate comes from your own CA, trust it with NODE_EXTRA_CA_CERTS)` : described;
}

function describeOne(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = errorCode(err);
  if (!code || err.message.includes(code)) return err.message || err.name;
  return err.message ? `${code}: ${err.message}` : code;
}

function errorCode(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
