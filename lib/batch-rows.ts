/**
 * A submitted batch (a CSV file or a JSON array of row objects) turned into validated
 * {@link BatchRowRequest}s, with every problem of the whole batch reported at once, each naming its row,
 * its column and the fix. Pure (no I/O, no clock, no randomness): the API uses it to answer 400, and the
 * batch workflow may use it again inside Temporal's sandbox.
 *
 * Linear in the size of the batch: one pass to parse, one to validate, maps for the duplicate checks.
 */
import type { BatchRowRequest } from '../workflows/provision-batch/definitions';
import { ANY_NUMBER, MAX_BATCH_ROWS } from '../workflows/provision-batch/definitions';
import type { ResourceAccountKind } from './microsoft';
import { RESOURCE_ACCOUNT_KINDS } from './microsoft';
import { validateAssociation, validateDisplayName, validateE164, validateKind, validateUpn, validateUsageLocation } from './validation';
import type { FieldError } from './validation';

export interface RowFieldError {
  /** 1-based data row (a CSV file's header is not counted; a JSON array's first element is row 1); 0 for the batch as a whole. */
  row: number;
  /** The CSV column or JSON field to change; empty when the problem is the row or the file itself. */
  column: string;
  /** What is wrong and how to fix it; reads well after `row N, column C:`. */
  message: string;
}

const REQUIRED_COLUMNS = ['upn', 'displayName', 'kind', 'usageLocation', 'phoneNumber'] as const;
const OPTIONAL_COLUMNS = ['numberCity', 'tollFree', 'associateWith', 'callPriority'] as const;
type BatchColumn = (typeof REQUIRED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];

/** The CSV columns (and JSON fields) of a batch row, required ones first. */
export const BATCH_COLUMNS: readonly string[] = Object.freeze([...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]);

const KNOWN = new Set<string>(BATCH_COLUMNS);

/** Names people write for a column that edit distance alone would not lead back to the right one. */
const ALIASES = new Map<string, BatchColumn>([
  ['userprincipalname', 'upn'],
  ['email', 'upn'],
  ['name', 'displayName'],
  ['type', 'kind'],
  ['country', 'usageLocation'],
  ['number', 'phoneNumber'],
  ['phone', 'phoneNumber'],
  ['city', 'numberCity'],
]);

type Source = 'csv' | 'json';

// ---- CSV ---------------------------------------------------------------------------------------------

const COMMA = 44;
const CR = 13;
const LF = 10;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;

/**
 * Reads CSV text as RFC 4180 does: quoted fields with `""` for a quote, commas and line breaks inside
 * quotes, CRLF, LF or CR line ends, a leading UTF-8 byte-order mark. Spaces before an opening or after a
 * closing quote are allowed (spreadsheets write them). Cells come back as written (untrimmed);
 * {@link rowsFromCsv} trims them. Blank lines at the end are ignored; a blank line in the middle stays a
 * record, so row numbers match the lines a person sees in a spreadsheet.
 *
 * Errors use data-row numbers: the header is row 0, the first record after it row 1.
 */
export function parseCsv(text: string): { header: string[]; records: string[][]; errors: RowFieldError[] } {
  const all: string[][] = [];
  const errors: RowFieldError[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let unterminated = false;

  const columnName = (index: number): string => (all.length === 0 ? '' : (all[0]?.[index]?.trim() ?? ''));

  records: while (i < n) {
    const record: string[] = [];
    for (;;) {
      let value: string;
      let j = i;
      while (j < n && (text.charCodeAt(j) === SPACE || text.charCodeAt(j) === TAB)) j++;
      if (j < n && text.charCodeAt(j) === QUOTE) {
        const openedOn = line;
        let k = j + 1;
        value = '';
        for (;;) {
          const q = text.indexOf('"', k);
          if (q < 0) {
            errors.push({
              row: all.length,
              column: columnName(record.length),
              message: `a quoted cell opens on line ${openedOn} and its closing quote is missing: add the closing " (and write any quote inside the cell as "")`,
            });
            unterminated = true;
            break records;
          }
          value += text.slice(k, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            k = q + 2;
          } else {
            k = q + 1;
            break;
          }
        }
        line += countLineBreaks(text, j + 1, k - 1);
        while (k < n && (text.charCodeAt(k) === SPACE || text.charCodeAt(k) === TAB)) k++;
        if (k < n && !isDelimiter(text.charCodeAt(k))) {
          const end = nextDelimiter(text, k);
          errors.push({
            row: all.length,
            column: columnName(record.length),
            message: `text follows the closing quote of a quoted cell (line ${line}): put the whole cell in quotes and write each quote inside it as ""`,
          });
          value += text.slice(k, end);
          k = end;
        }
        i = k;
      } else {
        const end = nextDelimiter(text, i);
        value = text.slice(i, end);
        i = end;
      }
      record.push(value);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      i++;
      if (c === COMMA) continue;
      if (c === CR && text.charCodeAt(i) === LF) i++;
      line++;
      break;
    }
    all.push(record);
  }

  // Blank lines (or rows of empty cells, as spreadsheets export) at the end are not rows. After an
  // unterminated quote the file's end is unknown, so nothing is dropped.
  if (!unterminated) while (all.length > 1 && isBlank(all[all.length - 1] ?? [])) all.pop();
  const [header = [], ...records] = all;
  return { header, records, errors };
}

function isDelimiter(c: number): boolean {
  return c === COMMA || c === CR || c === LF;
}

function nextDelimiter(text: string, from: number): number {
  let k = from;
  while (k < text.length && !isDelimiter(text.charCodeAt(k))) k++;
  return k;
}

function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === LF || (c === CR && text.charCodeAt(k + 1) !== LF)) count++;
  }
  return count;
}

