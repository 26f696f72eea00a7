/**
 * `dialtone batch …`: submit a CSV or JSON file of resource accounts (or plan it with --dry-run),
 * watch it, read its report, status and rows, and steer it (pause, resume, retry-failed, cancel, one
 * decision for many rows). Exit codes as for the other commands: 0 done, 1 refused (or, for watch, the
 * batch ended with failures or was cancelled), 2 a wrong command line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Argument, InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { formatRowError } from '../lib/batch-rows';
import type { Env } from '../lib/config';
import { BATCH_OPTION_RANGES } from '../lib/validation';
import { ROW_STATES, TERMINAL_BATCH_STATES } from '../workflows/provision-batch/definitions';
import type { BatchPlan, BatchProgress, BatchState } from '../workflows/provision-batch/definitions';
import { DECISIONS } from '../workflows/provision-resource-account/definitions';
import { RestClient, readApiTarget } from './rest-client';
import type { ApiAnswer } from './rest-client';
import { nonEmpty, osUserName, pagingOptions, parseIdempotencyKey, parseJson, print, printPages } from './rest-commands';
import type { PagingOptions } from './rest-commands';

const BATCHES = '/v1/batches';
const batchPath = (id: string): string => `${BATCHES}/${encodeURIComponent(id)}`;

/** How often `watch` asks for progress. */
export const WATCH_INTERVAL_MS = 2000;

interface SubmitOptions {
  dryRun?: boolean;
  batchId?: string;
  concurrency?: number;
  json?: boolean;
  idempotencyKey?: string;
  notifyUrl?: string;
}

interface ControlOptions {
  reason?: string;
  by?: string;
  idempotencyKey?: string;
  inFlight?: boolean;
}

interface DecideOptions extends ControlOptions {
  errorType?: string;
  upn?: string[];
}

interface ProblemDetail {
  field: string;
  message: string;
  row?: number;
  column?: string;
}

interface SubmitAnswer {
  batchId: string;
  statusUrl: string;
  dryRun: boolean;
  existing: boolean;
  plan?: BatchPlan;
  progress?: BatchProgress;
}

