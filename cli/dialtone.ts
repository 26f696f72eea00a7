#!/usr/bin/env -S node --import tsx
/**
 * `dialtone` command: start the local stack, and submit or follow runs and batches through the REST API.
 * Exit codes: 0 done, 1 the API refused or could not be reached (or the stack failed), 2 the command
 * line was wrong (unknown command or flag, missing or invalid value), as most Unix tools do.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../lib/config';
import { LOCAL_API_PORT } from '../lib/local-defaults';
import { addBatchCommands } from './batch-commands';
import { addDoctorCommand } from './doctor';
import { startLocalStack } from './local-stack';
import { addPurchaseCommands } from './purchase-commands';
import { addRestCommands } from './rest-commands';

const USAGE_ERROR = 2;

async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const setExitCode = (code: number): void => {
    exitCode = code;
  };

  // Settings made before the subcommands are added are inherited by them.
  const program = new Command('dialtone')
    .description('Provision Teams resource accounts through the Dialtone API, or run the whole stack locally.')
    .exitOverride()
    .allowExcessArguments(false)
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `\nThe API is DIALTONE_API_URL (default http://127.0.0.1:${LOCAL_API_PORT}); its token DIALTONE_API_TOKEN (or _FILE).\n` +
        "Run 'dialtone <command> --help' for a command's flags.",
    );

  program
    .command('start')
    .description('run the whole stack locally (Temporal dev server + Web UI, tenant simulator, worker, API)')
    .action(async () => {
      setExitCode(await startLocalStack(process.env));
    });

  addRestCommands(program, process.env, setExitCode);
  addBatchCommands(program, process.env, setExitCode);
  addPurchaseCommands(program, process.env, setExitCode);
  addDoctorCommand(program, process.env, setExitCode);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    // Commander has already printed its message (and any suggestion); help and --help end with 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_ERROR;
    throw err;
  }
  return exitCode;
}

/** Exit only once what was written to a pipe has been handed over, so a long listing is not cut short. */
async function flushAndExit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
  process.exit(code);
}

main(process.argv.slice(2)).then(
  (code) => flushAndExit(code),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `dialtone: ${err instanceof Error ? err.message : String(err)}`);
    return flushAndExit(1);
  },
);
