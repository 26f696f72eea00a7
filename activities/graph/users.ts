/**
 * Directory lookups by UPN, and the deleted-items side of Entra (Graph users, directory/deletedItems):
 * a deleted user stays restorable for 30 days, and while it does, a deleted resource account can keep
 * its UPN from a new one.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { APPLICATION_INSTANCE_DEPARTMENT } from '../../lib/microsoft';
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
  const page = (await call({ action: `look up ${upn} in the directory`, permission: USER_READ }, () =>
    graph.api('/users').filter(encodedFilter(`userPrincipalName eq ${odataString(upn)}`)).select(USER_FIELDS).get(),
  )) as Page<DirectoryUser>;
  return (page.value ?? []).find((user) => user.userPrincipalName.toLowerCase() === upn.toLowerCase());
}

/**
 * The soft-deleted user that held this UPN, if any. Deleted items may show the UPN behind the object
 * id (`<id without dashes><upn>`), so the list is read page by page and both forms are compared.
 */
export async function findDeletedUserByUpn(graph: Client, upn: string): Promise<DirectoryUser | undefined> {
  const wanted = upn.toLowerCase();
  const first = (await call({ action: 'list the deleted users', permission: USER_READ }, () =>
    graph.api('/directory/deletedItems/microsoft.graph.user').select(DELETED_FIELDS).top(999).get(),
  )) as Page<DirectoryUser>;
  const deleted = await call({ action: 'list the deleted users', permission: USER_READ }, () => collectPages(graph, first));
  return deleted
    .filter((user) => {
      const name = user.userPrincipalName.toLowerCase();
      return name === wanted || name === `${user.id.replaceAll('-', '').toLowerCase()}${wanted}`;
    })
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
