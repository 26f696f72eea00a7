/**
 * How Dialtone writes Graph queries. The Graph SDK puts query values into the URL exactly as given, and
 * Graph decodes a raw "+" as a space (Graph: query parameters, "percent-encoded as per RFC 3986"), so
 * every `$filter` is encoded here; string literals double their quotes, as OData requires.
 */
import type { Client } from '@microsoft/microsoft-graph-client';

/** An OData string literal: `o'brien` → `'o''brien'`. */
export function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A `$filter` expression ready for `GraphRequest.filter()`: percent-encoded. */
export function encodedFilter(expression: string): string {
  return encodeURIComponent(expression);
}

/** A Graph collection page. */
export interface Page<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

/** Every item of a collection, following `@odata.nextLink` until the last page (at most `maxPages`). */
export async function collectPages<T>(graph: Client, first: Page<T>, maxPages = 1000): Promise<T[]> {
  const items: T[] = [...(first.value ?? [])];
  let page = first;
  for (let pages = 1; page['@odata.nextLink'] && pages < maxPages; pages += 1) {
    page = (await graph.api(page['@odata.nextLink']).get()) as Page<T>;
    items.push(...(page.value ?? []));
  }
  return items;
}
