/** Connection options for the Temporal client (API) and native connection (worker) from one config. */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { TemporalConfig } from './config';

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export function temporalConnectionOptions(config: TemporalConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: config.address };
  if (config.apiKey) options.apiKey = config.apiKey;
  if (config.tls) {
    const { clientCertPath, clientKeyPath, serverCaCertPath, serverName } = config.tls;
    const tls: TLSConfig = {};
    if (serverName) tls.serverNameOverride = serverName;
    if (serverCaCertPath) tls.serverRootCACertificate = readFileSync(serverCaCertPath);
    if (clientCertPath && clientKeyPath) {
      tls.clientCertPair = { crt: readFileSync(clientCertPath), key: readFileSync(clientKeyPath) };
    }
    options.tls = Object.keys(tls).length > 0 ? tls : true;
  }
  return options;
}
