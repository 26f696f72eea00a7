/**
 * Directory lookups by UPN, and the deleted-items side of Entra (Graph users, directory/deletedItems):
 * a deleted user stays restorable for 30 days, and while it does, a deleted resource account can keep
 * its UPN from a new one.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { APPLICATION_INSTANCE_DEPARTMENT } from '../../lib/microsoft';
import { chunks } from '../gather';
import { call } from './errors';
import { collectPages, encodedFilter, odataString } from './query';
import type { Page } from './query';

/** What Dialtone reads of a directory user. */
export interface DirectoryUser {
  id: string;
  userPrincipalName: string;
  displayName?: string | null;
  department?: string | null;
  deletedDateTime?: string | null;
  assignedLicenses?: { skuId?: string | null }[];
}

export const USER_READ = 'User.Read.All';
export const DELETE_RESTORE = 'User.DeleteRestore.All';

/** As collectPages: a guard against a list that never ends. */
const MAX_PAGES = 1000;
const USER_FIELDS = ['id', 'userPrincipalName', 'displayName', 'department', 'assignedLicenses'];
const DELETED_FIELDS = ['id', 'userPrincipalName', 'displayName', 'department', 'deletedDateTime'];

/** Entra marks the user behind a Teams application instance with this department. */
export function isApplicationInstance(user: Pick<DirectoryUser, 'department'>): boolean {
  return user.department === APPLICATION_INSTANCE_DEPARTMENT;
}

/**
 * The active user with this UPN, if any (case-insensitive). A `$filter` rather than `/users/{upn}`: it
 * needs no escaping of the path and answers an empty list, not a 404, when nobody has the UPN.
 */
export async function findUserByUpn(graph: Client, upn: string): Promise<DirectoryUser | undefined> {
  return (await findUsersByUpn(graph, [upn])).get(upn.toLowerCase());
}

/** UPNs per `userPrincipalName in (...)` read: Graph's limit without advanced queries (filter-query-parameter). */
export const UPNS_PER_READ = 15;

/**
 * The active users holding these UPNs, by lower-cased UPN: one `userPrincipalName in (...)` read per
 * {@link UPNS_PER_READ} UPNs (one UPN alone is read with `eq`, as {@link findUserByUpn}).
 */
export async function findUsersByUpn(graph: Client, upns: readonly string[]): Promise<Map<string, DirectoryUser>> {
  const wanted = [...new Set(upns.map((upn) => upn.toLowerCase()))];
  const found = new Map<string, DirectoryUser>();
  await Promise.all(chunks(wanted, UPNS_PER_READ).map(async (chunk) => {
    const filter = chunk.length === 1 ? `userPrincipalName eq ${odataString(chunk[0] as string)}` : `userPrincipalName in (${chunk.map(odataString).join(',')})`;
    const page = (await call({ action: chunk.length === 1 ? `look up ${chunk[0]} in the directory` : `look up ${chunk.length} UPNs in the directory`, permission: USER_READ }, () =>
      graph.api('/users').filter(encodedFilter(filter)).select(USER_FIELDS).top(UPNS_PER_READ).get(),
    )) as Page<DirectoryUser>;
    for (const user of page.value ?? []) {
      const key = user.userPrincipalName.toLowerCase();
      if (chunk.includes(key)) found.set(key, user);
    }
  }));
  return found;
}

/**
 * Every resource account (a user Teams marks with its department), with the `select`ed properties, read
 * page by page (999 a page); and how many pages that took.
 */
export async function listResourceAccountUsers<T>(graph: Client, select: string[]): Promise<{ users: T[]; pages: number }> {
  const ctx = { action: 'list the resource accounts', permission: USER_READ };
  let page = (await call(ctx, () =>
    graph.api('/users').filter(encodedFilter(`department eq ${odataString(APPLICATION_INSTANCE_DEPARTMENT)}`)).select(select).top(999).get(),
  )) as Page<T>;
  const users = [...(page.value ?? [])];
  let pages = 1;
  for (let next = page['@odata.nextLink']; next && pages < MAX_PAGES; next = page['@odata.nextLink']) {
    const link = next;
    page = (await call(ctx, () => graph.api(link).get())) as Page<T>;
    users.push(...(page.value ?? []));
    pages += 1;
  }
  return { users, pages };
}

/** Every soft-deleted user (Entra keeps them 30 days), read page by page. */
export async function listDeletedUsers(graph: Client): Promise<DirectoryUser[]> {
  const first = (await call({ action: 'list the deleted users', permission: USER_READ }, () =>
    graph.api('/directory/deletedItems/microsoft.graph.user').select(DELETED_FIELDS).top(999).get(),
  )) as Page<DirectoryUser>;
  return call({ action: 'list the deleted users', permission: USER_READ }, () => collectPages(graph, first));
}

/** The UPN a deleted user holds, lower-cased: deleted items may show it behind the object id (`<id without dashes><upn>`). */
export function deletedUserUpn(user: Pick<DirectoryUser, 'id' | 'userPrincipalName'>): string {
  const name = user.userPrincipalName.toLowerCase();
  const compact = user.id.replaceAll('-', '').toLowerCase();
  return name.startsWith(compact) ? name.slice(compact.length) : name;
}

/** The soft-deleted user that held this UPN, if any (the most recently deleted one). */
export async function findDeletedUserByUpn(graph: Client, upn: string): Promise<DirectoryUser | undefined> {
  return latestDeletedHolding(await listDeletedUsers(graph), upn);
}

/** Of the deleted users, the most recently deleted one holding `upn`. */
export function latestDeletedHolding(deleted: readonly DirectoryUser[], upn: string): DirectoryUser | undefined {
  const wanted = upn.toLowerCase();
  return deleted
    .filter((user) => deletedUserUpn(user) === wanted)
    .sort((a, b) => String(b.deletedDateTime ?? '').localeCompare(String(a.deletedDateTime ?? '')))[0];
}

/** Deletes a soft-deleted user permanently; it can no longer be restored. */
export async function purgeDeletedUser(graph: Client, id: string): Promise<void> {
  await call({ action: `permanently delete the deleted account ${id}`, permission: DELETE_RESTORE }, () =>
    graph.api(`/directory/deletedItems/${id}`).delete(),
  );
}

/** Restores a soft-deleted user with its properties and licenses. */
export async function restoreDeletedUser(graph: Client, id: string): Promise<void> {
  await call({ action: `restore the deleted account ${id}`, permission: DELETE_RESTORE }, () =>
    graph.api(`/directory/deletedItems/${id}/restore`).post({}),
  );
}
