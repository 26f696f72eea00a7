/**
 * The REST verbs of the `dialtone` command, one subcommand each: submit, status, decide, cancel,
 * list, runs. Each prints the API's JSON on stdout and exits 0, or the API's refusal on stderr and
 * exits 1. Mistakes on the command line (a misspelt flag, a value outside its set) are refused here,
 * before any request.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Argument, InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { Env } from '../lib/config';
import { RESOURCE_ACCOUNT_KINDS } from '../lib/microsoft';
import { DELETED_ACCOUNT_POLICIES } from '../lib/validation';
import { DECISIONS, PROVISIONING_STATES } from '../workflows/provision-resource-account/definitions';
import { ApiUnreachableError, RestClient, readApiTarget } from './rest-client';
import type { ApiAnswer } from './rest-client';

/** The API's limit on `pageSize`. */
export const MAX_PAGE_SIZE = 1000;

const ACCOUNTS = '/v1/resource-accounts';
const accountPath = (upn: string): string => `${ACCOUNTS}/${encodeURIComponent(upn)}`;

interface SubmitOptions {
  upn?: string;
  displayName?: string;
  kind?: string;
  usageLocation?: string;
  phoneNumber?: string;
  onDeletedAccount?: string;
  associateWith?: string;
  callPriority?: number;
  notifyUrl?: string;
  file?: string;
}

interface DecideOptions {
  reason?: string;
  onDeletedAccount?: string;
  by?: string;
  idempotencyKey?: string;
}

export interface PagingOptions {
  pageSize?: number;
  pageToken?: string;
  all?: boolean;
}

/** The fields a submit needs when no --file gives the whole request, with the flag that sets each. */
const SUBMIT_FIELDS = [
  ['upn', '--upn'],
  ['displayName', '--display-name'],
  ['kind', '--kind'],
  ['usageLocation', '--usage-location'],
  ['phoneNumber', '--phone-number'],
] as const satisfies ReadonlyArray<readonly [keyof SubmitOptions, string]>;

/**
 * Adds the REST subcommands to `program`. `setExitCode` receives each verb's outcome: 0 when the API
 * accepted, 1 when it refused. A failure to reach the API is thrown as ApiUnreachableError.
 */
