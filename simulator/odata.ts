/**
 * The small part of OData the simulated endpoints accept: `$select`, the `$filter` forms Microsoft
 * documents for number assignments and users, `$top`/`$skip` and `$skiptoken` paging. Anything else is
 * refused with a 400 that says what is supported, rather than silently ignored.
 */
import { badRequest } from './errors';

/**
 * Applies `$select` (case-insensitive property names, as Graph) or returns the default property set.
 * Unknown names are a 400, as on Graph.
 */
export function selectProperties(
  entity: Record<string, unknown>,
  select: unknown,
  defaults: readonly string[],
  typeName: string,
): Record<string, unknown> {
  const names = typeof select === 'string' && select.trim() !== '' ? select.split(',').map((name) => name.trim()) : defaults;
  const byLowerName = new Map(Object.keys(entity).map((key) => [key.toLowerCase(), key]));
  const result: Record<string, unknown> = {};
  for (const name of names) {
    const key = byLowerName.get(name.toLowerCase());
    if (key === undefined) throw badRequest(`Could not find a property named '${name}' on type '${typeName}'.`);
    result[key] = entity[key];
  }
  return result;
}

/** The selected names as they appear in `@odata.context`, e.g. `users(id,usageLocation)/$entity`. */
export function selectContext(select: unknown): string {
  return typeof select === 'string' && select.trim() !== '' ? `(${select.split(',').map((name) => name.trim()).join(',')})` : '';
}

export interface FilterClause {
  /** Property compared, or the collection for the `any` lambda. */
  property: string;
  /** Value compared (null for `eq null`, and for `in`, which compares `values`). */
  value: string | null;
  /** For `in`: every value listed, any of which matches. */
  values?: string[];
  /**
   * `eq`; `any` for `collection/any(c:c eq 'x')` (the collection must contain the value); `startsWith`
   * and `endsWith` for the functions of that name; `in` for `property in ('a','b')`.
   */
  operator: 'eq' | 'any' | 'startsWith' | 'endsWith' | 'in';
}

/**
 * Graph's directory allows at most 15 expressions in a filter clause with `in` without advanced queries
 * ("The maximum number of expressions in a filter clause when using the in operator is 15 items by
 * default", https://learn.microsoft.com/graph/filter-query-parameter); the answer past that, as reported
 * in microsoftgraph/microsoft-graph-docs issue 21098, is a 400 naming the count.
 */
export const MAX_IN_EXPRESSIONS = 15;

const LITERAL = "'(?:[^']|'')*'";
const CLAUSE = new RegExp(
  '\\s*(?:' +
  `(?<property>[A-Za-z]+)\\s+eq\\s+(?<value>${LITERAL}|null|true|false)` +
  `|(?<collection>[A-Za-z]+)\\/any\\((?<variable>[A-Za-z]\\w*)\\s*:\\s*\\k<variable>\\s+eq\\s+(?<item>${LITERAL})\\)` +
  `|(?<fn>startswith|endswith)\\(\\s*(?<fnProperty>[A-Za-z]+)\\s*,\\s*(?<fnValue>${LITERAL})\\s*\\)` +
  `|(?<inProperty>[A-Za-z]+)\\s+in\\s+\\(\\s*(?<inValues>${LITERAL}(?:\\s*,\\s*${LITERAL})*)\\s*\\)` +
  ')\\s*', 'iy');
const AND = /and\b/iy;

export interface FilterGrammar {
  /** Properties that may be compared with `eq`. */
  properties: readonly string[];
  /** Collections that may be searched with `any`. */
  collections?: readonly string[];
  /** Properties that may be used in `startsWith` / `endsWith`. */
  functions?: readonly string[];
  /** Properties that may be compared with `in`. */
  lists?: readonly string[];
}

/**
 * Parses `field eq 'value'`, `field in ('a','b')`, `collection/any(c:c eq 'value')`, `startsWith(field,'v')`
 * and `endsWith(field,'v')` clauses joined by `and`, allowing only what the grammar names. Quotes inside a
 * value are doubled, as OData requires (`'o''brien'`).
 */
