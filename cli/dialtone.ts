#!/usr/bin/env -S node --import tsx
/** `dialtone` command: start the local stack, and submit or follow runs through the REST API. */
import { ConfigError } from '../lib/config';
import { startLocalStack } from './local-stack';
import { REST_USAGE, runRestCommand } from './rest-client';

const USAGE = `usage: dialtone <command>

commands:
  start     run the whole stack locally (Temporal dev server + Web UI, tenant simulator, worker, API)
${REST_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      return startLocalStack(process.env);
    case 'submit':
    case 'status':
    case 'decide':
    case 'cancel':
    case 'list':
      return runRestCommand(command, args, process.env);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`dialtone: unknown command "${command}"\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `dialtone: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