export function addRestCommands(program: Command, env: Env, setExitCode: (code: number) => void): void {
  const client = (): RestClient => new RestClient(readApiTarget(env));

  program
    .command('submit')
    .description('ask for a resource account: with flags, or the whole request as JSON with --file')
    .addOption(new Option('--upn <upn>', 'user principal name of the resource account').argParser(nonEmpty))
    .addOption(new Option('--display-name <name>', 'name shown in Teams').argParser(nonEmpty))
    .addOption(new Option('--kind <kind>', 'what the account is for').choices(RESOURCE_ACCOUNT_KINDS))
    .addOption(new Option('--usage-location <country>', 'ISO 3166 two-letter country code, e.g. US').argParser(nonEmpty))
    .addOption(new Option('--phone-number <e164>', 'Calling Plan service number in E.164, e.g. +12065550100').argParser(nonEmpty))
    .addOption(
      new Option('--on-deleted-account <policy>', 'when a deleted account holds the UPN: stop and ask, restore it, or purge it').choices(
        DELETED_ACCOUNT_POLICIES,
      ),
    )
    .addOption(new Option('--associate-with <identity>', 'then associate the account with this auto attendant or call queue (its identity, a GUID)').argParser(nonEmpty))
    .addOption(new Option('--call-priority <1-5>', 'priority of the association, 1 highest (default 3)').argParser(priority))
    .addOption(
      new Option('--notify-url <url>', 'POST a signed CloudEvent to this https URL when the run needs attention and when it ends (no secrets in it)').argParser(nonEmpty),
    )
    .addOption(
      new Option('--file <request.json>', 'the whole request body as JSON, instead of the flags above').conflicts([
        ...SUBMIT_FIELDS.map(([field]) => field),
        'onDeletedAccount',
        'associateWith',
        'callPriority',
        'notifyUrl',
      ]),
    )
    .addHelpText(
      'after',
      '\nExample:\n  dialtone submit --upn cq-sales@contoso.onmicrosoft.com --display-name "Sales queue" \\\n' +
        '    --kind callQueue --usage-location GB --phone-number +442079460001 \\\n' +
        '    --associate-with 8c1d9e2f-4a3b-4c6d-9e8f-1a2b3c4d5e6f',
    )
    .action(async (options: SubmitOptions, command: Command) => {
      let body: unknown;
      if (options.file) {
        body = readRequestFile(options.file);
      } else {
        if (options.callPriority !== undefined && !options.associateWith) command.error('error: --call-priority goes with --associate-with');
        const missing = SUBMIT_FIELDS.filter(([field]) => !options[field]).map(([, flag]) => flag);
        if (missing.length > 0) {
          command.error(`error: missing ${missing.join(', ')} (or give the whole request with --file request.json)`);
        }
        body = {
          upn: options.upn,
          displayName: options.displayName,
          kind: options.kind,
          usageLocation: options.usageLocation,
          phoneNumber: options.phoneNumber,
          ...(options.associateWith
            ? { association: { configurationId: options.associateWith, ...(options.callPriority !== undefined ? { callPriority: options.callPriority } : {}) } }
            : {}),
          ...(options.onDeletedAccount ? { options: { onDeletedAccount: options.onDeletedAccount } } : {}),
          ...(options.notifyUrl ? { notify: { url: options.notifyUrl } } : {}),
        };
      }
      setExitCode(print(await client().request('POST', ACCOUNTS, { body })));
    });

  program
    .command('status')
    .description("state and step progress of one account's run (the latest, or an earlier one with --run)")
    .argument('<upn>', 'the account, by its UPN')
    .addOption(new Option('--run <runId>', 'an earlier run of the account, from `dialtone runs`').argParser(nonEmpty))
    .action(async (upn: string, options: { run?: string }) => {
      setExitCode(print(await client().request('GET', accountPath(upn), { query: { runId: options.run } })));
    });

  program
    .command('decide')
    .description('answer a run that needs attention: retry the step, roll back what was done, or abandon')
    .argument('<upn>', 'the account, by its UPN')
    .addArgument(new Argument('<decision>', 'what to do').choices(DECISIONS))
    .option('--reason <text>', 'why; kept in the audit trail')
    .addOption(
      new Option('--on-deleted-account <choice>', 'with retry, when a deleted account holds the UPN: restore it or purge it').choices([
        'restore',
        'purge',
      ]),
    )
    .addOption(new Option('--by <name>', 'who decided (default: your OS user name, or $USER)').argParser(nonEmpty))
    .addOption(
      new Option('--idempotency-key <key>', 'makes a repeated request count once (default: a new random UUID per invocation)').argParser(
        parseIdempotencyKey,
      ),
    )
    .addHelpText('after', '\nExample:\n  dialtone decide cq-sales@contoso.onmicrosoft.com retry --reason "bought 5 licenses"')
    .action(async (upn: string, decision: string, options: DecideOptions) => {
      const by = options.by ?? osUserName(env);
      setExitCode(await postOnce(client(), `${accountPath(upn)}/decision`, 'decision', options.idempotencyKey, {
        decision,
        ...(options.reason ? { reason: options.reason } : {}),
        ...(options.onDeletedAccount ? { onDeletedAccount: options.onDeletedAccount } : {}),
        ...(by ? { by } : {}),
      }));
    });

  program
    .command('cancel')
    .description("cancel an account's open run; it rolls back what it did")
    .argument('<upn>', 'the account, by its UPN')
    .action(async (upn: string) => {
      setExitCode(print(await client().request('POST', `${accountPath(upn)}/cancel`)));
    });

  pagingOptions(
    program
      .command('list')
      .description('resource-account runs, newest first, one page at a time (or every page with --all)')
      .addOption(new Option('--state <state>', 'only runs in this state').choices(PROVISIONING_STATES)),
  ).action(async (options: PagingOptions & { state?: string }) => {
    const filter = options.state ? ['--state', options.state] : [];
    setExitCode(await printPages(client(), ACCOUNTS, { state: options.state }, options, ['list', ...filter]));
  });

  pagingOptions(
    program
      .command('runs')
      .description("earlier runs of one account, newest first; see one with 'dialtone status UPN --run RUNID'")
      .argument('<upn>', 'the account, by its UPN'),
  ).action(async (upn: string, options: PagingOptions) => {
    setExitCode(await printPages(client(), `${accountPath(upn)}/runs`, {}, options, ['runs', upn]));
  });
}

export function pagingOptions(command: Command): Command {
  return command
    .addOption(new Option('--page-size <n>', `items per page, 1 to ${MAX_PAGE_SIZE} (default: the API's, 50)`).argParser(parsePageSize))
    .addOption(new Option('--page-token <token>', 'the nextPageToken of the previous page').argParser(nonEmpty))
    .option('--all', 'follow nextPageToken to the last page and print every item as one JSON array');
}

interface Page {
  items: unknown[];
  nextPageToken?: string;
}

/**
 * One page as the API answers it, with a hint on stderr for the next; or, with --all, every page from
 * --page-token (or the first) to the last, printed as one array only when all of them arrived.
 */
