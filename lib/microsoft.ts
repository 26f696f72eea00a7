/**
 * Microsoft identifiers this product depends on. Sources: shared reference notes (sections 1 and 2).
 * Pure constants, safe to import from workflow code.
 */

/** `skuPartNumber` of the "Microsoft Teams Phone Resource Account" license (formerly "Phone System - Virtual User"). */
export const RESOURCE_ACCOUNT_SKU_PART_NUMBER = 'PHONESYSTEM_VIRTUALUSER';
/** Well-known skuId of that license; looked up at run time by part number, this is only the simulator's seed. */
export const RESOURCE_ACCOUNT_SKU_ID = '440eaaa8-b3e0-484b-a8be-62870b9ba70a';
/** Service plan inside the SKU whose provisioning tells that the license reached the account. */
export const RESOURCE_ACCOUNT_SERVICE_PLAN_NAME = 'MCOEV_VIRTUALUSER';
export const RESOURCE_ACCOUNT_SERVICE_PLAN_ID = 'f47330e9-c134-43b3-9993-e7f004506889';
/** `service` value of Teams telephony plans in assignedPlans / provisionedPlans. */
export const TEAMS_TELEPHONY_SERVICE = 'MicrosoftCommunicationsOnline';

/** Department that marks a directory user as a Teams application instance (resource account). */
export const APPLICATION_INSTANCE_DEPARTMENT = 'Microsoft Communication Application Instance';

/** Teams application IDs that give a resource account its type. */
export const RESOURCE_ACCOUNT_APP_IDS = {
  autoAttendant: 'ce933385-9390-45d1-9512-c8d228074e07',
  callQueue: '11cd3e2e-fccb-42ad-ad00-878b93575e07',
} as const;

export type ResourceAccountKind = keyof typeof RESOURCE_ACCOUNT_APP_IDS;
export const RESOURCE_ACCOUNT_KINDS = Object.keys(RESOURCE_ACCOUNT_APP_IDS) as ResourceAccountKind[];

export function kindForApplicationId(applicationId: string): ResourceAccountKind | undefined {
  const entry = Object.entries(RESOURCE_ACCOUNT_APP_IDS).find(([, id]) => id === applicationId.toLowerCase());
  return entry?.[0] as ResourceAccountKind | undefined;
}

/** `-ConfigurationType` of `New-CsOnlineApplicationInstanceAssociation`: what a resource account is associated with. */
export type ConfigurationType = 'AutoAttendant' | 'CallQueue';

/** Token audience (resource) of the Teams tenant admin API ("Skype and Teams Tenant Admin API"). */
export const TEAMS_ADMIN_RESOURCE = '48ac35b8-9aa8-4d74-927d-1f4a14a0b239';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

/**
 * Token audience of the Partner Center REST API (CSP partners only); app-only tokens use the scope
 * `https://api.partnercenter.microsoft.com/.default`. https://learn.microsoft.com/partner-center/developer/partner-center-authentication
 */
export const PARTNER_CENTER_RESOURCE = 'https://api.partnercenter.microsoft.com';
