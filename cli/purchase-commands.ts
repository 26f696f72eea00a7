/**
 * `dialtone approve-purchase`: approve buying licenses for a run or a batch that waits for them (the
 * worker buys through Partner Center, within its ceilings). Prints the API's JSON and exits 0, or its
 * refusal (e.g. over a ceiling, not waiting for licenses, manual procurement) and exits 1.
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { Env } from '../lib/config';
import { RestClient, readApiTarget } from './rest-client';
import { nonEmpty, osUserName, parseIdempotencyKey, postOnce } from './rest-commands';

interface ApproveOptions {
  units: number;
  batch?: boolean;
  reason?: string;
  by?: string;
  idempotencyKey?: string;
}

function parseUnits(raw: string): number {
  const units = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(units) || units < 1 || units > 100_000) {
    throw new InvalidArgumentError('a whole number of licenses from 1 to 100000 (at least the shortfall the status shows)');
  }
  return units;
}

export function addPurchaseCommands(program: Command, env: Env, setExitCode: (code: number) => void): void {
  program
    .command('approve-purchase')
    .description('approve buying licenses for a run (by UPN) or, with --batch, a batch (by id) that waits for them')
    .argument('<id>', 'the account UPN, or with --batch the batch id')
    .addOption(new Option('--units <n>', 'licenses to buy: at least the shortfall, within the ceilings').argParser(parseUnits).makeOptionMandatory())
    .option('--batch', 'the id is a batch id: buy the whole batch\'s shortfall')
    .option('--reason <text>', 'why; kept in the audit trail')
    .addOption(new Option('--by <name>', 'who approved (default: your OS user name, or $USER)').argParser(nonEmpty))
    .addOption(new Option('--idempotency-key <key>', 'makes a repeated request count once (default: a new random UUID)').argParser(parseIdempotencyKey))
    .addHelpText('after', '\nExamples:\n  dialtone approve-purchase cq-sales@contoso.onmicrosoft.com --units 1 --reason "new queue"\n  dialtone approve-purchase q3-rollout --batch --units 40')
    .action(async (id: string, options: ApproveOptions) => {
      const by = options.by ?? osUserName(env);
      const path = `${options.batch ? '/v1/batches' : '/v1/resource-accounts'}/${encodeURIComponent(id)}/license-purchase`;
      setExitCode(await postOnce(new RestClient(readApiTarget(env)), path, 'approval', options.idempotencyKey,
        { units: options.units, ...(options.reason ? { reason: options.reason } : {}), ...(by ? { by } : {}) }));
    });
}