export async function printPages(
  client: RestClient,
  path: string,
  filter: Record<string, string | undefined>,
  options: PagingOptions,
  commandWords: string[],
): Promise<number> {
  const fetchPage = (token: string | undefined) =>
    client.request('GET', path, { query: { ...filter, pageSize: options.pageSize, nextPageToken: token } });

  if (!options.all) {
    const answer = await fetchPage(options.pageToken);
    const code = print(answer);
    const next = answer.ok ? (parseJson(answer.text) as Partial<Page> | undefined)?.nextPageToken : undefined;
    if (typeof next === 'string' && next !== '') {
      const size = options.pageSize === undefined ? [] : ['--page-size', String(options.pageSize)];
      const nextCommand = ['dialtone', ...commandWords, ...size, '--page-token', next].map(shellQuote).join(' ');
      process.stderr.write(`more on the next page: ${nextCommand}\n(or add --all for every page)\n`);
    }
    return code;
  }

  const items: unknown[] = [];
  const seen = new Set<string>();
  let token = options.pageToken;
  do {
    const answer = await fetchPage(token);
    if (!answer.ok) return print(answer);
    const page = readPage(answer);
    items.push(...page.items);
    token = page.nextPageToken;
    if (token !== undefined && seen.has(token)) throw new Error(`the API answered nextPageToken ${token} twice; stopped after ${items.length} items`);
    if (token !== undefined) seen.add(token);
  } while (token);
  process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
  return 0;
}

function readPage(answer: ApiAnswer): Page {
  const page = parseJson(answer.text) as Partial<Page> | undefined;
  if (!page || !Array.isArray(page.items) || (page.nextPageToken !== undefined && typeof page.nextPageToken !== 'string')) {
    throw new Error(`the API answered ${answer.status} without a page ({ items, nextPageToken }): ${answer.text.slice(0, 200)}`);
  }
  return { items: page.items, nextPageToken: page.nextPageToken || undefined };
}

/** The API's answer, as indented JSON when it is JSON: on stdout when accepted, on stderr when refused. */
export function print(answer: ApiAnswer): number {
  const json = parseJson(answer.text);
  const printable = json === undefined ? answer.text : JSON.stringify(json, null, 2);
  (answer.ok ? process.stdout : process.stderr).write(`${printable}\n`);
  return answer.ok ? 0 : 1;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function readRequestFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const body = parseJson(text);
  if (body === undefined) throw new Error(`--file ${file} is not JSON; it holds the request body, like the example in the README`);
  return body;
}

function parsePageSize(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PAGE_SIZE) throw new InvalidArgumentError(`give a whole number from 1 to ${MAX_PAGE_SIZE}.`);
  return n;
}

/** It travels as an HTTP header, which holds only printable ASCII; the API takes up to 200 characters. */
export function parseIdempotencyKey(raw: string): string {
  if (!/^[\x20-\x7E]{1,200}$/.test(raw)) throw new InvalidArgumentError('use 1 to 200 printable ASCII characters, e.g. a UUID.');
  return raw;
}

/** `--call-priority`: a whole number from 1 to 5. */
function priority(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5) throw new InvalidArgumentError('give a whole number from 1 (highest) to 5 (lowest)');
  return n;
}

/**
 * POSTs a request that must count once (a decision, an approval) with an Idempotency-Key, prints the
 * answer and returns the exit code. When the answer may not have come (no connection, a 5xx), it says
 * how to send the same request again with the same key.
 */
export async function postOnce(client: RestClient, path: string, what: string, key: string | undefined, body: object): Promise<number> {
  const idempotencyKey = key ?? randomUUID();
  const retryHint = `To send this same ${what} again, add --idempotency-key ${idempotencyKey} so that it counts once.`;
  let answer: ApiAnswer;
  try {
    answer = await client.request('POST', path, { headers: { 'idempotency-key': idempotencyKey }, body });
  } catch (err) {
    // The request may have reached the API before the connection broke.
    if (err instanceof ApiUnreachableError) throw new Error(`${err.message}\n${retryHint}`, { cause: err });
    throw err;
  }
  const code = print(answer);
  if (answer.status >= 500) process.stderr.write(`${retryHint}\n`);
  return code;
}

export function nonEmpty(raw: string): string {
  if (raw.trim() === '') throw new InvalidArgumentError('it must not be empty.');
  return raw;
}

/** Who is at the terminal: the OS account, or $USER where the OS has no entry for the uid (some containers). */
export function osUserName(env: Env): string | undefined {
  try {
    const name = os.userInfo().username;
    if (name) return name;
  } catch {
    // No passwd entry for this uid.
  }
  return env.USER || undefined;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