export function parseFilter(filter: string, grammar: FilterGrammar): FilterClause[] {
  const { properties, collections = [], functions = [], lists = [] } = grammar;
  const supported = [
    ...properties.map((property) => `${property} eq '<value>'`),
    ...lists.map((property) => `${property} in ('<value>','<value>')`),
    ...collections.map((collection) => `${collection}/any(c:c eq '<value>')`),
    ...functions.flatMap((property) => [`startsWith(${property},'<value>')`, `endsWith(${property},'<value>')`]),
  ].join(', ');
  const unsupported = () => badRequest(
    `Unsupported $filter '${filter}'. The tenant simulator supports these clauses, joined by 'and': ${supported}.`, 'BadRequest');
  const named = (list: readonly string[], name: string) => list.find((candidate) => candidate.toLowerCase() === name.toLowerCase());

  const clauses: FilterClause[] = [];
  let position = 0;
  for (;;) {
    CLAUSE.lastIndex = position;
    const match = CLAUSE.exec(filter);
    if (!match?.groups) throw unsupported();
    position = CLAUSE.lastIndex;
    const { property, value, collection, item, fn, fnProperty, fnValue, inProperty, inValues } = match.groups;
    if (property !== undefined && value !== undefined) {
      const name = named(properties, property);
      if (name === undefined) throw unsupported();
      clauses.push({ property: name, value: value === 'null' ? null : value.startsWith("'") ? unquote(value) : value, operator: 'eq' });
    } else if (collection !== undefined && item !== undefined) {
      const name = named(collections, collection);
      if (name === undefined) throw unsupported();
      clauses.push({ property: name, value: unquote(item), operator: 'any' });
    } else if (fn !== undefined && fnProperty !== undefined && fnValue !== undefined) {
      const name = named(functions, fnProperty);
      if (name === undefined) throw unsupported();
      clauses.push({ property: name, value: unquote(fnValue), operator: fn.toLowerCase() === 'startswith' ? 'startsWith' : 'endsWith' });
    } else if (inProperty !== undefined && inValues !== undefined) {
      const name = named(lists, inProperty);
      if (name === undefined) throw unsupported();
      const values = [...inValues.matchAll(new RegExp(LITERAL, 'g'))].map((m) => unquote(m[0]));
      clauses.push({ property: name, value: null, values, operator: 'in' });
    }
    if (position === filter.length) return limitExpressions(clauses);
    AND.lastIndex = position;
    if (!AND.exec(filter)) throw unsupported();
    position = AND.lastIndex;
  }
}

/**
 * With an `in`, the whole filter counts: each value listed is one expression and each other clause one,
 * the least convenient reading of "15 expressions in a filter clause".
 */
function limitExpressions(clauses: FilterClause[]): FilterClause[] {
  if (!clauses.some((clause) => clause.operator === 'in')) return clauses;
  const expressions = clauses.reduce((sum, clause) => sum + (clause.values?.length ?? 1), 0);
  if (expressions > MAX_IN_EXPRESSIONS) {
    throw badRequest(`Too many child clauses specified in search filter expression containing 'OR' operators: ${expressions}. Max allowed: ${MAX_IN_EXPRESSIONS}`, 'Request_UnsupportedQuery');
  }
  return clauses;
}

function unquote(literal: string): string {
  return literal.slice(1, -1).replaceAll("''", "'");
}

/**
 * Whether an entity satisfies every clause. Strings compare exactly as sent, except that Graph compares
 * directory strings (UPNs, names) case-insensitively; a value the query string turned into something
 * else (a raw "+" decoded as a space) simply matches nothing, as on Graph.
 */