function isBlank(record: readonly string[]): boolean {
  return record.every((cell) => cell.trim() === '');
}

/**
 * CSV text (first line: the column names) to validated rows. Header names and cells are trimmed; an
 * empty cell in an optional column means the value is absent. File-wide problems (the header, the row
 * count) have row 0. `rows` holds the rows with no problem of their own (none when a required column is
 * missing); the batch is acceptable only when `errors` is empty.
 */
export function rowsFromCsv(text: string): { rows: BatchRowRequest[]; errors: RowFieldError[] } {
  const parsed = parseCsv(text);
  const errors = [...parsed.errors];
  const header = parsed.header.map((name) => name.trim());

  if (header.length === 0 || isBlank(header)) {
    const what = parsed.records.length === 0 && parsed.errors.length === 0 ? 'the file is empty' : 'the first line is empty';
    errors.unshift({
      row: 0,
      column: '',
      message: `${what}: the first line must be the header naming the columns, e.g. ${BATCH_COLUMNS.join(',')}, and each line after it a row`,
    });
    return { rows: [], errors };
  }
  if (header.length === 1 && /[;\t]/.test(header[0] ?? '')) {
    const separator = header[0]?.includes(';') ? 'semicolons' : 'tabs';
    errors.unshift({
      row: 0,
      column: '',
      message: `the header separates its columns with ${separator}, not commas: save the file as comma-separated values (CSV UTF-8)`,
    });
    return { rows: [], errors };
  }

  const fileErrors: RowFieldError[] = [];
  const columnIndex = new Map<string, number>();
  header.forEach((name, index) => {
    if (name === '') {
      fileErrors.push({ row: 0, column: '', message: `column ${index + 1} of the header has no name: name it (${BATCH_COLUMNS.join(', ')}) or delete the column` });
    } else if (!KNOWN.has(name)) {
      fileErrors.push({ row: 0, column: name, message: unknownNameMessage(name, 'csv') });
    } else if (columnIndex.has(name)) {
      fileErrors.push({
        row: 0,
        column: name,
        message: `appears twice in the header (columns ${(columnIndex.get(name) ?? 0) + 1} and ${index + 1}): keep one of them`,
      });
    } else {
      columnIndex.set(name, index);
    }
  });
  const missing = new Set<string>(REQUIRED_COLUMNS.filter((name) => !columnIndex.has(name)));
  for (const name of missing) {
    fileErrors.push({
      row: 0,
      column: name,
      message: `the header has no ${name} column: add it (every row needs ${REQUIRED_COLUMNS.join(', ')}; ${OPTIONAL_COLUMNS.join(' and ')} are optional)`,
    });
  }

  const checker = new RowChecker('csv', missing);
  // An unterminated quote swallows the rest of the file; "no rows" would then be wrong.
  if (parsed.records.length > 0 || parsed.errors.length === 0) fileErrors.push(...checker.countErrors(parsed.records.length));
  const known = [...columnIndex];
  parsed.records.forEach((record, index) => {
    const row = index + 1;
    if (isBlank(record)) {
      checker.fail(row, '', 'the row is empty: delete the line, or fill in the row');
      return;
    }
    if (record.length !== header.length) {
      checker.fail(
        row,
        '',
        `${record.length} ${record.length === 1 ? 'cell' : 'cells'} where the header has ${header.length} columns: quote any cell that holds a comma, and give every column a cell (leave optional ones empty)`,
      );
      return;
    }
    const fields: Record<string, string> = {};
    for (const [name, at] of known) {
      const cell = (record[at] ?? '').trim();
      if (cell !== '' || !isOptional(name)) fields[name] = cell;
    }
    checker.check(row, fields);
  });

  for (const e of parsed.errors) if (e.row > 0) checker.failedRows.add(e.row);
  const all = [...fileErrors, ...errors, ...checker.errors];
  // Stable: file-wide problems first, then each row's in the order found.
  all.sort((a, b) => a.row - b.row);
  return { rows: missing.size > 0 ? [] : checker.rows(), errors: all };
}

