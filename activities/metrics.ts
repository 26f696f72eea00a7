/**
 * What the service clients tell the worker's metrics. The clients see only this interface; the worker
 * backs it with prom-client (worker/metrics.ts), and tests pass their own registry.
 */

/** The external service a call went to. */
export type ServiceName = 'graph' | 'teams' | 'partner-center';

export interface ServiceCallMetrics {
  /**
   * A service answered 429 (throttled) to one request. `route` is a template such as
   * `/v1.0/users/{id}` (see {@link routeTemplate}) or, for the Teams PowerShell session, the cmdlet:
   * never a raw id, UPN or number, which are personal data and would make the label unbounded.
   */
  throttled(service: ServiceName, route: string): void;
}

/** For clients built without metrics (one-off tools, tests that do not read them). */
export const NO_SERVICE_CALL_METRICS: ServiceCallMetrics = { throttled: () => undefined };

/** Path segments kept as they are: words (`users`, `assignLicense`, `microsoft.graph.user`), API versions, `$count`-style segments. */
const KEPT_SEGMENT = /^(?:v\d+(?:\.\d+)?|beta|\$[a-z]+|[A-Za-z]+(?:\.[A-Za-z]+)*)$/;
const MAX_KEPT_LENGTH = 64;

/**
 * The route of a request as a template: the query string dropped, and every path segment that is
 * not a plain word (a GUID, a UPN, a phone number, a product or operation id) replaced by `{id}`.
 * Object ids are never words, and UPNs always hold an `@`, so the templates are the code's own routes.
 */
export function routeTemplate(url: string): string {
  let path: string;
  try {
    path = new URL(url, 'https://service.invalid').pathname;
  } catch {
    return '{unparsable}';
  }
  const segments = path.split('/').map((segment) => {
    if (segment === '') return segment;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return '{id}';
    }
    // Graph's key syntax, `users('x@contoso.com')`: the function or collection name stays, the key goes.
    const keyed = /^([A-Za-z.]+)\(.*\)$/.exec(decoded);
    if (keyed?.[1] && keyed[1].length <= MAX_KEPT_LENGTH) return `${keyed[1]}({id})`;
    return decoded.length <= MAX_KEPT_LENGTH && KEPT_SEGMENT.test(decoded) ? decoded : '{id}';
  });
  return segments.join('/') || '/';
}
