/**
 * Entra-like access tokens: RS256 JWTs signed with a key generated when the simulator starts (published
 * at the discovery document's `jwks_uri`), and the checks Graph and the Teams admin API apply to them.
 * Claims follow Entra's app-only v1.0 tokens: `roles` carry Graph application permissions, `wids` the
 * directory roles of the app's service principal.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GRAPH_RESOURCE } from '../lib/microsoft';
import type { PARTNER_CENTER_RESOURCE, TEAMS_ADMIN_RESOURCE } from '../lib/microsoft';
import { GraphApiError, insufficientPrivileges } from './errors';
import type { DirectoryRoleName, SimulatedApp } from './options';
import { DIRECTORY_ROLES } from './options';

/** Lifetime Entra gives app-only access tokens. Real seconds on the simulator's clock, never time-scaled. */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 3599;

/** Graph's app id, accepted as an alternative audience / scope resource. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export type Audience = typeof GRAPH_RESOURCE | typeof TEAMS_ADMIN_RESOURCE | typeof PARTNER_CENTER_RESOURCE;

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  app_displayname: string;
  appid: string;
  appidacr: '1';
  idtyp: 'app';
  oid: string;
  sub: string;
  tid: string;
  uti: string;
  ver: '1.0';
  roles?: string[];
  wids?: string[];
}

/** The authenticated application behind a Graph or Teams request. */
export interface Caller {
  appId: string;
  roles: readonly string[];
  wids: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link TokenService.authenticate} on Graph and Teams routes. */
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /** Graph application permissions of which the caller needs at least one (Microsoft's "least to most privileged" list). */
    graphPermissions?: readonly string[];
  }
}

