/**
 * The `dialtone` command as a person runs it: a real child process, against a small HTTP server started
 * here that records each request and answers canned pages, or against a port where nothing listens.
 * What is checked is the command's side of the contract: what it refuses before sending anything,
 * which requests it makes, what it prints, and its exit codes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';
import { freeLoopbackPort } from '../../lib/free-port';

const TOKEN = 'cli-test-token-5f1c9a7e';
const UPN = 'cq-sales@contoso.onmicrosoft.com';
const ACCOUNT_PATH = `/v1/resource-accounts/${encodeURIComponent(UPN)}`;

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

interface Canned {
  status: number;
  body: unknown;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** An API stand-in: records every request, and answers with `answer` (200 {} unless a test sets it). */
class RecordingApi {
  readonly requests: Recorded[] = [];
  answer: (request: Recorded) => Canned = () => ({ status: 200, body: {} });
  private readonly server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const recorded: Recorded = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: raw === '' ? undefined : (JSON.parse(raw) as unknown),
      };
      this.requests.push(recorded);
      const { status, body } = this.answer(recorded);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function dialtone(apiUrl: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'cli/dialtone.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, DIALTONE_API_URL: apiUrl, DIALTONE_API_TOKEN: TOKEN } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Three pages of the list shape, chained by nextPageToken, as the API answers them. */
function threePages(request: Recorded): Canned {
  const pages: Record<string, { items: Array<{ id: string }>; nextPageToken?: string }> = {
    first: { items: [{ id: 'a' }, { id: 'b' }], nextPageToken: 'p2.sealed' },
    'p2.sealed': { items: [{ id: 'c' }, { id: 'd' }], nextPageToken: 'p3.sealed' },
    'p3.sealed': { items: [{ id: 'e' }] },
  };
  const page = pages[request.query.get('nextPageToken') ?? 'first'];
  return page ? { status: 200, body: page } : { status: 400, body: { error: { code: 'invalid_request', message: 'unknown token' } } };
}

describe('the dialtone command', () => {
  const api = new RecordingApi();
  let apiUrl: string;
  before(async () => {
    apiUrl = await api.listen();
  });
  after(() => api.close());
  beforeEach(() => {
    api.requests.length = 0;
    api.answer = () => ({ status: 200, body: {} });
  });

  describe('refuses a wrong command line before sending anything, with exit code 2', () => {
    test('a misspelt flag, naming the closest one', async () => {
      const run = await dialtone(apiUrl, 'list', '--stat', 'needs-attention');
      assert.equal(run.code, 2);
      assert.match(run.stderr, /unknown option '--stat'/);
      assert.match(run.stderr, /Did you mean --state\?/);
      assert.equal(run.stdout, '');
      assert.deepEqual(api.requests, [], 'nothing is listed when a flag is misspelt');
    });

    test('an unknown command, naming the closest one', async () => {
      const run = await dialtone(apiUrl, 'lsit');
      assert.equal(run.code, 2);
      assert.match(run.stderr, /unknown command 'lsit'/);
      assert.match(run.stderr, /Did you mean list\?/);
    });

    test('a flag of another command', async () => {
      const run = await dialtone(apiUrl, 'cancel', UPN, '--reason', 'x');
      assert.equal(run.code, 2);
      assert.match(run.stderr, /unknown option '--reason'/);
      assert.deepEqual(api.requests, []);
    });

    test('a missing value or argument, by name', async () => {
      const noValue = await dialtone(apiUrl, 'list', '--state');
      assert.equal(noValue.code, 2);
      assert.match(noValue.stderr, /--state <state>' argument missing/);

      const noUpn = await dialtone(apiUrl, 'status');
      assert.equal(noUpn.code, 2);
      assert.match(noUpn.stderr, /missing required argument 'upn'/);

      const partial = await dialtone(apiUrl, 'submit', '--upn', UPN, '--kind', 'callQueue');
      assert.equal(partial.code, 2);
      assert.match(partial.stderr, /missing --display-name, --usage-location, --phone-number \(or give the whole request with --file/);
      assert.deepEqual(api.requests, []);
    });

    test('a value outside its set, listing the valid ones', async () => {
      const state = await dialtone(apiUrl, 'list', '--state', 'runing');
      assert.equal(state.code, 2);
      assert.match(state.stderr, /running, needs-attention, rolling-back, completed, rolled-back, abandoned, cancelled/);

      const decision = await dialtone(apiUrl, 'decide', UPN, 'retri');
      assert.equal(decision.code, 2);
      assert.match(decision.stderr, /retry, rollback, abandon/);

      for (const size of ['0', '1001', '10x']) {
        const pageSize = await dialtone(apiUrl, 'list', '--page-size', size);
        assert.equal(pageSize.code, 2, `--page-size ${size}`);
        assert.match(pageSize.stderr, /a whole number from 1 to 1000/);
      }

      const key = await dialtone(apiUrl, 'decide', UPN, 'retry', '--idempotency-key', 'clé');
      assert.equal(key.code, 2, 'a header holds only printable ASCII');
      assert.match(key.stderr, /--idempotency-key <key>' argument 'clé' is invalid/);
      assert.deepEqual(api.requests, []);
    });

    test('extra arguments, and --file together with the flags it replaces', async () => {
      const extra = await dialtone(apiUrl, 'list', 'needs-attention');
      assert.equal(extra.code, 2);
      assert.match(extra.stderr, /too many arguments for 'list'/);

      const both = await dialtone(apiUrl, 'submit', '--file', 'request.json', '--upn', UPN);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /--file <request.json>' cannot be used with option '--upn <upn>'/);
    });
  });

  test('every command has its own --help', async () => {
    const expected: Record<string, RegExp[]> = {
      start: [/run the whole stack locally/],
      submit: [/--upn <upn>/, /--display-name <name>/, /--kind <kind>/, /--usage-location/, /--phone-number/, /--on-deleted-account/, /--file/],
      status: [/<upn>/, /--run <runId>/],
      decide: [/<upn> <decision>/, /--reason/, /--on-deleted-account/, /--by <name>/, /--idempotency-key <key>/],
      cancel: [/<upn>/],
      list: [/--state <state>/, /--page-size <n>/, /--page-token <token>/, /--all/],
      runs: [/<upn>/, /--page-size <n>/, /--page-token <token>/, /--all/],
    };
    for (const [command, patterns] of Object.entries(expected)) {
      const run = await dialtone(apiUrl, command, '--help');
      assert.equal(run.code, 0, command);
      assert.match(run.stdout, new RegExp(`Usage: dialtone ${command}`));
      for (const pattern of patterns) assert.match(run.stdout, pattern, `${command} --help`);
    }
    const top = await dialtone(apiUrl, '--help');
    assert.equal(top.code, 0);
    for (const command of Object.keys(expected)) assert.match(top.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    assert.match(top.stdout, /DIALTONE_API_URL/);
    assert.deepEqual(api.requests, []);
  });

  describe('paging', () => {
    test('one page, with the exact command for the next on stderr', async () => {
      api.answer = threePages;
      const run = await dialtone(apiUrl, 'list', '--state', 'needs-attention', '--page-size', '2');
      assert.equal(run.code, 0);
      assert.deepEqual(JSON.parse(run.stdout), { items: [{ id: 'a' }, { id: 'b' }], nextPageToken: 'p2.sealed' });
      assert.match(run.stderr, /dialtone list --state needs-attention --page-size 2 --page-token p2\.sealed\n/);
      assert.equal(api.requests.length, 1);
      assert.equal(api.requests[0]?.path, '/v1/resource-accounts');
      assert.equal(api.requests[0]?.query.toString(), 'state=needs-attention&pageSize=2');
    });

    test('--page-token is passed through as nextPageToken, and the last page gives no hint', async () => {
      api.answer = threePages;
      const run = await dialtone(apiUrl, 'list', '--page-token', 'p3.sealed');
      assert.equal(run.code, 0);
      assert.deepEqual(JSON.parse(run.stdout), { items: [{ id: 'e' }] });
      assert.equal(run.stderr, '');
      assert.equal(api.requests[0]?.query.get('nextPageToken'), 'p3.sealed');
      assert.equal(api.requests[0]?.query.has('pageSize'), false, "without --page-size the API's default applies");
    });

    test('--all follows nextPageToken to the end and prints one array of items', async () => {
      api.answer = threePages;
      const run = await dialtone(apiUrl, 'list', '--all', '--state', 'running', '--page-size', '2');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { id: 'e' }]);
      assert.equal(run.stderr, '');
      assert.deepEqual(
        api.requests.map((r) => r.query.toString()),
        ['state=running&pageSize=2', 'state=running&pageSize=2&nextPageToken=p2.sealed', 'state=running&pageSize=2&nextPageToken=p3.sealed'],
      );
      assert.ok(api.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`));
    });

    test('--all starting from --page-token', async () => {
      api.answer = threePages;
      const run = await dialtone(apiUrl, 'list', '--all', '--page-token', 'p2.sealed');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), [{ id: 'c' }, { id: 'd' }, { id: 'e' }]);
      assert.equal(api.requests.length, 2);
    });

    test('--all stops at a refused page: the refusal on stderr, nothing on stdout, exit 1', async () => {
      api.answer = (request) => (request.query.has('nextPageToken') ? { status: 400, body: { error: { code: 'invalid_request', message: 'nextPageToken is not valid' } } } : threePages(request));
      const run = await dialtone(apiUrl, 'list', '--all');
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /nextPageToken is not valid/);
    });

    test("runs pages through one account's earlier runs", async () => {
      api.answer = threePages;
      const page = await dialtone(apiUrl, 'runs', UPN, '--page-size', '2');
      assert.equal(page.code, 0);
      assert.equal(api.requests[0]?.path, `${ACCOUNT_PATH}/runs`);
      assert.match(page.stderr, new RegExp(`dialtone runs ${UPN.replace('.', '\\.')} --page-size 2 --page-token p2\\.sealed\\n`));

      api.requests.length = 0;
      const all = await dialtone(apiUrl, 'runs', UPN, '--all');
      assert.equal(all.code, 0, all.stderr);
      assert.equal(JSON.parse(all.stdout).length, 5);
      assert.deepEqual(
        api.requests.map((r) => `${r.path}?${r.query.toString()}`),
        [`${ACCOUNT_PATH}/runs?`, `${ACCOUNT_PATH}/runs?nextPageToken=p2.sealed`, `${ACCOUNT_PATH}/runs?nextPageToken=p3.sealed`],
      );
    });
  });

  test('status asks for one earlier run with --run', async () => {
    api.answer = () => ({ status: 200, body: { id: UPN.toLowerCase(), runId: 'run-1', state: 'rolled-back' } });
    const run = await dialtone(apiUrl, 'status', UPN, '--run', 'run-1');
    assert.equal(run.code, 0);
    assert.equal(JSON.parse(run.stdout).runId, 'run-1');
    assert.equal(api.requests[0]?.path, ACCOUNT_PATH);
    assert.equal(api.requests[0]?.query.toString(), 'runId=run-1');

    const latest = await dialtone(apiUrl, 'status', UPN);
    assert.equal(latest.code, 0);
    assert.equal(api.requests[1]?.query.toString(), '', 'without --run, the latest run');
  });

  describe('decide', () => {
    test('sends who decided and an Idempotency-Key, new for each invocation', async () => {
      api.answer = () => ({ status: 200, body: { accepted: true, state: 'running' } });
      const first = await dialtone(apiUrl, 'decide', UPN, 'retry', '--reason', 'bought 5 licenses');
      const second = await dialtone(apiUrl, 'decide', UPN, 'rollback');
      assert.equal(first.code, 0, first.stderr);
      assert.equal(second.code, 0, second.stderr);
      const [a, b] = api.requests;
      assert.equal(a?.method, 'POST');
      assert.equal(a?.path, `${ACCOUNT_PATH}/decision`);
      assert.deepEqual(a?.body, { decision: 'retry', reason: 'bought 5 licenses', by: os.userInfo().username });
      assert.deepEqual(b?.body, { decision: 'rollback', by: os.userInfo().username });
      const keys = [a?.headers['idempotency-key'], b?.headers['idempotency-key']];
      for (const key of keys) assert.match(String(key), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.notEqual(keys[0], keys[1]);
    });

    test('--by and --idempotency-key are sent as given, with --on-deleted-account', async () => {
      api.answer = () => ({ status: 200, body: { accepted: true } });
      const run = await dialtone(apiUrl, 'decide', UPN, 'retry', '--on-deleted-account', 'purge', '--by', 'Alex Operator', '--idempotency-key', 'ticket-4711');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(api.requests[0]?.body, { decision: 'retry', onDeletedAccount: 'purge', by: 'Alex Operator' });
      assert.equal(api.requests[0]?.headers['idempotency-key'], 'ticket-4711');
    });

    test('a refusal is printed on stderr with exit 1', async () => {
      api.answer = () => ({ status: 409, body: { error: { code: 'conflict', message: 'the run is not waiting for a decision' } } });
      const run = await dialtone(apiUrl, 'decide', UPN, 'abandon');
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /"message": "the run is not waiting for a decision"/);
    });
  });

  describe('submit and cancel', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dialtone-cli-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('submit sends the flags as the request body', async () => {
      api.answer = () => ({ status: 202, body: { id: UPN, state: 'running', existing: false } });
      const run = await dialtone(
        apiUrl,
        'submit',
        '--upn', UPN,
        '--display-name', 'Sales queue',
        '--kind', 'callQueue',
        '--usage-location', 'GB',
        '--phone-number', '+442079460001',
        '--on-deleted-account', 'restore',
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout).state, 'running');
      assert.equal(api.requests[0]?.path, '/v1/resource-accounts');
      assert.deepEqual(api.requests[0]?.body, {
        upn: UPN,
        displayName: 'Sales queue',
        kind: 'callQueue',
        usageLocation: 'GB',
        phoneNumber: '+442079460001',
        options: { onDeletedAccount: 'restore' },
      });
    });

    test('submit --associate-with and --call-priority send the association; a priority out of range or alone is refused', async () => {
      api.answer = () => ({ status: 202, body: { id: UPN, state: 'running', existing: false } });
      const flags = ['--upn', UPN, '--display-name', 'Sales queue', '--kind', 'callQueue', '--usage-location', 'GB', '--phone-number', '+442079460001'];
      const run = await dialtone(apiUrl, 'submit', ...flags, '--associate-with', '8c1d9e2f-4a3b-4c6d-9e8f-1a2b3c4d5e6f', '--call-priority', '2');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual((api.requests.at(-1)?.body as { association?: unknown }).association, { configurationId: '8c1d9e2f-4a3b-4c6d-9e8f-1a2b3c4d5e6f', callPriority: 2 });
      const sent = api.requests.length;
      const bad = await dialtone(apiUrl, 'submit', ...flags, '--associate-with', '8c1d9e2f-4a3b-4c6d-9e8f-1a2b3c4d5e6f', '--call-priority', '7');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--call-priority.*give a whole number from 1 \(highest\) to 5 \(lowest\)/);
      const alone = await dialtone(apiUrl, 'submit', ...flags, '--call-priority', '1');
      assert.equal(alone.code, 2);
      assert.match(alone.stderr, /--call-priority goes with --associate-with/);
      assert.equal(api.requests.length, sent, 'nothing was sent');
    });

    test('submit --notify-url sends the callback as notify.url; it does not go with --file', async () => {
      api.answer = () => ({ status: 202, body: { id: UPN, state: 'running', existing: false } });
      const flags = ['--upn', UPN, '--display-name', 'Sales queue', '--kind', 'callQueue', '--usage-location', 'GB', '--phone-number', '+442079460001'];
      const run = await dialtone(apiUrl, 'submit', ...flags, '--notify-url', 'https://hooks.example.com/dialtone');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual((api.requests.at(-1)?.body as { notify?: unknown }).notify, { url: 'https://hooks.example.com/dialtone' });
      const sent = api.requests.length;
      const both = await dialtone(apiUrl, 'submit', '--file', 'request.json', '--notify-url', 'https://hooks.example.com/dialtone');
      assert.equal(both.code, 2);
      assert.match(both.stderr, /--file.*cannot be used with option '--notify-url/);
      assert.equal(api.requests.length, sent, 'nothing was sent');
    });

    test('submit --file sends the file as it is', async () => {
      const request = { upn: UPN, displayName: 'Sales queue', kind: 'callQueue', usageLocation: 'GB', phoneNumber: '+442079460001', options: { attentionTimeoutMs: 3_600_000 } };
      const file = path.join(dir, 'request.json');
      writeFileSync(file, JSON.stringify(request));
      const run = await dialtone(apiUrl, 'submit', '--file', file);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(api.requests[0]?.body, request);
    });

    test('cancel posts to the account', async () => {
      const run = await dialtone(apiUrl, 'cancel', UPN);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(api.requests[0]?.method, 'POST');
      assert.equal(api.requests[0]?.path, `${ACCOUNT_PATH}/cancel`);
    });
  });

  test('an API that cannot be reached: the URL tried, the cause, DIALTONE_API_URL and npm start; never the token', async () => {
    const nothing = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const run = await dialtone(nothing, 'list', '--state', 'needs-attention');
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.ok(run.stderr.includes(`${nothing}/v1/resource-accounts?state=needs-attention`), run.stderr);
    assert.match(run.stderr, /ECONNREFUSED/);
    assert.match(run.stderr, /DIALTONE_API_URL/);
    assert.match(run.stderr, /npm start/);
    assert.doesNotMatch(run.stderr, /fetch failed/);
    assert.ok(!run.stderr.includes(TOKEN), 'the token is never printed');

    const decide = await dialtone(nothing, 'decide', UPN, 'retry', '--idempotency-key', 'k-1');
    assert.equal(decide.code, 1);
    assert.match(decide.stderr, /add --idempotency-key k-1/, 'a decision that may have been sent can be repeated safely');
  });
});
