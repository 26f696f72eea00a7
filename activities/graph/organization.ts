/** The tenant's organization object, as Graph reads it. */
import type { Client } from '@microsoft/microsoft-graph-client';
import { call } from './errors';

/** The tenant's verified domains (Graph: organization.verifiedDomains; Organization.Read.All). */
export async function verifiedDomains(graph: Client): Promise<string[]> {
  const body = (await call({ action: "read the tenant's verified domains", permission: 'Organization.Read.All' }, () =>
    graph.api('/organization').select(['verifiedDomains']).get(),
  )) as { value?: Array<{ verifiedDomains?: Array<{ name?: string }> }> };
  return (body.value ?? []).flatMap((org) => org.verifiedDomains ?? []).map((d) => (d.name ?? '').toLowerCase()).filter(Boolean);
}
