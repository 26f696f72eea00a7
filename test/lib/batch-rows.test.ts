/**
 * A batch as submitted (CSV or JSON) to validated rows: the CSV grammar, the header, every row's
 * problems at once, duplicates, the "any" number, the limits. Pure functions, no server.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { BATCH_COLUMNS, formatRowError, parseCsv, rowsFromCsv, validateBatchRows } from '../../lib/batch-rows';
import type { RowFieldError } from '../../lib/batch-rows';
import { REPO_ROOT } from '../../lib/paths';
import { ANY_NUMBER, MAX_BATCH_ROWS } from '../../workflows/provision-batch/definitions';

const HEADER = 'upn,displayName,kind,usageLocation,phoneNumber,numberCity,tollFree';
const DOMAIN = 'contoso.onmicrosoft.com';

function csv(...rows: string[]): string {
  return [HEADER, ...rows].join('\n') + '\n';
}

function row(n: number, fields: Partial<Record<string, string>> = {}, columns: readonly string[] = HEADER.split(',')): string {
  const values = {
    upn: `aa-${n}@${DOMAIN}`,
    displayName: `Auto attendant ${n}`,
    kind: 'autoAttendant',
    usageLocation: 'US',
    phoneNumber: `+1206555${String(2000 + n).padStart(4, '0')}`,
    numberCity: '',
    tollFree: '',
    ...fields,
  };
  return columns.map((c) => values[c as keyof typeof values] ?? '').join(',');
}

/** Errors as `row/column` pairs, for comparing which cells were blamed. */
function where(errors: RowFieldError[]): string[] {
  return errors.map((e) => `${e.row}/${e.column}`);
}

describe('parseCsv', () => {
  test('quoted fields hold commas, line breaks and doubled quotes', () => {
    const { header, records, errors } = parseCsv('a,b,c\n"x, y","line 1\nline 2","say ""hi"""\nplain,,"" \n');
    assert.deepEqual(errors, []);
    assert.deepEqual(header, ['a', 'b', 'c']);
    assert.deepEqual(records, [
      ['x, y', 'line 1\nline 2', 'say "hi"'],
      ['plain', '', ''],
    ]);
  });

  test('a byte-order mark is not part of the first column name; CRLF and trailing blank lines are line ends, not rows', () => {
    const { header, records } = parseCsv('\uFEFFupn,kind\r\na@b.com,"callQueue"\r\n"multi\r\nline",x\r\n\r\n\r\n');
    assert.deepEqual(header, ['upn', 'kind']);
    assert.deepEqual(records, [
      ['a@b.com', 'callQueue'],
      ['multi\r\nline', 'x'],
    ]);
  });

  test('a last line without a line break is a row', () => {
    assert.deepEqual(parseCsv('a,b\n1,2').records, [['1', '2']]);
  });

  test('an unterminated quote is an error naming the data row, its column and the line it opens on', () => {
    const { records, errors } = parseCsv('upn,displayName\na@b.com,ok\nc@d.com,"never closed\nmore\n');
    assert.deepEqual(records, [['a@b.com', 'ok']]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.row, 2);
    assert.equal(errors[0]?.column, 'displayName');
    assert.match(errors[0]?.message ?? '', /opens on line 3 .*closing quote is missing/);
  });

  test('text after a closing quote is an error for that row', () => {
    const { records, errors } = parseCsv('a,b\n"x"y,z\n');
    assert.deepEqual(where(errors), ['1/a']);
    assert.match(errors[0]?.message ?? '', /put the whole cell in quotes/);
    assert.deepEqual(records, [['xy', 'z']]);
  });
});