/** Stable object id of an app's service principal in the simulated tenant. */
export function servicePrincipalId(tenantId: string, clientId: string): string {
  const hex = createHash('sha256').update(`${tenantId}/${clientId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

function newSigningKey(): SigningKey {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyId = createHash('sha256').update(pair.publicKey.export({ format: 'der', type: 'spki' })).digest('base64url').slice(0, 27);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, keyId };
}

export class TokenService {
  private key: SigningKey = newSigningKey();

  constructor(
    private readonly tenantId: string,
    private readonly now: () => number,
  ) {}

  /** Id (`kid`) of the key that signs new tokens and the only one `verify` accepts. */
  get keyId(): string {
    return this.key.keyId;
  }

  /**
   * An emergency rollover: a new signing key replaces the old one at once, so every token issued
   * before is refused (401 `InvalidAuthenticationToken`) and clients must fetch a new one. Entra rolls
   * its keys periodically and, in an emergency, immediately ("Signing key rollover in the Microsoft
   * identity platform", https://learn.microsoft.com/entra/identity-platform/signing-key-rollover); a
   * restarted simulator does the same, as it keeps no key across restarts.
   */
  rotate(): string {
    this.key = newSigningKey();
    return this.key.keyId;
  }

  /** JSON Web Key Set served at `jwks_uri`. */
  jwks(): { keys: object[] } {
    const jwk = this.key.publicKey.export({ format: 'jwk' });
    return { keys: [{ kty: jwk.kty, use: 'sig', kid: this.keyId, n: jwk.n, e: jwk.e, alg: 'RS256' }] };
  }

  /**
   * Issues an app-only v1.0 access token. Graph and the Teams admin API accept v1.0 tokens, so Entra
   * issues that version even through the v2.0 endpoint: `iss` is `https://sts.windows.net/{tid}/` and the
   * header names the key twice, as `kid` and `x5t` (Microsoft identity platform, access token claims).
   * `tenantId` is the directory that issues it: the customer's by default, or the partner's (whose
   * token endpoint the simulator serves too, with the same signing key).
   */
  issue(app: SimulatedApp, audience: Audience, tenantId = this.tenantId): string {
    const issuedAt = Math.floor(this.now() / 1000);
    const principal = servicePrincipalId(tenantId, app.clientId);
    const wids = app.directoryRoles.map((role) => DIRECTORY_ROLES[role]);
    const roles = audience === GRAPH_RESOURCE ? [...app.graphRoles] : [];
    const claims: AccessTokenClaims = {
      aud: audience,
      iss: `https://sts.windows.net/${tenantId}/`,
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + ACCESS_TOKEN_LIFETIME_SECONDS,
      app_displayname: app.displayName ?? app.clientId,
      appid: app.clientId,
      appidacr: '1',
      idtyp: 'app',
      oid: principal,
      sub: principal,
      tid: tenantId,
      uti: randomUUID().replaceAll('-', '').slice(0, 22),
      ver: '1.0',
      // Entra omits empty role claims rather than sending empty arrays.
      ...(roles.length > 0 ? { roles } : {}),
      ...(wids.length > 0 ? { wids } : {}),
    };
    const header = { typ: 'JWT', alg: 'RS256', x5t: this.keyId, kid: this.keyId };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    return `${signingInput}.${base64url(sign('sha256', Buffer.from(signingInput), this.key.privateKey))}`;
  }

  /**
   * Verifies signature, lifetime, audience and tenant, as Graph does; throws Graph's 401 otherwise. The
   * token must come from `tenantId`: the customer's tenant for Graph and Teams, the partner's for
   * Partner Center.
   */
  verify(authorization: string | undefined, audience: Audience, tenantId = this.tenantId): AccessTokenClaims {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw unauthenticated('Access token is empty.');
    const [header, payload, signature] = token.split('.');
    if (header === undefined || payload === undefined || signature === undefined || token.split('.').length !== 3) {
      throw unauthenticated('IDX14100: JWT is not well formed, there are no dots (.).');
    }
    let claims: AccessTokenClaims;
    try {
      const parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string; kid?: string };
      const signed = parsedHeader.alg === 'RS256' && parsedHeader.kid === this.keyId &&
        verify('sha256', Buffer.from(`${header}.${payload}`), this.key.publicKey, Buffer.from(signature, 'base64url'));
      if (!signed) throw new Error('signature');
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as AccessTokenClaims;
    } catch {
      throw unauthenticated('Access token validation failure.');
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    if (!(claims.exp > nowSeconds) || claims.nbf > nowSeconds + 300) {
      throw unauthenticated('Lifetime validation failed, the token is expired.');
    }
    const acceptedAudiences = audience === GRAPH_RESOURCE ? [GRAPH_RESOURCE, GRAPH_APP_ID] : [audience];
    if (!acceptedAudiences.includes(claims.aud)) throw unauthenticated('Access token validation failure. Invalid audience.');
    if (claims.tid !== tenantId || claims.iss !== `https://sts.windows.net/${tenantId}/`) {
      throw unauthenticated('Access token validation failure. Invalid issuer or tenant.');
    }
    return claims;
  }
}

function unauthenticated(message: string): GraphApiError {
  return new GraphApiError(401, 'InvalidAuthenticationToken', message, undefined, {
    'www-authenticate': `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
  });
}

/** onRequest hook: authenticates the caller for one audience. */
export function authenticate(tokens: TokenService, audience: Audience) {
  return async (request: FastifyRequest): Promise<void> => {
    const claims = tokens.verify(request.headers.authorization, audience);
    request.caller = { appId: claims.appid, roles: claims.roles ?? [], wids: claims.wids ?? [] };
  };
}

/** preHandler hook for Graph routes: the route's `graphPermissions` (any one of them) must be in `roles`. */
export async function requireGraphPermission(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const needed = request.routeOptions.config.graphPermissions;
  if (!needed || needed.length === 0) return;
  const roles = request.caller?.roles ?? [];
  if (!needed.some((permission) => roles.includes(permission))) throw insufficientPrivileges();
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Directory roles a Teams admin route needs: every inner list must be met by one of its roles.
     * Default: one of {@link TEAMS_ADMIN_ROLES}.
     */
    directoryRoles?: readonly (readonly DirectoryRoleName[])[];
  }
}

/**
 * Teams admin roles: app-only cmdlets authorise from the directory roles in the token (notes 2.1); any
 * of the Teams roles that manage resource accounts will do ("set up resource accounts": Teams
 * Telephony, Teams Communications or Teams Administrator).
 */
export const TEAMS_ADMIN_ROLES: readonly DirectoryRoleName[] = [
  'Teams Administrator', 'Teams Communications Administrator', 'Teams Telephony Administrator', 'Global Administrator',
];
/** Creating a resource account also needs User Administrator since 2024 ("set up resource accounts"). */
export const USER_ADMIN_ROLES: readonly DirectoryRoleName[] = ['User Administrator', 'Global Administrator'];

/** preHandler hook for the Teams admin API: the caller's `wids` must satisfy the route's `directoryRoles`. */
export async function requireDirectoryRoles(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const wids = request.caller?.wids ?? [];
  const needed = request.routeOptions.config.directoryRoles ?? [TEAMS_ADMIN_ROLES];
  const missing = needed.find((anyOf) => !anyOf.some((role) => wids.includes(DIRECTORY_ROLES[role])));
  if (missing) {
    throw new GraphApiError(403, 'Authorization_RequestDenied',
      `Insufficient privileges to complete the operation. The caller needs the ${missing.join(' or ')} directory role.`);
  }
}

/** Graph application permissions, least privileged first (Microsoft's permission tables; notes 1.3, 3, 4). */
export const PERMISSIONS = {
  /** https://learn.microsoft.com/graph/api/subscribedsku-list (application: LicenseAssignment.Read.All, then the four below). */
  readSubscribedSkus: ['LicenseAssignment.Read.All', 'Organization.Read.All', 'Directory.Read.All', 'Organization.ReadWrite.All', 'Directory.ReadWrite.All'],
  /** https://learn.microsoft.com/graph/api/organization-list (application): not LicenseAssignment.Read.All, which covers subscribedSkus only. */
  readOrganization: ['Organization.Read.All', 'Directory.Read.All', 'Organization.ReadWrite.All', 'Directory.ReadWrite.All'],
  readUser: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  writeUser: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
  /** Restore and permanent delete of deleted users: the least privileged permission only (stricter than Graph may be). */
  restoreUser: ['User.DeleteRestore.All'],
  assignLicense: ['LicenseAssignment.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  readLicenseDetails: ['LicenseAssignment.Read.All', 'LicenseAssignment.ReadWrite.All', 'User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  readTeamsUserConfiguration: ['TeamsUserConfiguration.Read.All'],
  readTelephoneNumbers: ['TeamsTelephoneNumber.Read.All', 'TeamsTelephoneNumber.ReadWrite.All'],
  writeTelephoneNumbers: ['TeamsTelephoneNumber.ReadWrite.All'],
} as const satisfies Record<string, readonly string[]>;