export function addBatchCommands(program: Command, env: Env, setExitCode: (code: number) => void): void {
  const client = (): RestClient => new RestClient(readApiTarget(env));
  const batch = program
    .command('batch')
    .description('provision many resource accounts from one CSV or JSON file; follow and steer the batch')
    .addHelpText(
      'after',
      '\nExample:\n  dialtone batch submit examples/batch.csv --dry-run\n  dialtone batch submit examples/batch.csv\n  dialtone batch watch <batchId>\n' +
        '  dialtone batch report <batchId> > results.csv',
    );

  batch
    .command('submit')
    .description('submit a batch: a .csv file (header upn,displayName,kind,usageLocation,phoneNumber[,numberCity,tollFree]) or a .json file')
    .argument('<file>', 'the batch: .csv, or .json holding { "rows": [...], "options"?: {...} } or an array of rows')
    .option('--dry-run', 'plan only: show what each row would do, changing nothing')
    .addOption(new Option('--batch-id <id>', 'the batch id (1 to 64 of A-Z a-z 0-9 . _ -); submitting the same id and file again follows that batch').argParser(parseBatchId))
    .addOption(
      new Option('--concurrency <n>', `rows provisioning at once (default ${BATCH_OPTION_RANGES.concurrency.default})`).argParser(parseConcurrency),
    )
    .option('--json', "print the API's JSON answer instead of the dry run's table")
    .addOption(
      new Option('--idempotency-key <key>', 'names the batch when --batch-id is not given, so a repeated submit follows the first').argParser(parseIdempotencyKey),
    )
    .addOption(
      new Option('--notify-url <url>', "POST a signed CloudEvent to this https URL for each row's run and for the batch (needs attention, end)").argParser(nonEmpty),
    )
    .action(async (file: string, options: SubmitOptions, command: Command) => {
      if (!['.csv', '.json'].includes(path.extname(file).toLowerCase())) command.error(`error: ${file}: the batch file must end in .csv or .json`);
      setExitCode(await submit(client(), file, options));
    });

  batch
    .command('watch')
    .description('follow a batch until it ends: a live progress line on a terminal, a line per change otherwise; exits 1 if it ended with failures or was cancelled')
    .argument('<id>', 'the batch id')
    .action(async (id: string) => {
      setExitCode(await watch(client(), id));
    });

  batch
    .command('report')
    .description('every row of the batch as CSV on stdout: row,upn,accountId,phoneNumber,state,errorType,error,outcome')
    .argument('<id>', 'the batch id')
    .action(async (id: string) => {
      const answer = await client().request('GET', `${batchPath(id)}/report.csv`, { headers: { accept: 'text/csv' } });
      if (!answer.ok) {
        setExitCode(print(answer));
        return;
      }
      process.stdout.write(answer.text);
      setExitCode(0);
    });

  batch
    .command('status')
    .description("a batch's progress as JSON (a dry run's includes the plan)")
    .argument('<id>', 'the batch id')
    .action(async (id: string) => {
      setExitCode(print(await client().request('GET', batchPath(id))));
    });

  pagingOptions(
    batch
      .command('rows')
      .description("a batch's rows, one page at a time (or every page with --all)")
      .argument('<id>', 'the batch id')
      .addOption(new Option('--state <state>', 'only rows in this state').choices(ROW_STATES)),
  ).action(async (id: string, options: PagingOptions & { state?: string }) => {
    const filter = options.state ? ['--state', options.state] : [];
    setExitCode(await printPages(client(), `${batchPath(id)}/rows`, { state: options.state }, options, ['batch', 'rows', id, ...filter]));
  });

  const controls: Array<[string, string]> = [
    ['pause', 'pause a batch: no new row starts; rows already going carry on'],
    ['resume', 'resume a paused (or quarantined) batch'],
    ['retry-failed', 'start again every row that ended without completing'],
  ];
  for (const [action, description] of controls) {
    controlOptions(batch.command(action).description(description).argument('<id>', 'the batch id')).action(async (id: string, options: ControlOptions) => {
      setExitCode(print(await client().request('POST', `${batchPath(id)}/${action}`, controlRequest(env, options))));
    });
  }

  controlOptions(
    batch
      .command('cancel')
      .description('cancel a batch: rows not started are skipped; rows going finish, unless --in-flight')
      .argument('<id>', 'the batch id')
      .option('--in-flight', 'also cancel the rows whose runs are going (they stop where they are)'),
  ).action(async (id: string, options: ControlOptions) => {
    const request = controlRequest(env, options);
    setExitCode(print(await client().request('POST', `${batchPath(id)}/cancel`, { ...request, body: { ...(request.body as object), ...(options.inFlight ? { inFlight: true } : {}) } })));
  });

  controlOptions(
    batch
      .command('decide')
      .description('one decision for every row waiting for one (or those of --error-type, or the --upn rows)')
      .argument('<id>', 'the batch id')
      .addArgument(new Argument('<decision>', 'what to do').choices(DECISIONS))
      .addOption(new Option('--error-type <type>', 'only rows whose error is of this type, e.g. LicensesInsufficient').argParser(nonEmpty))
      .addOption(new Option('--upn <upn...>', 'only these rows').argParser(collect)),
  )
    .addHelpText('after', '\nExample:\n  dialtone batch decide <batchId> retry --error-type LicensesInsufficient --reason "bought 20 licenses"')
    .action(async (id: string, decision: string, options: DecideOptions) => {
      const request = controlRequest(env, options);
      const body = {
        decision,
        ...(request.body as object),
        ...(options.errorType ? { errorType: options.errorType } : {}),
        ...(options.upn ? { upns: options.upn } : {}),
      };
      const answer = await client().request('POST', `${batchPath(id)}/decision`, { ...request, body });
      const code = print(answer);
      const refused = answer.ok ? ((parseJson(answer.text) as { refused?: unknown[] } | undefined)?.refused?.length ?? 0) : 0;
      if (refused > 0) process.stderr.write(`${refused} row${refused === 1 ? '' : 's'} refused the decision (listed under refused)\n`);
      setExitCode(code);
    });
}

function controlOptions(command: Command): Command {
  return command
    .option('--reason <text>', 'why; kept in the audit trail')
    .addOption(new Option('--by <name>', 'who (default: your OS user name, or $USER)').argParser(nonEmpty))
    .addOption(new Option('--idempotency-key <key>', 'makes a repeated request count once').argParser(parseIdempotencyKey));
}

