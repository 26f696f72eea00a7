/**
 * What the simulated tenant can hold: the license catalog and the default seed (licenses, number
 * inventory, a few ordinary users). Identifiers of Microsoft products are the real ones so a client that
 * hard-codes them behaves as it would against a real tenant.
 */
import {
  RESOURCE_ACCOUNT_SERVICE_PLAN_ID,
  RESOURCE_ACCOUNT_SERVICE_PLAN_NAME,
  RESOURCE_ACCOUNT_SKU_ID,
  RESOURCE_ACCOUNT_SKU_PART_NUMBER,
  TEAMS_TELEPHONY_SERVICE,
} from '../lib/microsoft';
import type { ConfigurationType } from '../lib/microsoft';

export interface ServicePlanDefinition {
  servicePlanId: string;
  servicePlanName: string;
  /** `service` value in assignedPlans / provisionedPlans. */
  service: string;
  /** Feature Teams lists in the user configuration's `featureTypes` once the plan has reached Teams. */
  teamsFeature?: TeamsFeature;
}

/** Teams features that matter for number assignment. */
export type TeamsFeature = 'PhoneSystemVirtualUser' | 'PhoneSystem' | 'Teams';

export interface SkuDefinition {
  skuId: string;
  skuPartNumber: string;
  servicePlans: readonly ServicePlanDefinition[];
}

