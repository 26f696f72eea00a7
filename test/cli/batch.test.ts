/**
 * `dialtone batch …` as a person runs it: a real child process against the real API, listening on a
 * port, over the real worker and the tenant simulator on a real Temporal server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';
import { TOKEN } from '../api/helpers';
import { startApiOverStack } from '../api/with-stack';
import type { ApiOverStack } from '../api/with-stack';
import { BATCH_OPTION_RANGES } from '../../lib/validation';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const HEADER = 'upn,displayName,kind,usageLocation,phoneNumber,numberCity,tollFree';
const DOMAIN = 'contoso.onmicrosoft.com';

function dialtone(apiUrl: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'cli/dialtone.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, DIALTONE_API_URL: apiUrl, DIALTONE_API_TOKEN: TOKEN }, timeout: 180_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('dialtone batch against the API', () => {
  let api: ApiOverStack;
  let apiUrl: string;
  let dir: string;
  const id = randomUUID().slice(0, 6);
  const upn = (name: string) => `${name}-${id}@${DOMAIN}`;

  before(async () => {
    api = await startApiOverStack();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    apiUrl = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
    dir = mkdtempSync(path.join(os.tmpdir(), 'dialtone-batch-'));
  });
  after(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function file(name: string, text: string): string {
    const full = path.join(dir, name);
    writeFileSync(full, text);
    return full;
  }

  test('submit --notify-url passes the callback with a CSV file and a JSON file alike; the API\'s refusal names it', async () => {
    const csv = file('notify.csv', [HEADER, `${upn('notify-csv')},Notify CSV,autoAttendant,US,any,,`].join('\n'));
    const fromCsv = await dialtone(apiUrl, 'batch', 'submit', csv, '--notify-url', 'http://hooks.example.com/dialtone');
    assert.equal(fromCsv.code, 1, fromCsv.stderr);
    assert.match(fromCsv.stderr, /notifyUrl must be an https URL/);
    const json = file('notify.json', JSON.stringify({ rows: [{ upn: upn('notify-json'), displayName: 'Notify JSON', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: 'any' }] }));
    const fromJson = await dialtone(apiUrl, 'batch', 'submit', json, '--notify-url', 'https://u:p@hooks.example.com/dialtone');
    assert.equal(fromJson.code, 1, fromJson.stderr);
    assert.match(fromJson.stderr, /notify\.url must not carry user:password/);
  });

  test('submit --dry-run prints the plan as a table with the totals, and --json the raw answer', async () => {
    const csv = file('plan.csv', [HEADER, `${upn('plan-aa')},Plan AA,autoAttendant,US,+12065550104,,`, `${upn('plan-cq')},Plan CQ,callQueue,GB,any,London,`].join('\n'));
    const run = await dialtone(apiUrl, 'batch', 'submit', csv, '--dry-run');
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.match(lines[0] ?? '', /^Dry run dry-b-\d{8}-[0-9a-f]{6}: 2 rows, tenant read at .*; nothing was changed$/);
    assert.match(run.stdout, /^row\s+upn\s+action\s+number\s+license$/m);
    assert.match(run.stdout, new RegExp(`^1\\s+${upn('plan-aa').replace(/[.]/g, '\\.')}\\s+create\\s+\\+12065550104\\s+needed$`, 'm'));
    assert.match(run.stdout, new RegExp(`^2\\s+${upn('plan-cq').replace(/[.]/g, '\\.')}\\s+create\\s+\\+44207946\\d{4} \\(any\\)\\s+needed$`, 'm'));
    assert.match(run.stdout, /^Totals: 2 to create, 0 to adopt, 0 already provisioned, 0 in conflict; 0 rows with problems$/m);
    assert.match(run.stdout, /^Licenses: 2 needed, \d+ free$/m);

    const json = await dialtone(apiUrl, 'batch', 'submit', csv, '--dry-run', '--json', '--batch-id', `plan-${id}`);
    assert.equal(json.code, 0, json.stderr);
    const answer = JSON.parse(json.stdout) as { batchId: string; plan: { rows: unknown[] } };
    assert.equal(answer.batchId, `dry-plan-${id}`);
    assert.equal(answer.plan.rows.length, 2);
  });

  test('submit of a file with bad rows prints one line per problem, with its row and column, and exits 1', async () => {
    const csv = file('bad.csv', [HEADER, `${upn('bad-1')},Bad one,autoAttendant,US,+1206,,`, `${upn('bad-2')},Bad two,queue,US,+12065550107,,`].join('\n'));
    const run = await dialtone(apiUrl, 'batch', 'submit', csv);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^row 1, column phoneNumber: "\+1206" is not an E\.164 number/);
    assert.match(lines[1] ?? '', /^row 2, column kind: must be one of autoAttendant, callQueue/);
    assert.equal(lines[2], '2 problems: fix them and submit again');
  });

  test('submit of a JSON file, watch until it ends (plain lines when not a terminal), then report writes the CSV', async () => {
    const batchId = `cli-${id}`;
    const json = file(
      'batch.json',
      JSON.stringify({
        rows: [
          { upn: upn('run-aa'), displayName: 'Run AA', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550105' },
          { upn: upn('run-cq'), displayName: 'Run CQ', kind: 'callQueue', usageLocation: 'US', phoneNumber: '+12065550106' },
        ],
      }),
    );
    const submitted = await dialtone(apiUrl, 'batch', 'submit', json, '--batch-id', batchId, '--concurrency', '2');
    assert.equal(submitted.code, 0, submitted.stderr);
    assert.equal((JSON.parse(submitted.stdout) as { batchId: string }).batchId, batchId);
    assert.match(submitted.stderr, new RegExp(`Follow it with: dialtone batch watch ${batchId}`));

    const watched = await dialtone(apiUrl, 'batch', 'watch', batchId);
    assert.equal(watched.code, 0, watched.stderr);
    const lines = watched.stdout.trimEnd().split('\n');
    assert.ok(!watched.stdout.includes('\r') && !watched.stdout.includes('\u001b['), 'no redrawing when stdout is not a terminal');
    assert.equal(lines.at(-1), 'Completed: all 2 rows provisioned');
    assert.match(lines.at(-2) ?? '', /^completed: 2\/2 completed, 0 running, 0 need attention, 0 not completed, 0 pending$/);
    for (let i = 1; i < lines.length; i++) assert.notEqual(lines[i], lines[i - 1], 'a line only when something changed');

    const report = await dialtone(apiUrl, 'batch', 'report', batchId);
    assert.equal(report.code, 0, report.stderr);
    const csv = report.stdout.trimEnd().split('\r\n');
    assert.equal(csv[0], 'row,upn,accountId,phoneNumber,state,errorType,error,outcome');
    assert.deepEqual(csv.slice(1).map((line) => line.split(',').slice(0, 2).concat(line.split(',').slice(3, 5))), [
      ['1', upn('run-aa'), '+12065550105', 'completed'],
      ['2', upn('run-cq'), '+12065550106', 'completed'],
    ]);

    const rows = await dialtone(apiUrl, 'batch', 'rows', batchId, '--page-size', '1');
    assert.equal(rows.code, 0, rows.stderr);
    assert.equal((JSON.parse(rows.stdout) as { items: unknown[] }).items.length, 1);
    assert.match(rows.stderr, new RegExp(`dialtone batch rows ${batchId} --page-size 1 --page-token \\S+`));

    const pause = await dialtone(apiUrl, 'batch', 'pause', batchId, '--reason', 'too late');
    assert.equal(pause.code, 1);
    assert.match(pause.stderr, /cannot pause: the batch has ended \(COMPLETED\)/);
  });

  test('a wrong command line is refused before any request, with exit code 2', async () => {
    const wrongFile = await dialtone(apiUrl, 'batch', 'submit', 'rows.txt');
    assert.equal(wrongFile.code, 2);
    assert.match(wrongFile.stderr, /must end in \.csv or \.json/);
    const decision = await dialtone(apiUrl, 'batch', 'decide', 'b-1', 'retri');
    assert.equal(decision.code, 2);
    assert.match(decision.stderr, /retry, rollback, abandon/);
    const concurrency = await dialtone(apiUrl, 'batch', 'submit', 'x.csv', '--concurrency', '0');
    assert.equal(concurrency.code, 2);
    assert.ok(concurrency.stderr.includes(`a whole number from 1 to ${BATCH_OPTION_RANGES.concurrency.max}`), concurrency.stderr);
  });
});