// ---- JSON --------------------------------------------------------------------------------------------

/**
 * A batch's rows as given in JSON (the array of row objects) to validated rows. Field names are the CSV
 * column names; `tollFree` is a boolean; `null` or a missing key means an optional field is absent.
 * `rows` holds the rows with no problem of their own; the batch is acceptable only when `errors` is empty.
 */
export function validateBatchRows(input: unknown): { rows: BatchRowRequest[]; errors: RowFieldError[] } {
  if (!Array.isArray(input)) {
    return {
      rows: [],
      errors: [
        {
          row: 0,
          column: '',
          message: `the rows must be a JSON array of row objects, e.g. [{"upn": "aa-main@contoso.onmicrosoft.com", "displayName": "Main line", "kind": "autoAttendant", "usageLocation": "US", "phoneNumber": "any"}] (got ${describe(input)})`,
        },
      ],
    };
  }
  const checker = new RowChecker('json', new Set());
  const fileErrors = checker.countErrors(input.length);
  input.forEach((element: unknown, index) => {
    const row = index + 1;
    if (typeof element !== 'object' || element === null || Array.isArray(element)) {
      checker.fail(row, '', `must be an object with the fields ${REQUIRED_COLUMNS.join(', ')} (got ${describe(element)})`);
      return;
    }
    checker.check(row, element as Record<string, unknown>);
  });
  return { rows: checker.rows(), errors: [...fileErrors, ...checker.errors] };
}

// ---- shared ------------------------------------------------------------------------------------------

/** `row 3, column phoneNumber: …`; `row 3: …` for a row's own problem; file-wide problems name the column or the batch. */
export function formatRowError(e: RowFieldError): string {
  if (e.row > 0) return `row ${e.row}${e.column ? `, column ${e.column}` : ''}: ${e.message}`;
  return `${e.column ? `column ${e.column}` : 'batch'}: ${e.message}`;
}

function isOptional(name: string): boolean {
  return (OPTIONAL_COLUMNS as readonly string[]).includes(name);
}

/** Validates rows one at a time, remembering UPNs and numbers for the duplicate checks. */
class RowChecker {
  readonly errors: RowFieldError[] = [];
  readonly failedRows = new Set<number>();
  private readonly valid: Array<{ row: number; request: BatchRowRequest }> = [];
  private readonly upns = new Map<string, number>();
  private readonly numbers = new Map<string, number>();

  constructor(
    private readonly source: Source,
    /** Required columns the file lacks: reported once for the file, never per row. */
    private readonly missing: ReadonlySet<string>,
  ) {}

  countErrors(count: number): RowFieldError[] {
    if (count === 0) {
      const message = this.source === 'csv' ? 'the file has no rows: give at least one row under the header line' : 'there are no rows: give at least one row';
      return [{ row: 0, column: '', message }];
    }
    if (count > MAX_BATCH_ROWS) {
      return [
        {
          row: 0,
          column: '',
          message: `${grouped(count)} rows, and a batch holds at most ${grouped(MAX_BATCH_ROWS)}: split the ${this.source === 'csv' ? 'file' : 'rows'} into ${Math.ceil(count / MAX_BATCH_ROWS)} batches of at most ${grouped(MAX_BATCH_ROWS)} rows each`,
        },
      ];
    }
    return [];
  }

  fail(row: number, column: string, message: string): void {
    this.errors.push({ row, column, message });
    this.failedRows.add(row);
  }

  rows(): BatchRowRequest[] {
    return this.valid.filter((v) => !this.failedRows.has(v.row)).map((v) => v.request);
  }

