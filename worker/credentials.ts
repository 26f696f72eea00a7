/**
 * `@azure/identity` credentials, against Entra or the tenant simulator: the worker's app in the
 * customer's tenant, and the Partner Center app in the partner's tenant, built the same way.
 */
import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { RenewableTokenCredential } from '../activities/graph/client';
import type { ProcurementSettings } from '../activities/licensing/activities';
import type { AppIdentity } from './config';

const MICROSOFT_AUTHORITIES = ['login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn'];

/**
 * A credential whose cached tokens can be dropped when a service refuses one. `@azure/identity` 4.13
 * keeps each credential's tokens in that instance's own MSAL cache and has no option to bypass it: the
 * only `getToken` option that reaches MSAL's client-credential request is `claims` (a CAE claims
 * challenge, sent on to Entra), and MSAL's `skipCache` is not passed through. So a refused token is
 * dropped by replacing the instance: the next `getToken` asks Entra for a new token.
 *
 * Only a token this instance handed out last (for some scopes) causes a renewal, so a burst of requests
 * refused with the same token renews once. A managed identity gains nothing: MSAL keeps one
 * process-wide cache for managed identities, so a new instance finds the same token there.
 */
export class RenewingCredential implements RenewableTokenCredential {
  private current: TokenCredential;
  /** Scopes → the token last handed out for them by `current`. */
  private handedOut = new Map<string, string>();

  constructor(private readonly create: () => TokenCredential) {
    this.current = create();
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const instance = this.current;
    const token = await instance.getToken(scopes, options);
    if (token && instance === this.current) this.handedOut.set([scopes].flat().join(' '), token.token);
    return token;
  }

  tokenRefused(token: string): void {
    if (![...this.handedOut.values()].includes(token)) return;
    this.current = this.create();
    this.handedOut = new Map();
  }
}

/** A credential for an app: the worker's (`config.tenant`) or the Partner Center app (`procurement.app`). */
export function createCredential(app: AppIdentity): RenewingCredential {
  const host = new URL(app.authorityHost).hostname;
  const options = {
    authorityHost: app.authorityHost,
    // Instance discovery asks login.microsoftonline.com about the authority; a private authority
    // (the simulator) is not known there, and this machine may not reach it anyway.
    disableInstanceDiscovery: !MICROSOFT_AUTHORITIES.includes(host),
  };
  const { credential } = app;
  switch (credential.kind) {
    case 'secret':
      return new RenewingCredential(() => new ClientSecretCredential(app.tenantId, app.clientId, credential.secret, options));
    case 'certificate':
      return new RenewingCredential(() => new ClientCertificateCredential(
        app.tenantId,
        app.clientId,
        { certificatePath: credential.certificatePath, certificatePassword: credential.certificatePassword },
        options,
      ));
    case 'managedIdentity':
      return new RenewingCredential(() => new ManagedIdentityCredential({ clientId: app.clientId }));
  }
}

/**
 * The credential license procurement uses: for Partner Center, the partner's app from the partner's
 * tenant (Partner Center refuses the customer tenant's tokens); `manual` calls nothing.
 */
export function procurementCredential(settings: ProcurementSettings, tenantCredential: TokenCredential): TokenCredential {
  return settings.kind === 'partner-center' ? createCredential(settings.app) : tenantCredential;
}
