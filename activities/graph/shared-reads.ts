/**
 * Tenant-wide reads the pre-flight makes for every run (the verified domains, the subscribed SKUs, the
 * deleted users), shared by the runs of one worker process: when a hundred rows of a batch start at
 * once, one read answers them all instead of a hundred identical ones.
 *
 * Sharing never answers from an older read: a caller joins the read that starts next (gathered for
 * {@link GATHER_MS}), never one already under way or done, so what it is told was read after it asked —
 * exactly what its own read would have seen. A failed read fails every caller that joined it, each of
 * which retries as it would have.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import type { SubscribedSku } from '@microsoft/microsoft-graph-types';
import { pickSubscribedSku, readSubscribedSkus } from './licenses';
import type { DirectoryUser } from './users';
import { latestDeletedHolding, listDeletedUsers } from './users';
import { verifiedDomains } from './organization';

/** How long a read waits for other callers before it starts (as the Teams adapters' lookups gather). */
export const GATHER_MS = 50;

/** One read, shared by the callers that ask for it before it starts. */
export class SharedRead<T> {
  private next: Promise<T> | undefined;

  constructor(private readonly read: () => Promise<T>, private readonly gatherMs = GATHER_MS) {}

  get(): Promise<T> {
    if (!this.next) {
      this.next = new Promise<void>((resolve) => setTimeout(resolve, this.gatherMs)).then(() => {
        this.next = undefined;
        return this.read();
      });
    }
    return this.next;
  }
}

export class TenantReads {
  private readonly domains: SharedRead<string[]>;
  private readonly skus: SharedRead<SubscribedSku[]>;
  private readonly deleted: SharedRead<DirectoryUser[]>;

  constructor(graph: Client, gatherMs = GATHER_MS) {
    this.domains = new SharedRead(() => verifiedDomains(graph), gatherMs);
    this.skus = new SharedRead(() => readSubscribedSkus(graph), gatherMs);
    this.deleted = new SharedRead(() => listDeletedUsers(graph), gatherMs);
  }

  /** The tenant's verified domains, lower-cased. */
  verifiedDomains(): Promise<string[]> {
    return this.domains.get();
  }

  /** The subscription of a SKU (by id, else the resource-account SKU), as `findSubscribedSku` reads it. */
  async subscribedSku(skuId?: string): Promise<SubscribedSku | undefined> {
    return pickSubscribedSku(await this.skus.get(), skuId);
  }

  /** The most recently deleted user holding `upn`, as `findDeletedUserByUpn` finds it. */
  async deletedUserByUpn(upn: string): Promise<DirectoryUser | undefined> {
    return latestDeletedHolding(await this.deleted.get(), upn);
  }
}