  check(row: number, fields: Record<string, unknown>): void {
    const before = this.errors.length;
    if (this.source === 'json') {
      for (const key of Object.keys(fields)) {
        if (!KNOWN.has(key)) this.fail(row, key, unknownNameMessage(key, 'json'));
      }
    }
    const report = (error: FieldError | undefined, column: string, extra = ''): boolean => {
      if (!error) return true;
      this.fail(row, column, reword(error.message, column) + extra);
      return false;
    };
    const wanted = (column: string): boolean => !this.missing.has(column);

    const upn = fields.upn;
    if (wanted('upn') && report(validateUpn(upn, 'upn'), 'upn')) {
      const key = (upn as string).toLowerCase();
      const first = this.upns.get(key);
      if (first === undefined) this.upns.set(key, row);
      else {
        this.fail(row, 'upn', `"${upn as string}" is also on row ${first} (UPNs are compared without regard to case): an account can appear in a batch only once; delete row ${first} or row ${row}`);
      }
    }
    if (wanted('displayName')) report(validateDisplayName(fields.displayName, 'displayName'), 'displayName');
    if (wanted('kind')) report(validateKind(fields.kind, 'kind'), 'kind', kindHint(fields.kind));
    if (wanted('usageLocation')) report(validateUsageLocation(fields.usageLocation, 'usageLocation'), 'usageLocation');

    // What the row asks for: 'any', a fixed number (valid), or unknown (missing or invalid).
    let phoneNumber: string | undefined;
    let number: 'any' | 'fixed' | 'unknown' = 'unknown';
    const rawNumber = fields.phoneNumber;
    if (wanted('phoneNumber')) {
      if (typeof rawNumber === 'string' && rawNumber.toLowerCase() === ANY_NUMBER) {
        phoneNumber = ANY_NUMBER;
        number = 'any';
      } else if (report(validateE164(rawNumber, 'phoneNumber'), 'phoneNumber', `, or write ${ANY_NUMBER} for any free service number of the row's usageLocation country`)) {
        phoneNumber = rawNumber as string;
        number = 'fixed';
        const first = this.numbers.get(phoneNumber);
        if (first === undefined) this.numbers.set(phoneNumber, row);
        else {
          this.fail(row, 'phoneNumber', `${phoneNumber} is also on row ${first}: a number can go to one account; change one of rows ${first} and ${row} (or write ${ANY_NUMBER})`);
        }
      }
    }

    const numberCity = this.numberCity(row, fields.numberCity, number);
    const tollFree = this.tollFree(row, fields.tollFree, number);
    const association = this.association(row, fields.associateWith, fields.callPriority, fields.kind);

    if (this.errors.length > before || this.missing.size > 0) return;
    const request: BatchRowRequest = {
      upn: upn as string,
      displayName: fields.displayName as string,
      kind: fields.kind as ResourceAccountKind,
      usageLocation: fields.usageLocation as string,
      phoneNumber: phoneNumber as string,
    };
    if (numberCity !== undefined) request.numberCity = numberCity;
    if (tollFree !== undefined) request.tollFree = tollFree;
    if (association) Object.assign(request, association);
    this.valid.push({ row, request });
  }