function controlRequest(env: Env, options: ControlOptions) {
  const by = options.by ?? osUserName(env);
  return {
    ...(options.idempotencyKey ? { headers: { 'idempotency-key': options.idempotencyKey } } : {}),
    body: { ...(options.reason ? { reason: options.reason } : {}), ...(by ? { by } : {}) } as Record<string, unknown>,
  };
}

async function submit(client: RestClient, file: string, options: SubmitOptions): Promise<number> {
  const extension = path.extname(file).toLowerCase();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const headers = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : undefined;
  let answer: ApiAnswer;
  if (extension === '.csv') {
    answer = await client.request('POST', BATCHES, {
      query: { dryRun: options.dryRun ? 'true' : undefined, batchId: options.batchId, concurrency: options.concurrency, notifyUrl: options.notifyUrl },
      text: { contentType: 'text/csv; charset=utf-8', body: text },
      ...(headers ? { headers } : {}),
    });
  } else {
    const parsed = parseJson(text);
    if (parsed === undefined) throw new Error(`${file} is not JSON; it holds { "rows": [...] } (see examples/batch.json) or an array of rows`);
    const body = (Array.isArray(parsed) ? { rows: parsed } : parsed) as Record<string, unknown>;
    if (options.batchId) body.batchId = options.batchId;
    if (options.notifyUrl) body.notify = { url: options.notifyUrl };
    if (options.concurrency !== undefined) {
      const given = typeof body.options === 'object' && body.options !== null ? (body.options as Record<string, unknown>) : {};
      body.options = { ...given, concurrency: options.concurrency };
    }
    answer = await client.request('POST', BATCHES, { query: { dryRun: options.dryRun ? 'true' : undefined }, body, ...(headers ? { headers } : {}) });
  }

  if (answer.status === 400 && printProblems(answer)) return 1;
  if (!answer.ok || options.json) return print(answer);
  const result = parseJson(answer.text) as SubmitAnswer;
  if (result.dryRun) {
    if (result.plan) {
      process.stdout.write(planTable(result.batchId, result.plan, result.progress));
    } else {
      process.stdout.write(`Dry run ${result.batchId} is still planning; see it with: dialtone batch status ${result.batchId}\n`);
    }
    return 0;
  }
  print(answer);
  process.stderr.write(`${result.existing ? 'This batch was submitted already. ' : ''}Follow it with: dialtone batch watch ${result.batchId}\n`);
  return 0;
}

/** A 400 listing the batch's problems, one line each (`row 3, column phoneNumber: …`); false when it is another kind of 400. */
function printProblems(answer: ApiAnswer): boolean {
  const body = parseJson(answer.text) as { error?: { message?: string; details?: ProblemDetail[] } } | undefined;
  const details = body?.error?.details;
  if (!details || !details.some((d) => d.row !== undefined)) return false;
  const lines = details.map((d) =>
    d.row === undefined ? `${d.field}: ${d.message}` : d.row > 0 || !d.column ? formatRowError({ row: d.row, column: d.column ?? '', message: d.message }) : d.message,
  );
  process.stderr.write(`${lines.join('\n')}\n${details.length} problem${details.length === 1 ? '' : 's'}: fix ${details.length === 1 ? 'it' : 'them'} and submit again\n`);
  return true;
}

