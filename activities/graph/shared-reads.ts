/**
 * Reads the pre-flight makes for every run (the verified domains, the subscribed SKUs, the deleted
 * users, the user holding the run's UPN), shared by the pre-flights of one worker process that start together ({@link Gathering}):
 * never answered from a read that began before the caller asked.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import type { SubscribedSku } from '@microsoft/microsoft-graph-types';
import { pickSubscribedSku, readSubscribedSkus } from './licenses';
import type { DirectoryUser } from './users';
import { findUsersByUpn, latestDeletedHolding, listDeletedUsers } from './users';
import { verifiedDomains } from './organization';
import { GATHER_MS, GatheredLookups, Gathering } from '../gather';

export class TenantReads {
  private readonly domains: Gathering<string[]>;
  private readonly skus: Gathering<SubscribedSku[]>;
  private readonly deleted: Gathering<DirectoryUser[]>;
  private readonly users: GatheredLookups<DirectoryUser>;

  constructor(graph: Client, gatherMs = GATHER_MS) {
    this.domains = new Gathering(() => verifiedDomains(graph), gatherMs);
    this.skus = new Gathering(() => readSubscribedSkus(graph), gatherMs);
    this.deleted = new Gathering(() => listDeletedUsers(graph), gatherMs);
    this.users = new GatheredLookups((upns) => findUsersByUpn(graph, upns), gatherMs);
  }

  /** The tenant's verified domains, lower-cased. */
  verifiedDomains(): Promise<string[]> {
    return this.domains.join();
  }

  /** The subscription of a SKU (by id, else the resource-account SKU), as `findSubscribedSku` reads it. */
  async subscribedSku(skuId?: string): Promise<SubscribedSku | undefined> {
    return pickSubscribedSku(await this.skus.join(), skuId);
  }

  /** The most recently deleted user holding `upn`, as `findDeletedUserByUpn` finds it. */
  async deletedUserByUpn(upn: string): Promise<DirectoryUser | undefined> {
    return latestDeletedHolding(await this.deleted.join(), upn);
  }

  /** The active user holding `upn`, as `findUserByUpn` finds it (read with the UPNs others ask for meanwhile, 15 a call). */
  userByUpn(upn: string): Promise<DirectoryUser | undefined> {
    return this.users.get(upn.toLowerCase());
  }
}
