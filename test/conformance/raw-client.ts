/**
 * A client the product does not use: raw `fetch` for the token (OAuth client credentials, form-encoded)
 * and for every call, so the conformance tests see exactly the status codes, headers and bodies the
 * tenant simulator sends, with nothing in between that retries, parses or forgives.
 */
import { randomUUID } from 'node:crypto';
import { LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { after, afterEach, before } from 'node:test';
import type { TestSimulator } from '../simulator/helpers';
import { startSimulator } from '../simulator/helpers';

export const GRAPH = 'https://graph.microsoft.com';
export const TEAMS_ADMIN = '48ac35b8-9aa8-4d74-927d-1f4a14a0b239';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is empty or not JSON; tests assert on its shape. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary JSON whose shape is what the tests check
  json: any;
}

async function read(response: Response): Promise<RawResponse> {
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export class RawClient {
  private readonly tokens = new Map<string, string>();

  constructor(
    readonly simulator: TestSimulator,
    private readonly clientId = LOCAL_CLIENT_ID,
    private readonly secret = LOCAL_CLIENT_SECRET,
  ) {}

  /** POST {authority}/{tenant}/oauth2/v2.0/token with grant_type=client_credentials, as any OAuth client would. */
  async tokenResponse(scope: string, form: Record<string, string> = {}): Promise<RawResponse> {
    return read(await fetch(`${this.simulator.url}/${LOCAL_TENANT_ID}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: this.clientId, client_secret: this.secret, scope, ...form }),
    }));
  }

  async token(resource: string): Promise<string> {
    const cached = this.tokens.get(resource);
    if (cached) return cached;
    const response = await this.tokenResponse(`${resource}/.default`);
    if (response.status !== 200) throw new Error(`token for ${resource}: ${response.status} ${response.text}`);
    const token = (response.json as { access_token: string }).access_token;
    this.tokens.set(resource, token);
    return token;
  }

  /** A Graph call; `path` starts with /v1.0 and is sent exactly as given (no encoding added). */
  async graph(method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<RawResponse> {
    return read(await fetch(`${this.simulator.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await this.token(GRAPH)}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }));
  }

  /** A Teams admin service call with the headers its public clients send. */
  async teams(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<RawResponse> {
    return read(await fetch(`${this.simulator.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await this.token(TEAMS_ADMIN)}`,
        'x-authz-scope': 'tenant',
        'x-ms-correlation-id': randomUUID(),
        'x-requested-with': 'XMLHttpRequest',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }));
  }
}

/** Decodes a JWT's header and claims without verifying it. */
export function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header = '', claims = ''] = token.split('.');
  const part = (text: string) => JSON.parse(Buffer.from(text, 'base64url').toString()) as Record<string, unknown>;
  return { header: part(header), claims: part(claims) };
}

/** One simulator and a raw client for the enclosing describe block, reset to its seed after each test. */
export function rawClientPerSuite(use: (started: { simulator: TestSimulator; client: RawClient }) => void): void {
  let simulator: TestSimulator | undefined;
  before(async () => {
    simulator = await startSimulator();
    use({ simulator, client: new RawClient(simulator) });
  });
  afterEach(async () => {
    await simulator?.control('/reset', { method: 'POST' });
  });
  after(() => simulator?.close());
}
