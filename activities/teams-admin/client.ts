/**
 * Client for Teams application instances (resource accounts). Graph has no endpoint that creates
 * one: Microsoft's supported way is `New-CsOnlineApplicationInstance` (MicrosoftTeams PowerShell),
 * which calls the Teams admin service behind it. This client speaks that service's
 * application-instance REST shape with an app-only token for the Teams admin resource; the tenant
 * simulator implements the same shape.
 */
import type { TokenCredential } from '@azure/identity';
import { TEAMS_ADMIN_RESOURCE } from '../../lib/microsoft';
import { httpFailure } from '../graph/errors';

export interface ApplicationInstance {
  objectId: string;
  userPrincipalName: string;
  displayName: string;
  applicationId: string;
  phoneNumber?: string | null;
}

export interface TeamsAdminClientOptions {
  /** Credential of the app registration; its service principal needs the Teams Administrator role. */
  credential: TokenCredential;
  /** Service root, e.g. https://api.interfaces.records.teams.microsoft.com or the simulator's URL. */
  baseUrl: string;
  /** Per-request timeout, ms. Default 30000. */
  timeoutMs?: number;
}

/** HTTP failure in the shape the activity error mapper reads (status, code, message, headers). */
export class TeamsAdminError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly headers: Headers,
  ) {
    super(message);
    this.name = 'TeamsAdminError';
  }
}

const INSTANCES = '/Teams.PlatformService/v2/ApplicationInstances';

export class TeamsAdminClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: TeamsAdminClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'https:') throw new Error(`Teams admin base URL must be https (got ${options.baseUrl})`);
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async findByUpn(upn: string): Promise<ApplicationInstance | undefined> {
    const body = (await this.request('GET', `${INSTANCES}?userPrincipalName=${encodeURIComponent(upn)}`)) as {
      applicationInstances?: ApplicationInstance[];
    };
    return (body.applicationInstances ?? []).find((i) => i.userPrincipalName.toLowerCase() === upn.toLowerCase());
  }

  async create(input: { userPrincipalName: string; displayName: string; applicationId: string }): Promise<ApplicationInstance> {
    return (await this.request('POST', INSTANCES, input)) as ApplicationInstance;
  }

  private async request(method: string, path: string, body?: object): Promise<unknown> {
    const token = await this.options.credential.getToken(`${TEAMS_ADMIN_RESOURCE}/.default`);
    if (!token) throw new TeamsAdminError(401, 'NoToken', 'the credential returned no token for the Teams admin API', undefined, new Headers());
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token.token}`,
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) {
      const failure = httpFailure(response, text);
      throw new TeamsAdminError(failure.statusCode, failure.code, failure.message, failure.requestId, failure.headers);
    }
    try {
      return text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      return undefined;
    }
  }
}