/** The dry run as a person reads it: one line per row (its problems under it), then the totals. */
export function planTable(batchId: string, plan: BatchPlan, progress?: BatchProgress): string {
  const header = ['row', 'upn', 'action', 'number', 'license'];
  const rows = plan.rows.map((r) => [
    String(r.row),
    r.upn,
    r.action,
    r.phoneNumber ? `${r.phoneNumber}${r.allocated ? ' (any)' : ''}` : '-',
    r.needsLicense ? 'needed' : 'held',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const out = [`Dry run ${batchId}: ${plan.rows.length} row${plan.rows.length === 1 ? '' : 's'}, tenant read at ${plan.readAt}; nothing was changed`, '', line(header)];
  plan.rows.forEach((r, i) => {
    out.push(line(rows[i] ?? []));
    for (const p of r.problems) out.push(`${' '.repeat((widths[0] ?? 0) + 2)}! ${p.field}: ${p.message}`);
  });
  const t = plan.totals;
  out.push(
    '',
    `Totals: ${t.byAction.create} to create, ${t.byAction.adopt} to adopt, ${t.byAction['already-provisioned']} already provisioned, ` +
      `${t.byAction.conflict} in conflict; ${t.rowsWithProblems} row${t.rowsWithProblems === 1 ? '' : 's'} with problems`,
    `Licenses: ${t.licenses.needed} needed, ${t.licenses.free} free${t.licenses.short > 0 ? `, ${t.licenses.short} short: buy them first` : ''}`,
  );
  if (t.numbers.length > 0) {
    out.push(`Numbers: ${t.numbers.map((n) => `${n.country} ${n.needed} needed, ${n.free} free${n.short > 0 ? `, ${n.short} short` : ''}`).join('; ')}`);
  }
  if (progress?.message) out.push(progress.message);
  return `${out.join('\n')}\n`;
}

async function watch(client: RestClient, id: string): Promise<number> {
  const tty = process.stdout.isTTY === true;
  /** On a terminal: a progress line is drawn and not yet ended by a newline. */
  let drawn = false;
  let last = '';
  const say = (stream: NodeJS.WriteStream, line: string) => {
    if (drawn) process.stdout.write('\n');
    drawn = false;
    stream.write(`${line}\n`);
  };
  for (;;) {
    const answer = await client.request('GET', batchPath(id));
    if (!answer.ok) {
      if (answer.status < 500) {
        if (drawn) process.stdout.write('\n');
        return print(answer);
      }
      // The API or its worker is briefly away: say so once, and keep watching.
      const problem = `(${answer.status}) ${(parseJson(answer.text) as { error?: { message?: string } } | undefined)?.error?.message ?? answer.text.slice(0, 200)}`;
      if (problem !== last) say(process.stderr, problem);
      last = problem;
    } else {
      const progress = parseJson(answer.text) as BatchProgress;
      const ended = TERMINAL_BATCH_STATES.includes(progress.state);
      if (tty) {
        process.stdout.write(`\r\x1b[2K${progressLine(progress, process.stdout.columns || 80)}`);
        drawn = true;
      } else {
        const line = plainLine(progress);
        if (line !== last) say(process.stdout, line);
        last = line;
      }
      if (ended) {
        say(process.stdout, progress.message);
        return endCode(progress.state);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, WATCH_INTERVAL_MS));
  }
}

function endCode(state: BatchState): number {
  return state === 'completed' || state === 'planned' ? 0 : 1;
}

const FINISHED = ['completed', 'rolled-back', 'abandoned', 'cancelled', 'failed', 'skipped'] as const;

function counts(p: BatchProgress): string {
  const c = p.counts;
  const failed = c.failed + c['rolled-back'] + c.abandoned + c.cancelled + c.skipped;
  return `${c.completed}/${p.rows} completed, ${c.running} running, ${c['needs-attention']} need attention, ${failed} not completed, ${c.pending} pending`;
}

/**
 * The live line: a bar of finished rows, the counts, rate and ETA, fitted to the terminal's width
 * (a line that wrapped could not be redrawn in place).
 */
export function progressLine(p: BatchProgress, columns = 100): string {
  const finished = FINISHED.reduce((sum, state) => sum + p.counts[state], 0);
  const rate = p.ratePerMinute === undefined ? '' : ` · ${p.ratePerMinute}/min`;
  const eta = p.etaSeconds === undefined ? '' : ` · ETA ${duration(p.etaSeconds)}`;
  const text = `${counts(p)}${rate}${eta} · ${p.state}`;
  const width = Math.max(10, Math.min(40, columns - text.length - 4));
  const filled = p.rows === 0 ? 0 : Math.round((finished / p.rows) * width);
  const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`;
  return line.length < columns ? line : `${line.slice(0, Math.max(0, columns - 2))}…`;
}

/** A line for a log or a pipe, written only when the state or a count changes. */
function plainLine(p: BatchProgress): string {
  return `${p.state}: ${counts(p)}`;
}

function duration(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

function parseBatchId(raw: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(raw)) throw new InvalidArgumentError('use 1 to 64 letters, digits, ".", "_" or "-".');
  return raw;
}

function parseConcurrency(raw: string): number {
  const { min, max } = BATCH_OPTION_RANGES.concurrency;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new InvalidArgumentError(`give a whole number from ${min} to ${max}.`);
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), nonEmpty(value)];
}
