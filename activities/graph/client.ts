/**
 * The Microsoft Graph client the activities use: the official SDK client with token auth from an
 * `@azure/identity` credential, pointed at Microsoft's Graph or at the tenant simulator.
 */
import type { TokenCredential } from '@azure/identity';
import { AuthenticationHandler, Client, HTTPMessageHandler } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { GRAPH_RESOURCE } from '../../lib/microsoft';

export interface GraphClientOptions {
  /** Any `@azure/identity` credential (client secret, certificate, managed identity). */
  credential: TokenCredential;
  /** Graph root without version, e.g. https://graph.microsoft.com or the simulator's URL. Must be https. */
  baseUrl: string;
}

/**
 * Builds a Graph client **without** the SDK's RetryHandler: Temporal owns retries, and a hidden
 * retry layer would stack on top of them (up to 10 silent retries per attempt) and hide throttling
 * from the workflow's history.
 */
export function createGraphClient(options: GraphClientOptions): Client {
  const url = new URL(options.baseUrl);
  if (url.protocol !== 'https:') throw new Error(`Graph base URL must be https (got ${options.baseUrl})`);
  const auth = new AuthenticationHandler(
    new TokenCredentialAuthenticationProvider(options.credential, { scopes: [`${GRAPH_RESOURCE}/.default`] }),
  );
  auth.setNext(new HTTPMessageHandler());
  return Client.initWithMiddleware({
    middleware: auth,
    baseUrl: `${url.origin}/`,
    defaultVersion: 'v1.0',
    // The SDK only attaches the token to hosts it knows; the simulator's host must be named.
    customHosts: new Set([url.hostname]),
  });
}