describe('rowsFromCsv', () => {
  test('valid rows become requests with absent optional fields left out, cells and names trimmed', () => {
    const text = [
      ' upn , displayName,kind,usageLocation,phoneNumber,numberCity,tollFree ',
      ` aa-1@${DOMAIN} ,"Main line, ""Reception""",autoAttendant,US,+12065550120,,`,
      `cq-1@${DOMAIN},Support queue,callQueue,GB,Any, London ,`,
      `cq-2@${DOMAIN},Toll-free queue,callQueue,US,ANY,,YES`,
    ].join('\r\n');
    const { rows, errors } = rowsFromCsv(text);
    assert.deepEqual(errors, []);
    assert.deepEqual(rows, [
      { upn: `aa-1@${DOMAIN}`, displayName: 'Main line, "Reception"', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550120' },
      { upn: `cq-1@${DOMAIN}`, displayName: 'Support queue', kind: 'callQueue', usageLocation: 'GB', phoneNumber: ANY_NUMBER, numberCity: 'London' },
      { upn: `cq-2@${DOMAIN}`, displayName: 'Toll-free queue', kind: 'callQueue', usageLocation: 'US', phoneNumber: ANY_NUMBER, tollFree: true },
    ]);
    assert.ok(rows.every((r) => Object.values(r).every((v) => v !== undefined)), 'no undefined values');
  });

  test('a display name spanning lines in quotes is one row, and row numbers count records, not lines', () => {
    const { rows, errors } = rowsFromCsv(csv(row(1, { displayName: '"Main\nline"' }), row(2, { kind: 'queue' })));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.displayName, 'Main\nline');
    assert.deepEqual(where(errors), ['2/kind']);
  });

  test('a byte-order mark before the header does not hide the upn column', () => {
    const { rows, errors } = rowsFromCsv('\uFEFF' + csv(row(1)));
    assert.deepEqual(errors, []);
    assert.equal(rows.length, 1);
  });

  test('associateWith and callPriority give a row its association, checked as a single request\'s', () => {
    const aa = 'f7a821dc-2d69-5ae8-8525-bcb4a4556093';
    const { rows, errors } = rowsFromCsv([
      BATCH_COLUMNS.join(','),
      row(1, { associateWith: aa, callPriority: '2' }, BATCH_COLUMNS),
      row(2, { associateWith: aa }, BATCH_COLUMNS),
      row(3, { associateWith: 'Main line', callPriority: '9' }, BATCH_COLUMNS),
      row(4, { callPriority: '1' }, BATCH_COLUMNS),
    ].join('\n'));
    assert.deepEqual(rows.slice(0, 2).map((r) => [r.associateWith, r.callPriority]), [[aa, 2], [aa, undefined]]);
    assert.deepEqual(where(errors), ['3/associateWith', '3/callPriority', '4/callPriority']);
    assert.match(errors[0]?.message ?? '', /^associateWith must be the identity \(a GUID\) of an existing auto attendant or call queue: Get-CsAutoAttendant/);
    assert.match(errors[1]?.message ?? '', /^callPriority must be a whole number from 1 \(highest\) to 5/);
    assert.match(errors[2]?.message ?? '', /applies only with associateWith: empty the callPriority cell/);
  });

  test('tollFree accepts true/false/yes/no/1/0 in any case', () => {
    const values = ['true', 'FALSE', 'Yes', 'no', '1', '0'];
    const { rows, errors } = rowsFromCsv(csv(...values.map((v, i) => row(i, { phoneNumber: 'any', tollFree: v }))));
    assert.deepEqual(errors, []);
    assert.deepEqual(rows.map((r) => r.tollFree), [true, false, true, false, true, false]);
  });

  test('an unknown column is one error naming the closest known column', () => {
    const text = 'upn,displayName,kind,usagelocation,usageLocation,phoneNumber,phone_nr\n' + `aa-1@${DOMAIN},A,callQueue,x,US,+12065550120,y\n`;
    const { rows, errors } = rowsFromCsv(text);
    assert.deepEqual(where(errors), ['0/usagelocation', '0/phone_nr']);
    assert.equal(formatRowError(errors[0] as RowFieldError), 'column usagelocation: unknown column "usagelocation": did you mean usageLocation? (column names are case-sensitive)');
    assert.match(errors[1]?.message ?? '', /did you mean phoneNumber\?/);
    assert.equal(rows.length, 1, 'the rows themselves are fine');
  });

  test('a column with nothing like it lists the known columns', () => {
    const { errors } = rowsFromCsv(`upn,displayName,kind,usageLocation,phoneNumber,department\naa-1@${DOMAIN},A,callQueue,US,any,IT\n`);
    assert.deepEqual(where(errors), ['0/department']);
    assert.match(errors[0]?.message ?? '', /remove it, or use one of upn, displayName, kind, usageLocation, phoneNumber, numberCity, tollFree/);
  });

  test('a missing required column is one file-wide error, not one per row, and no row is returned', () => {
    const text = ['upn,displayName,usageLocation,phoneNumber', ...Array.from({ length: 50 }, (_, i) => `aa-${i}@${DOMAIN},A,US,any`)].join('\n');
    const { rows, errors } = rowsFromCsv(text);
    assert.deepEqual(where(errors), ['0/kind']);
    assert.match(formatRowError(errors[0] as RowFieldError), /^column kind: the header has no kind column: add it/);
    assert.deepEqual(rows, []);
  });

  test('a column named twice is an error', () => {
    const { errors } = rowsFromCsv(`upn,displayName,kind,usageLocation,phoneNumber,upn\naa-1@${DOMAIN},A,callQueue,US,any,x@${DOMAIN}\n`);
    assert.deepEqual(where(errors), ['0/upn']);
    assert.match(errors[0]?.message ?? '', /columns 1 and 6/);
  });

  test('every problem of every row is reported at once, in row order, each naming row and column', () => {
    const rows = Array.from({ length: 200 }, (_, i) => row(i + 1));
    rows[9] = row(10, { upn: 'no-at-sign', usageLocation: 'us' });
    rows[99] = row(100, { kind: 'autoattendant', phoneNumber: '+1 206 555 0100' });
    rows[149] = row(150, { displayName: '' });
    const { rows: valid, errors } = rowsFromCsv(csv(...rows));
    assert.deepEqual(where(errors), ['10/upn', '10/usageLocation', '100/kind', '100/phoneNumber', '150/displayName']);
    assert.equal(valid.length, 197, 'rows without problems are returned; rows with problems are not');
    assert.ok(!valid.some((r) => ['no-at-sign', `aa-100@${DOMAIN}`, `aa-150@${DOMAIN}`].includes(r.upn)));
    const lines = errors.map(formatRowError);
    assert.match(lines[0] ?? '', /^row 10, column upn: "no-at-sign" is not a user principal name: use exactly one "@"/);
    assert.match(lines[1] ?? '', /^row 10, column usageLocation: "us" is not an ISO 3166 .*write it in capitals: US$/);
    assert.match(lines[2] ?? '', /^row 100, column kind: must be one of autoAttendant, callQueue .*write it as autoAttendant$/);
    assert.match(lines[3] ?? '', /^row 100, column phoneNumber: "\+1 206 555 0100" is not an E\.164 number: .* or write any /);
    assert.match(lines[4] ?? '', /^row 150, column displayName: a value is required: /);
  });

  test('the same UPN twice (in any case) is an error on the later row naming both rows', () => {
    const { rows, errors } = rowsFromCsv(csv(row(1), row(2), row(3, { upn: `AA-1@CONTOSO.onmicrosoft.com` })));
    assert.deepEqual(where(errors), ['3/upn']);
    assert.match(errors[0]?.message ?? '', /also on row 1 .*delete row 1 or row 3/);
    assert.deepEqual(rows.map((r) => r.upn), [`aa-1@${DOMAIN}`, `aa-2@${DOMAIN}`]);
  });

  test('the same fixed number twice is an error; "any" twice is not', () => {
    const { errors } = rowsFromCsv(
      csv(row(1, { phoneNumber: '+12065550121' }), row(2, { phoneNumber: 'any' }), row(3, { phoneNumber: 'any' }), row(4, { phoneNumber: '+12065550121' })),
    );
    assert.deepEqual(where(errors), ['4/phoneNumber']);
    assert.match(errors[0]?.message ?? '', /\+12065550121 is also on row 1.*rows 1 and 4/);
  });

  test('numberCity and tollFree are allowed with "any" and refused with a fixed number, saying so', () => {
    const { rows, errors } = rowsFromCsv(
      csv(
        row(1, { phoneNumber: 'any', numberCity: 'Seattle', tollFree: 'no' }),
        row(2, { numberCity: 'Seattle' }),
        row(3, { tollFree: 'yes' }),
        row(4, { phoneNumber: 'any', tollFree: 'maybe' }),
      ),
    );
    assert.deepEqual(rows, [{ upn: `aa-1@${DOMAIN}`, displayName: 'Auto attendant 1', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: 'any', numberCity: 'Seattle', tollFree: false }]);
    assert.deepEqual(where(errors), ['2/numberCity', '3/tollFree', '4/tollFree']);
    assert.match(errors[0]?.message ?? '', /applies only when phoneNumber is any: empty the numberCity cell, or write any/);
    assert.match(errors[1]?.message ?? '', /applies only when phoneNumber is any: empty the tollFree cell/);
    assert.match(errors[2]?.message ?? '', /"maybe" is not a yes\/no value: write true or false/);
  });

  test('a row with more or fewer cells than the header is an error for that row only', () => {
    const { rows, errors } = rowsFromCsv(csv(row(1), `aa-2@${DOMAIN},Main line, reception,autoAttendant,US,any,,`, row(3), 'x,y'));
    assert.deepEqual(where(errors), ['2/', '4/']);
    assert.match(formatRowError(errors[0] as RowFieldError), /^row 2: 8 cells where the header has 7 columns: quote any cell that holds a comma/);
    assert.match(errors[1]?.message ?? '', /^2 cells where/);
    assert.equal(rows.length, 2);
  });

  test('a blank line between rows is an error for that row; blank lines and empty rows at the end are not rows', () => {
    const { rows, errors } = rowsFromCsv(csv(row(1), '', row(3)) + ',,,,,,\n\n  \n');
    assert.deepEqual(where(errors), ['2/']);
    assert.match(errors[0]?.message ?? '', /the row is empty/);
    assert.equal(rows.length, 2);
  });

  test('an unterminated quote is an error naming its row; the rows before it are still checked', () => {
    const { errors } = rowsFromCsv(csv(row(1, { kind: 'x' }), row(2), `aa-3@${DOMAIN},"Main line,autoAttendant,US,any,,`, row(4)));
    assert.deepEqual(where(errors), ['1/kind', '3/displayName']);
    assert.match(errors[1]?.message ?? '', /closing quote is missing/);
  });

  test('a header with no data rows is an error, and so is an empty file', () => {
    assert.deepEqual(rowsFromCsv(HEADER + '\r\n\r\n').errors, [{ row: 0, column: '', message: 'the file has no rows: give at least one row under the header line' }]);
    const empty = rowsFromCsv('\uFEFF');
    assert.deepEqual(where(empty.errors), ['0/']);
    assert.match(empty.errors[0]?.message ?? '', /^the file is empty: the first line must be the header/);
  });

  test('a file saved with semicolons says so instead of calling every column unknown', () => {
    const { errors } = rowsFromCsv('upn;displayName;kind;usageLocation;phoneNumber\na;b;c;d;e\n');
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /semicolons, not commas/);
  });

  test(`more than ${MAX_BATCH_ROWS} rows is one error saying the limit and to split the file`, () => {
    const rows = Array.from({ length: MAX_BATCH_ROWS + 1 }, (_, i) => `aa-${i}@${DOMAIN},A,callQueue,US,any,,`);
    const { errors } = rowsFromCsv(csv(...rows));
    assert.deepEqual(errors, [
      { row: 0, column: '', message: '10,001 rows, and a batch holds at most 10,000: split the file into 2 batches of at most 10,000 rows each' },
    ]);
    assert.equal(rowsFromCsv(csv(...rows.slice(1))).errors.length, 0, 'exactly the limit is fine');
  });
});

