/** `@azure/identity` credential for the app registration, against Entra or the tenant simulator. */
import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import type { TenantConfig } from './config';

const MICROSOFT_AUTHORITIES = ['login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn'];

export function createCredential(tenant: TenantConfig): TokenCredential {
  const host = new URL(tenant.authorityHost).hostname;
  const options = {
    authorityHost: tenant.authorityHost,
    // Instance discovery asks login.microsoftonline.com about the authority; a private authority
    // (the simulator) is not known there, and this machine may not reach it anyway.
    disableInstanceDiscovery: !MICROSOFT_AUTHORITIES.includes(host),
  };
  switch (tenant.credential.kind) {
    case 'secret':
      return new ClientSecretCredential(tenant.tenantId, tenant.clientId, tenant.credential.secret, options);
    case 'certificate':
      return new ClientCertificateCredential(
        tenant.tenantId,
        tenant.clientId,
        { certificatePath: tenant.credential.certificatePath, certificatePassword: tenant.credential.certificatePassword },
        options,
      );
    case 'managedIdentity':
      return new ManagedIdentityCredential({ clientId: tenant.clientId });
  }
}
