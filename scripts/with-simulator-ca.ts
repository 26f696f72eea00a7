/**
 * Runs a TypeScript entry point with the tenant simulator's CA trusted (NODE_EXTRA_CA_CERTS is read
 * only when Node starts, so it has to be set for a fresh process). Usage: with-simulator-ca.ts FILE [ARGS…]
 */
import { spawn } from 'node:child_process';
import { DEFAULT_SIMULATOR_TLS_DIR } from '../lib/paths';
import { ensureSimulatorTls } from '../simulator/tls';

async function main(): Promise<number> {
  const [file, ...args] = process.argv.slice(2);
  if (!file) {
    console.error('usage: with-simulator-ca.ts FILE [ARGS…]');
    return 2;
  }
  const tls = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caPath },
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