describe('validateBatchRows (JSON)', () => {
  const good = { upn: `aa-1@${DOMAIN}`, displayName: 'Main line', kind: 'autoAttendant', usageLocation: 'US', phoneNumber: '+12065550120' };

  test('input that is not an array is one clear error', () => {
    for (const input of [{ rows: [good] }, 'upn,displayName', null, undefined]) {
      const { rows, errors } = validateBatchRows(input);
      assert.deepEqual(rows, []);
      assert.equal(errors.length, 1, JSON.stringify(input));
      assert.equal(errors[0]?.row, 0);
      assert.match(errors[0]?.message ?? '', /^the rows must be a JSON array of row objects/);
    }
  });

  test('valid rows pass through; "any" in any case is normalised; null optional fields are absent', () => {
    const { rows, errors } = validateBatchRows([good, { ...good, upn: `cq-1@${DOMAIN}`, phoneNumber: 'ANY', numberCity: null, tollFree: true }]);
    assert.deepEqual(errors, []);
    assert.deepEqual(rows, [good, { ...good, upn: `cq-1@${DOMAIN}`, phoneNumber: ANY_NUMBER, tollFree: true }]);
    assert.ok(!('numberCity' in (rows[1] ?? {})));
  });

  test('an element that is not an object, an unknown field, and a tollFree that is not a boolean are errors for their rows', () => {
    const { rows, errors } = validateBatchRows([
      'aa@contoso.onmicrosoft.com',
      { ...good, upn: `b@${DOMAIN}`, UsageLocation: 'US' },
      { ...good, upn: `c@${DOMAIN}`, phoneNumber: 'any', tollFree: 'yes' },
      { ...good, upn: `d@${DOMAIN}`, phoneNumber: '+12065550124', tollFree: false },
      { ...good, upn: `e@${DOMAIN}`, phoneNumber: '+12065550125' },
    ]);
    assert.deepEqual(where(errors), ['1/', '2/UsageLocation', '3/tollFree', '4/tollFree']);
    assert.match(errors[0]?.message ?? '', /must be an object .* \(got the string "aa@contoso.onmicrosoft.com"\)/);
    assert.match(errors[1]?.message ?? '', /unknown field "UsageLocation": did you mean usageLocation\?/);
    assert.match(errors[2]?.message ?? '', /must be true or false/);
    assert.match(errors[3]?.message ?? '', /applies only when phoneNumber is any: leave out tollFree/);
    assert.deepEqual(rows.map((r) => r.upn), [`e@${DOMAIN}`]);
  });

  test('names people commonly use for a field lead to the right one', () => {
    const { errors } = validateBatchRows([{ ...good, type: 'callQueue', city: 'Seattle', userPrincipalName: good.upn }]);
    assert.deepEqual(errors.map((e) => `${e.column} -> ${/did you mean (\w+)\?/.exec(e.message)?.[1]}`), ['type -> kind', 'city -> numberCity', 'userPrincipalName -> upn']);
  });

  test('a field named like an Object.prototype member is an unknown field, not a suggestion of one', () => {
    const { errors } = validateBatchRows(JSON.parse(`[${JSON.stringify(good).slice(0, -1)}, "__proto__": 1, "constructor": 2}]`));
    assert.deepEqual(where(errors), ['1/__proto__', '1/constructor']);
    assert.ok(errors.every((e) => e.message.includes('remove it, or use one of upn')), errors.map((e) => e.message).join('\n'));
  });

  test('duplicates and every field error are reported across rows', () => {
    const { errors } = validateBatchRows([good, { ...good, upn: good.upn.toUpperCase() }, { ...good, upn: `x@${DOMAIN}`, kind: 'ivr', usageLocation: 'USA' }]);
    assert.deepEqual(where(errors), ['2/upn', '2/phoneNumber', '3/kind', '3/usageLocation', '3/phoneNumber']);
  });

  test('an empty array is an error', () => {
    assert.deepEqual(validateBatchRows([]).errors, [{ row: 0, column: '', message: 'there are no rows: give at least one row' }]);
  });

  test('more rows than the limit is one file-wide error', () => {
    const rows = Array.from({ length: MAX_BATCH_ROWS + 1 }, (_, i) => ({ ...good, upn: `aa-${i}@${DOMAIN}`, phoneNumber: 'any' }));
    const { errors } = validateBatchRows(rows);
    assert.deepEqual(where(errors), ['0/']);
    assert.match(errors[0]?.message ?? '', /at most 10,000: split the rows into 2 batches/);
  });
});