  private numberCity(row: number, value: unknown, number: 'any' | 'fixed' | 'unknown'): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      this.fail(row, 'numberCity', `must be a city name as the number inventory writes it, e.g. Seattle, or left out for any city (got ${describe(value)})`);
      return undefined;
    }
    if (number === 'fixed') {
      this.fail(row, 'numberCity', `applies only when phoneNumber is ${ANY_NUMBER}: ${this.clear('numberCity')}, or write ${ANY_NUMBER} as the phoneNumber`);
      return undefined;
    }
    return value;
  }

  private tollFree(row: number, value: unknown, number: 'any' | 'fixed' | 'unknown'): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    let flag: boolean | undefined;
    if (this.source === 'json') {
      if (typeof value === 'boolean') flag = value;
      else this.fail(row, 'tollFree', `must be true or false, or left out for either kind of number (got ${describe(value)})`);
    } else {
      flag = parseYesNo(String(value));
      if (flag === undefined) {
        this.fail(row, 'tollFree', `"${String(value)}" is not a yes/no value: write true or false (yes/no and 1/0 work too), or leave the cell empty for either kind of number`);
      }
    }
    if (flag === undefined) return undefined;
    if (number === 'fixed') {
      this.fail(row, 'tollFree', `applies only when phoneNumber is ${ANY_NUMBER}: ${this.clear('tollFree')}, or write ${ANY_NUMBER} as the phoneNumber`);
      return undefined;
    }
    return flag;
  }

  /** `associateWith` (an auto attendant's or call queue's identity) and its `callPriority`, checked as a single request's association. */
  private association(row: number, associateWith: unknown, callPriority: unknown, kind: unknown): { associateWith: string; callPriority?: number } | undefined {
    const given = (value: unknown) => value !== undefined && value !== null && value !== '';
    if (!given(associateWith)) {
      if (given(callPriority)) this.fail(row, 'callPriority', `applies only with associateWith: ${this.clear('callPriority')}, or name the auto attendant or call queue in associateWith`);
      return undefined;
    }
    const priority = given(callPriority) ? (this.source === 'csv' && /^\s*\d+\s*$/.test(String(callPriority)) ? Number(callPriority) : callPriority) : undefined;
    const problems = validateAssociation({ configurationId: associateWith, ...(priority !== undefined ? { callPriority: priority } : {}) }, kind, 'association');
    for (const problem of problems) {
      const column = problem.field === 'association.callPriority' ? 'callPriority' : 'associateWith';
      this.fail(row, column, problem.message.replace(/^association\.(configurationId|callPriority)/, column));
    }
    if (problems.length > 0) return undefined;
    return { associateWith: associateWith as string, ...(typeof priority === 'number' ? { callPriority: priority } : {}) };
  }

  private clear(column: string): string {
    return this.source === 'csv' ? `empty the ${column} cell` : `leave out ${column}`;
  }
}

const YES = new Set(['true', 'yes', '1']);
const NO = new Set(['false', 'no', '0']);

function parseYesNo(value: string): boolean | undefined {
  const lower = value.toLowerCase();
  if (YES.has(lower)) return true;
  if (NO.has(lower)) return false;
  return undefined;
}

/**
 * The single-account validators write messages that start with the field's name; after
 * `row N, column C:` the name is said already, so it goes.
 */
function reword(message: string, column: string): string {
  if (message.startsWith(`${column} is required`)) return `a value is required${message.slice(column.length + ' is required'.length)}`;
  if (message.startsWith(`${column}: `)) return message.slice(column.length + 2);
  if (message.startsWith(`${column} is `)) return `the value is ${message.slice(column.length + ' is '.length)}`;
  if (message.startsWith(`${column} `)) return message.slice(column.length + 1);
  return message;
}

function kindHint(value: unknown): string {
  if (typeof value !== 'string') return '';
  const match = RESOURCE_ACCOUNT_KINDS.find((kind) => kind.toLowerCase() === value.toLowerCase());
  return match && match !== value ? `; write it as ${match}` : '';
}

function unknownNameMessage(name: string, source: Source): string {
  const noun = source === 'csv' ? 'column' : 'field';
  const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
  const suggestion = closestColumn(name);
  if (suggestion) {
    const caseOnly = suggestion.toLowerCase() === name.toLowerCase() ? ` (${noun} names are case-sensitive)` : '';
    return `unknown ${noun} ${shown}: did you mean ${suggestion}?${caseOnly}`;
  }
  return `unknown ${noun} ${shown}: remove it, or use one of ${BATCH_COLUMNS.join(', ')}`;
}

/** The known column a name most likely meant, if any is close enough to suggest. */
function closestColumn(name: string): string | undefined {
  const lower = name.toLowerCase().replace(/[\s_-]+/g, '');
  const alias = ALIASES.get(lower);
  if (alias) return alias;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const column of BATCH_COLUMNS) {
    const target = column.toLowerCase();
    // An abbreviation (phoneNr, city, usage) keeps the letters in order; among those, the nearest wins.
    const distance = lower.length >= 3 && isSubsequence(lower, target) ? 0.5 + editDistance(lower, target) / 100 : editDistance(lower, target);
    if (distance < bestDistance) {
      best = column;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(lower.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function isSubsequence(short: string, long: string): boolean {
  let at = 0;
  for (const c of long) if (c === short[at]) at++;
  return at === short.length;
}

/** Levenshtein distance; names are short and compared against seven columns, so the O(a·b) table is fine. */
function editDistance(a: string, b: string): number {
  if (a.length > 64) return Infinity;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? Infinity;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (value === undefined) return 'nothing';
  return `${typeof value} ${String(value)}`;
}

function grouped(count: number): string {
  return String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
