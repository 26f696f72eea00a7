/**
 * `dialtone submit | status | decide | cancel | list`: a small client of the REST API, for people at
 * a terminal. It prints the API's JSON, and exits non-zero with the API's message when refused.
 */
import { readFileSync } from 'node:fs';
import { EnvReader } from '../lib/config';
import type { Env } from '../lib/config';
import { LOCAL_API_PORT } from '../lib/local-defaults';

export interface ApiTarget {
  baseUrl: string;
  token?: string;
}

export function readApiTarget(env: Env): ApiTarget {
  const r = new EnvReader(env);
  const baseUrl = r.url('DIALTONE_API_URL', `http://127.0.0.1:${LOCAL_API_PORT}`, ['http:', 'https:']);
  const token = r.secret('DIALTONE_API_TOKEN');
  r.done();
  return { baseUrl, token };
}

function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"; options look like --name value`);
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`);
    flags[arg.slice(2)] = value;
    i += 1;
  }
  return flags;
}

async function call(target: ApiTarget, method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`${target.baseUrl}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let printable = text;
  try {
    printable = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON: print as it came.
  }
  (response.ok ? process.stdout : process.stderr).write(`${printable}\n`);
  return response.ok ? 0 : 1;
}

const account = (id: string | undefined): string => {
  if (!id) throw new Error('name the account by its UPN, e.g. aa-main@contoso.onmicrosoft.com');
  return `/v1/resource-accounts/${encodeURIComponent(id)}`;
};

export const REST_USAGE = `  submit    --upn U --display-name N --kind autoAttendant|callQueue --usage-location CC --phone-number +E164
            [--on-deleted-account stop|restore|purge]     or  submit --file request.json
  status    UPN                       state and step progress of one account's run
  decide    UPN retry|rollback|abandon [--reason TEXT] [--on-deleted-account restore|purge]
  cancel    UPN
  list      [--state needs-attention]

  The API is DIALTONE_API_URL (default http://127.0.0.1:${LOCAL_API_PORT}); its token DIALTONE_API_TOKEN (or _FILE).`;

export async function runRestCommand(command: string, args: string[], env: Env): Promise<number> {
  const target = readApiTarget(env);
  switch (command) {
    case 'submit': {
      const flags = parseFlags(args);
      const body = flags.file
        ? (JSON.parse(readFileSync(flags.file, 'utf8')) as unknown)
        : {
            upn: flags.upn,
            displayName: flags['display-name'],
            kind: flags.kind,
            usageLocation: flags['usage-location'],
            phoneNumber: flags['phone-number'],
            ...(flags['on-deleted-account'] ? { options: { onDeletedAccount: flags['on-deleted-account'] } } : {}),
          };
      return call(target, 'POST', '/v1/resource-accounts', body);
    }
    case 'status':
      return call(target, 'GET', account(args[0]));
    case 'decide': {
      const [id, decision, ...rest] = args;
      if (!decision) throw new Error('say which decision: retry, rollback or abandon');
      const { reason, 'on-deleted-account': onDeletedAccount } = parseFlags(rest);
      return call(target, 'POST', `${account(id)}/decision`, {
        decision,
        ...(reason ? { reason } : {}),
        ...(onDeletedAccount ? { onDeletedAccount } : {}),
      });
    }
    case 'cancel':
      return call(target, 'POST', `${account(args[0])}/cancel`);
    case 'list': {
      const { state } = parseFlags(args);
      return call(target, 'GET', `/v1/resource-accounts${state ? `?state=${encodeURIComponent(state)}` : ''}`);
    }
    default:
      throw new Error(`unknown command "${command}"`);
  }
}