describe('formatRowError', () => {
  test('names the row and column, the row alone, or the batch', () => {
    assert.equal(formatRowError({ row: 3, column: 'phoneNumber', message: 'x' }), 'row 3, column phoneNumber: x');
    assert.equal(formatRowError({ row: 3, column: '', message: 'x' }), 'row 3: x');
    assert.equal(formatRowError({ row: 0, column: 'kind', message: 'x' }), 'column kind: x');
    assert.equal(formatRowError({ row: 0, column: '', message: 'x' }), 'batch: x');
  });
});

describe('examples/', () => {
  test('batch.csv and batch.json are valid and hold the same rows', () => {
    const fromCsv = rowsFromCsv(readFileSync(path.join(REPO_ROOT, 'examples', 'batch.csv'), 'utf8'));
    const fromJson = validateBatchRows((JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'batch.json'), 'utf8')) as { rows: unknown }).rows);
    assert.deepEqual(fromCsv.errors.map(formatRowError), []);
    assert.deepEqual(fromJson.errors.map(formatRowError), []);
    assert.deepEqual(fromJson.rows, fromCsv.rows);
    assert.ok(fromCsv.rows.some((r) => r.phoneNumber === ANY_NUMBER && r.numberCity));
    assert.ok(fromCsv.rows.some((r) => r.phoneNumber === ANY_NUMBER && r.tollFree !== undefined));
  });
});