export function matchesFilter(entity: Record<string, unknown>, clauses: readonly FilterClause[], caseInsensitive: readonly string[] = []): boolean {
  return clauses.every((clause) => {
    const actual = entity[clause.property];
    if (clause.operator === 'any') {
      return Array.isArray(actual) && actual.some((entry) => typeof entry === 'string' && entry.toLowerCase() === clause.value?.toLowerCase());
    }
    const fold = caseInsensitive.includes(clause.property) ? (text: string) => text.toLowerCase() : (text: string) => text;
    if (clause.operator === 'in') return actual !== null && actual !== undefined && (clause.values ?? []).some((candidate) => fold(candidate) === fold(String(actual)));
    if (clause.value === null || actual === null || actual === undefined) return clause.value === (actual ?? null);
    const left = fold(String(actual));
    const right = fold(clause.value);
    if (clause.operator === 'startsWith') return left.startsWith(right);
    if (clause.operator === 'endsWith') return left.endsWith(right);
    return left === right;
  });
}

/** Parses `$top` (default, maximum) and `$skip`; out-of-range values are a 400. */
export function parsePaging(query: { $top?: unknown; $skip?: unknown }, defaultTop: number, maxTop: number): { top: number; skip: number } {
  const parse = (value: unknown, name: string, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    const number = Number(value);
    if (typeof value !== 'string' || !/^\d+$/.test(value) || number < min || number > max) {
      throw badRequest(`Invalid value '${String(value)}' for ${name}: use a whole number from ${min} to ${max}.`, 'BadRequest');
    }
    return number;
  };
  return {
    top: parse(query.$top, '$top', defaultTop, 1, maxTop),
    skip: parse(query.$skip, '$skip', 0, 0, Number.MAX_SAFE_INTEGER),
  };
}

/** Refuses every `$` query option but the allowed ones, naming it (Graph refuses unknown system query options). */
export function refuseOtherOptions(query: Record<string, unknown>, allowed: readonly string[]): void {
  const other = Object.keys(query).find((name) => name.startsWith('$') && !allowed.some((option) => option.toLowerCase() === name.toLowerCase()));
  if (other !== undefined) {
    throw badRequest(`The query parameter '${other}' is not supported on this resource${allowed.length > 0 ? ` (supported: ${allowed.join(', ')})` : ''}.`,
      'Request_UnsupportedQuery');
  }
}

/** An opaque `$skiptoken` for offset paging. */
export function encodeSkipToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

export function decodeSkipToken(token: string): number | undefined {
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString()) as { offset?: unknown };
    return Number.isInteger(offset) && (offset as number) >= 0 ? (offset as number) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One page of a directory list with `$top` (1–max, Graph's message otherwise) and `$skiptoken`; the
 * next link repeats the query with the next token, as Graph's `@odata.nextLink` does.
 */
export function directoryPage<T>(
  items: readonly T[],
  query: Record<string, unknown>,
  link: { base: string; path: string },
  limits: { defaultTop: number; maxTop: number },
): { value: T[]; nextLink?: string } {
  const rawTop = query.$top;
  let top = limits.defaultTop;
  if (rawTop !== undefined) {
    top = Number(rawTop);
    if (typeof rawTop !== 'string' || !/^\d+$/.test(rawTop) || top < 1 || top > limits.maxTop) {
      throw badRequest(`Invalid page size specified: '${String(rawTop)}'. Must be between 1 and ${limits.maxTop} inclusive.`);
    }
  }
  const token = query.$skiptoken;
  const offset = token === undefined ? 0 : typeof token === 'string' ? decodeSkipToken(token) : undefined;
  if (offset === undefined) throw badRequest('The $skiptoken is not valid; start the listing again without it.');
  const value = items.slice(offset, offset + top);
  if (offset + top >= items.length) return { value };
  // Option names stay as Graph writes them ($top, $skiptoken); values are percent-encoded.
  const next = Object.entries({ ...query, $top: String(top), $skiptoken: encodeSkipToken(offset + top) })
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([name, entry]) => `${name}=${encodeURIComponent(entry)}`);
  return { value, nextLink: `${link.base}${link.path}?${next.join('&')}` };
}
