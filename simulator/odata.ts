/**
 * The small part of OData the simulated endpoints accept: `$select`, the `$filter` forms Microsoft
 * documents for number assignments, and `$top`/`$skip` paging. Anything else is refused with a 400 that
 * says what is supported, rather than silently ignored.
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
  /** Property compared with `eq`, or `capabilities` for the `any` lambda. */
  property: string;
  /** Value compared (null for `eq null`). */
  value: string | null;
  /** True for `capabilities/any(c:c eq 'x')`: the collection must contain the value. */
  any: boolean;
}

const CLAUSE = /\s*(?:(?<property>[A-Za-z]+)\s+eq\s+(?<value>'(?:[^']|'')*'|null)|(?<collection>[A-Za-z]+)\/any\((?<variable>[A-Za-z]\w*)\s*:\s*\k<variable>\s+eq\s+(?<item>'(?:[^']|'')*')\))\s*/y;
const AND = /and\b/iy;

/**
 * Parses `field eq 'value'` and `collection/any(c:c eq 'value')` clauses joined by `and`, allowing only
 * the given properties and collections.
 */
export function parseFilter(filter: string, properties: readonly string[], collections: readonly string[]): FilterClause[] {
  const supported = [
    ...properties.map((property) => `${property} eq '<value>'`),
    ...collections.map((collection) => `${collection}/any(c:c eq '<value>')`),
  ].join(', ');
  const unsupported = () => badRequest(
    `Unsupported $filter '${filter}'. The tenant simulator supports these clauses, joined by 'and': ${supported}.`, 'BadRequest');

  const clauses: FilterClause[] = [];
  let position = 0;
  for (;;) {
    CLAUSE.lastIndex = position;
    const match = CLAUSE.exec(filter);
    if (!match?.groups) throw unsupported();
    position = CLAUSE.lastIndex;
    const { property, value, collection, item } = match.groups;
    if (property !== undefined && value !== undefined) {
      const name = properties.find((candidate) => candidate.toLowerCase() === property.toLowerCase());
      if (name === undefined) throw unsupported();
      clauses.push({ property: name, value: value === 'null' ? null : unquote(value), any: false });
    } else if (collection !== undefined && item !== undefined) {
      const name = collections.find((candidate) => candidate.toLowerCase() === collection.toLowerCase());
      if (name === undefined) throw unsupported();
      clauses.push({ property: name, value: unquote(item), any: true });
    }
    if (position === filter.length) return clauses;
    AND.lastIndex = position;
    if (!AND.exec(filter)) throw unsupported();
    position = AND.lastIndex;
  }
}

function unquote(literal: string): string {
  return literal.slice(1, -1).replaceAll("''", "'");
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