/** SKUs the simulator knows; `/_simulator/licenses/purchase` can add any of them to the tenant. */
export const SKU_CATALOG: readonly SkuDefinition[] = [
  {
    skuId: RESOURCE_ACCOUNT_SKU_ID,
    skuPartNumber: RESOURCE_ACCOUNT_SKU_PART_NUMBER,
    servicePlans: [{
      servicePlanId: RESOURCE_ACCOUNT_SERVICE_PLAN_ID,
      servicePlanName: RESOURCE_ACCOUNT_SERVICE_PLAN_NAME,
      service: TEAMS_TELEPHONY_SERVICE,
      teamsFeature: 'PhoneSystemVirtualUser',
    }],
  },
  {
    // Office 365 E3: the unrelated subscription every real tenant has next to the telephony add-ons.
    skuId: '6fd2c87f-b296-42f0-b197-1e91e994b900',
    skuPartNumber: 'ENTERPRISEPACK',
    servicePlans: [
      { servicePlanId: 'efb87545-963c-4e0d-99df-69c6916d9eb0', servicePlanName: 'EXCHANGE_S_ENTERPRISE', service: 'exchange' },
      { servicePlanId: '5dbe027f-2339-4123-9542-606e4d348a72', servicePlanName: 'SHAREPOINTENTERPRISE', service: 'SharePoint' },
      { servicePlanId: '0feaeb32-d00e-4d66-bd5a-43b5b83db82c', servicePlanName: 'MCOSTANDARD', service: TEAMS_TELEPHONY_SERVICE },
      { servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929', servicePlanName: 'TEAMS1', service: 'TeamspaceAPI', teamsFeature: 'Teams' },
    ],
  },
  {
    // Teams Phone Standard: the user-side telephony license (not for resource accounts).
    skuId: 'e43b5b99-8dfb-405f-9987-dc307f34bcbd',
    skuPartNumber: 'MCOEV',
    servicePlans: [{
      servicePlanId: '4828c8ec-dc2e-4779-b502-87ac9ce28ab7',
      servicePlanName: 'MCOEV',
      service: TEAMS_TELEPHONY_SERVICE,
      teamsFeature: 'PhoneSystem',
    }],
  },
];

export function catalogSku(skuPartNumber: string): SkuDefinition | undefined {
  return SKU_CATALOG.find((sku) => sku.skuPartNumber.toLowerCase() === skuPartNumber.toLowerCase());
}

/**
 * `subscribedSku.capabilityStatus` (Graph docs, subscribedSku resource): Enabled; Warning (expired, in its
 * grace period); Suspended (cancelled, can be reactivated); LockedOut (cannot be used); Deleted.
 */
export type CapabilityStatus = 'Enabled' | 'Warning' | 'Suspended' | 'LockedOut' | 'Deleted';
export const CAPABILITY_STATUSES: readonly CapabilityStatus[] = ['Enabled', 'Warning', 'Suspended', 'LockedOut', 'Deleted'];

/** Units the tenant owns of one SKU at start. */
export interface LicenseSeed {
  /** A part number from {@link SKU_CATALOG}, e.g. `PHONESYSTEM_VIRTUALUSER`. */
  skuPartNumber: string;
  /** Units of the subscription; reported under `prepaidUnits` according to the status. */
  units: number;
  /** Default `Enabled`. */
  capabilityStatus?: CapabilityStatus;
}

export type NumberType = 'callingPlan' | 'directRouting' | 'operatorConnect';
export const NUMBER_TYPES: readonly NumberType[] = ['callingPlan', 'directRouting', 'operatorConnect'];
export type NumberCapability = 'userAssignment' | 'conferenceAssignment' | 'voiceApplicationAssignment' | 'teamsPhoneMobile';
export const NUMBER_CAPABILITIES: readonly NumberCapability[] = [
  'userAssignment', 'conferenceAssignment', 'voiceApplicationAssignment', 'teamsPhoneMobile',
];
/** Calling Plan service numbers: what auto attendants and call queues need. */
export const SERVICE_NUMBER_CAPABILITIES: readonly NumberCapability[] = ['voiceApplicationAssignment', 'conferenceAssignment'];
/** Subscriber numbers: people only. */
export const USER_NUMBER_CAPABILITIES: readonly NumberCapability[] = ['userAssignment'];

/** One telephone number acquired by the tenant (all seeded numbers are activated and unassigned). */
export interface NumberSeed {
  /** E.164 with "+". */
  telephoneNumber: string;
  /** Default `callingPlan`. */
  numberType?: NumberType;
  /** Default: service-number capabilities (voiceApplicationAssignment + conferenceAssignment). */
  capabilities?: readonly NumberCapability[];
  /** ISO 3166 alpha-2 country of the number. */
  isoCountryCode: string;
  /** Null for toll-free numbers. */
  city?: string | null;
}

/** An existing directory user at start. */
export interface UserSeed {
  userPrincipalName: string;
  displayName: string;
  /** Set to make the user a Teams application instance (resource account) of that application. */
  applicationId?: string;
  usageLocation?: string;
  /** Part numbers of SKUs the user already holds (fully provisioned). */
  licenses?: readonly string[];
}

function range(count: number, make: (index: number) => NumberSeed): NumberSeed[] {
  return Array.from({ length: count }, (_, index) => make(index));
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/**
 * 55 Calling Plan service numbers and 10 user numbers, all in ranges reserved for fiction
 * (NANP 555-01xx, Ofcom's 020 7946 0xxx drama range).
 */
export const DEFAULT_NUMBERS: readonly NumberSeed[] = [
  ...range(30, (i) => ({ telephoneNumber: `+120655501${pad(i, 2)}`, isoCountryCode: 'US', city: 'Seattle' })),
  ...range(10, (i) => ({ telephoneNumber: `+183355501${pad(i, 2)}`, isoCountryCode: 'US', city: null })),
  ...range(15, (i) => ({ telephoneNumber: `+44207946${pad(i, 4)}`, isoCountryCode: 'GB', city: 'London' })),
  ...range(10, (i) => ({
    telephoneNumber: `+142555501${pad(50 + i, 2)}`,
    isoCountryCode: 'US',
    city: 'Redmond',
    capabilities: USER_NUMBER_CAPABILITIES,
  })),
];

/** An auto attendant or call queue that already exists in the tenant (made with New-CsAutoAttendant / New-CsCallQueue). */
export interface VoiceAppSeed {
  identity: string;
  name: string;
  configurationType: ConfigurationType;
}

/**
 * Auto attendants and call queues of the seeded tenant, to associate resource accounts with. Identities
 * are GUIDs, as `Get-CsAutoAttendant` / `Get-CsCallQueue` show them.
 */
export const DEFAULT_VOICE_APPS: readonly VoiceAppSeed[] = [
  { identity: 'f7a821dc-2d69-5ae8-8525-bcb4a4556093', name: 'Main line', configurationType: 'AutoAttendant' },
  { identity: '3e2c6a1b-9f0d-4c57-8b2e-7a6d5c4b3a21', name: 'After hours', configurationType: 'AutoAttendant' },
  { identity: '8c1d9e2f-4a3b-4c6d-9e8f-1a2b3c4d5e6f', name: 'Sales', configurationType: 'CallQueue' },
  { identity: '5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d', name: 'Support', configurationType: 'CallQueue' },
];

export const DEFAULT_LICENSES: readonly LicenseSeed[] = [
  { skuPartNumber: RESOURCE_ACCOUNT_SKU_PART_NUMBER, units: 25 },
  { skuPartNumber: 'ENTERPRISEPACK', units: 25 },
];

/** Ordinary people, so the directory and the E3 subscription are not empty. */
export function defaultUsers(domain: string): UserSeed[] {
  return [
    { userPrincipalName: `AdeleV@${domain}`, displayName: 'Adele Vance', usageLocation: 'US', licenses: ['ENTERPRISEPACK'] },
    { userPrincipalName: `MeganB@${domain}`, displayName: 'Megan Bowen', usageLocation: 'US', licenses: ['ENTERPRISEPACK'] },
  ];
}
