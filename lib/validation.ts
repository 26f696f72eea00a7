/**
 * Validation of the fields a caller gives for one resource account. Pure functions shared by the
 * API (400 with the field named), the batch validator and the workflow (defence in depth).
 */
import { RESOURCE_ACCOUNT_KINDS } from './microsoft';
import type { ConfigurationType, ResourceAccountKind } from './microsoft';

export interface FieldError {
  /** JSON path of the offending field, e.g. `upn` or `rows[3].phoneNumber`. */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

// RFC 5322 local part is far wider than what Entra accepts; these are Entra's rules for UPNs:
// letters, digits and . - _ ! # ^ ~ ' in the local part, no leading/trailing/double dots, a domain with a dot.
const UPN_LOCAL = /^[A-Za-z0-9!#^~'_-]+(\.[A-Za-z0-9!#^~'_-]+)*$/;
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

export function validateUpn(value: unknown, field = 'upn'): FieldError | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    return { field, message: `${field} is required: give the resource account's user principal name, e.g. aa-main@contoso.onmicrosoft.com` };
  }
  if (value !== value.trim()) return { field, message: `${field} must not start or end with spaces` };
  const at = value.lastIndexOf('@');
  if (at <= 0 || value.indexOf('@') !== at) {
    return { field, message: `${field} "${value}" is not a user principal name: use exactly one "@", as in aa-main@contoso.onmicrosoft.com` };
  }
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > 64) return { field, message: `${field}: the part before "@" is ${local.length} characters; Entra allows at most 64` };
  if (!UPN_LOCAL.test(local)) {
    return { field, message: `${field}: the part before "@" ("${local}") may contain only letters, digits and . - _ ! # ^ ~ ', with no leading, trailing or double dots` };
  }
  if (!DOMAIN.test(domain)) {
    return { field, message: `${field}: "${domain}" is not a domain name; use one of the tenant's verified domains, e.g. contoso.onmicrosoft.com` };
  }
  return undefined;
}

const E164 = /^\+[1-9]\d{6,14}$/;

export function validateE164(value: unknown, field = 'phoneNumber'): FieldError | undefined {
  if (typeof value !== 'string' || value === '') {
    return { field, message: `${field} is required: give the service number in E.164 form, e.g. +12065550100` };
  }
  if (!E164.test(value)) {
    return {
      field,
      message: `${field} "${value}" is not an E.164 number: write "+", the country code and the number with no spaces or punctuation (7 to 15 digits), e.g. +12065550100`,
    };
  }
  return undefined;
}

/** ISO 3166-1 alpha-2 codes (officially assigned), the values Entra accepts for usageLocation. */
const ISO_COUNTRIES = new Set(
  ('AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO ' +
    'JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR ' +
    'MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO ' +
    'RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV ' +
    'TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW').split(' '),
);

export function isIsoCountryCode(value: string): boolean {
  return ISO_COUNTRIES.has(value);
}

export function validateUsageLocation(value: unknown, field = 'usageLocation'): FieldError | undefined {
  if (typeof value !== 'string' || value === '') {
    return { field, message: `${field} is required: give the ISO 3166 two-letter country code where the account is used, e.g. US` };
  }
  if (!ISO_COUNTRIES.has(value)) {
    const hint = ISO_COUNTRIES.has(value.toUpperCase()) ? `; write it in capitals: ${value.toUpperCase()}` : '';
    return { field, message: `${field} "${value}" is not an ISO 3166 two-letter country code (e.g. US, GB, DE)${hint}` };
  }
  return undefined;
}

export function validateKind(value: unknown, field = 'kind'): FieldError | undefined {
  if (typeof value !== 'string' || !(RESOURCE_ACCOUNT_KINDS as string[]).includes(value)) {
    return { field, message: `${field} must be one of ${RESOURCE_ACCOUNT_KINDS.join(', ')} (got ${JSON.stringify(value ?? null)})` };
  }
  return undefined;
}

export function validateDisplayName(value: unknown, field = 'displayName'): FieldError | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    return { field, message: `${field} is required: a descriptive name such as "Main line auto attendant"` };
  }
  if (value.length > 256) return { field, message: `${field} is ${value.length} characters; Entra allows at most 256` };
  return undefined;
}

export interface ResourceAccountRequestFields {
  upn: unknown;
  displayName: unknown;
  kind: unknown;
  usageLocation: unknown;
  phoneNumber: unknown;
}

/** Validates one account request; `prefix` is prepended to field names (e.g. `rows[3].`). */
export function validateResourceAccountRequest(fields: ResourceAccountRequestFields, prefix = ''): FieldError[] {
  return [
    validateUpn(fields.upn, `${prefix}upn`),
    validateDisplayName(fields.displayName, `${prefix}displayName`),
    validateKind(fields.kind, `${prefix}kind`),
    validateUsageLocation(fields.usageLocation, `${prefix}usageLocation`),
    validateE164(fields.phoneNumber, `${prefix}phoneNumber`),
  ].filter((e): e is FieldError => e !== undefined);
}

/** `configurationType` of an association: the one that fits each kind of resource account. */
export const CONFIGURATION_TYPE_FOR_KIND = { autoAttendant: 'AutoAttendant', callQueue: 'CallQueue' } as const satisfies Record<ResourceAccountKind, ConfigurationType>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The optional association of a request: `{ configurationId, configurationType?, callPriority? }`. The
 * type must fit the account's kind (an auto-attendant account goes to an auto attendant, a call-queue
 * account to a call queue: Microsoft365DSC and Teams docs); `callPriority` is 1 (highest) to 5.
 */
export function validateAssociation(value: unknown, kind: unknown, field = 'association'): FieldError[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ field, message: `${field} must be an object such as {"configurationId": "<the auto attendant's or call queue's identity, a GUID>"}` }];
  }
  const { configurationId, configurationType, callPriority, ...rest } = value as Record<string, unknown>;
  const problems: FieldError[] = Object.keys(rest).map((key) => ({
    field: `${field}.${key}`, message: `unknown field "${field}.${key}": remove it (accepted: configurationId, configurationType, callPriority)`,
  }));
  if (typeof configurationId !== 'string' || !GUID.test(configurationId)) {
    problems.push({
      field: `${field}.configurationId`,
      message: `${field}.configurationId must be the identity (a GUID) of an existing auto attendant or call queue: ` +
        'Get-CsAutoAttendant | Select Identity, Name (or Get-CsCallQueue), or the Teams admin center > Voice > Auto attendants / Call queues',
    });
  }
  const fits = typeof kind === 'string' && kind in CONFIGURATION_TYPE_FOR_KIND ? CONFIGURATION_TYPE_FOR_KIND[kind as keyof typeof CONFIGURATION_TYPE_FOR_KIND] : undefined;
  if (configurationType !== undefined && configurationType !== 'AutoAttendant' && configurationType !== 'CallQueue') {
    problems.push({ field: `${field}.configurationType`, message: `${field}.configurationType must be AutoAttendant or CallQueue (or leave it out: it follows kind)` });
  } else if (configurationType !== undefined && fits !== undefined && configurationType !== fits) {
    problems.push({
      field: `${field}.configurationType`,
      message: `${field}.configurationType is ${String(configurationType)} but a ${String(kind)} resource account can only be associated with a${fits === 'AutoAttendant' ? 'n auto attendant (AutoAttendant)' : ' call queue (CallQueue)'}: change kind or configurationType`,
    });
  }
  if (callPriority !== undefined && !(typeof callPriority === 'number' && Number.isInteger(callPriority) && callPriority >= 1 && callPriority <= 5)) {
    problems.push({ field: `${field}.callPriority`, message: `${field}.callPriority must be a whole number from 1 (highest) to 5 (lowest); Teams' default is 3` });
  }
  return problems;
}

/**
 * What to do when a soft-deleted account (kept 30 days in Entra's deleted users) holds the UPN being
 * provisioned: `stop` and ask a person (the default), `restore` the deleted account and adopt it, or
 * `purge` it (delete it permanently) and create a new one.
 */
export const DELETED_ACCOUNT_POLICIES = ['stop', 'restore', 'purge'] as const;
export type DeletedAccountPolicy = (typeof DELETED_ACCOUNT_POLICIES)[number];

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/**
 * The range of every numeric option of a request, in ms: enforced by the API (400) and by the workflow,
 * which fails the run at once on a value out of range (never a workflow task), so a deadline is always a
 * valid date. The workflow accepts shorter values down to {@link WORKFLOW_MINIMUM_MS} (rehearsals and
 * tests on a real server); callers of the API get the documented minimum.
 */
export const OPTION_RANGES = {
  propagationTimeoutMs: { min: MINUTE_MS, max: 14 * DAY_MS, default: 2 * DAY_MS, what: 'between 1 minute and 14 days' },
  attentionTimeoutMs: { min: MINUTE_MS, max: 90 * DAY_MS, default: 7 * DAY_MS, what: 'between 1 minute and 90 days' },
  licenseRecheckIntervalMs: { min: 10_000, max: DAY_MS, default: 5 * MINUTE_MS, what: 'between 10 seconds and 1 day' },
} as const;
export type NumericOption = keyof typeof OPTION_RANGES;

export const WORKFLOW_MINIMUM_MS = 1000;

/** Validates a request's `options` object; unknown keys are errors naming the accepted ones. */
export function validateProvisionOptions(options: unknown, prefix = 'options.', minimums: 'documented' | 'workflow' = 'documented'): FieldError[] {
  if (options === undefined) return [];
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return [{ field: prefix.replace(/\.$/, ''), message: 'options must be an object (or left out)' }];
  }
  const accepted = [...Object.keys(OPTION_RANGES), 'onDeletedAccount'];
  const problems: FieldError[] = [];
  for (const [key, value] of Object.entries(options)) {
    const field = `${prefix}${key}`;
    if (key === 'onDeletedAccount') {
      if (value !== undefined && !(DELETED_ACCOUNT_POLICIES as readonly unknown[]).includes(value)) {
        problems.push({ field, message: `${field} must be one of ${DELETED_ACCOUNT_POLICIES.join(', ')}` });
      }
    } else if (key in OPTION_RANGES) {
      const range = OPTION_RANGES[key as NumericOption];
      const min = minimums === 'documented' ? range.min : WORKFLOW_MINIMUM_MS;
      if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > range.max)) {
        problems.push({ field, message: `${field} must be a whole number of milliseconds ${range.what} (${range.min}–${range.max}); got ${JSON.stringify(value)?.slice(0, 40)}` });
      }
    } else {
      problems.push({ field, message: `unknown option "${key.slice(0, 60)}": remove it (accepted: ${accepted.join(', ')})` });
    }
  }
  return problems;
}

/**
 * The range of every batch option; the API refuses values outside them (400) and the batch workflow
 * fails at once on them. Durations in ms.
 */
export const BATCH_OPTION_RANGES = {
  concurrency: { min: 1, max: 2000, default: 200, what: 'a whole number between 1 and 2000', integer: true },
  quarantineRatio: { min: 0.05, max: 1, default: 0.5, what: 'a fraction between 0.05 and 1', integer: false },
  quarantineWindow: { min: 2, max: 1000, default: 10, what: 'a whole number between 2 and 1000', integer: true },
  licenseRecheckIntervalMs: { min: 10_000, max: DAY_MS, default: 5 * MINUTE_MS, what: 'a whole number of milliseconds between 10 seconds and 1 day', integer: true },
  maxHistoryEvents: { min: 50, max: 40_000, default: 5000, what: 'a whole number between 50 and 40000', integer: true },
  retryWindowMs: { min: 0, max: 90 * DAY_MS, default: 7 * DAY_MS, what: 'a whole number of milliseconds between 0 and 90 days', integer: true },
} as const;
export type BatchNumericOption = keyof typeof BATCH_OPTION_RANGES;

/** Validates a batch's `options` (its `rowOptions` as a single request's options); unknown keys are errors. */
export function validateBatchOptions(options: unknown, prefix = 'options.', minimums: 'documented' | 'workflow' = 'documented'): FieldError[] {
  if (options === undefined) return [];
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return [{ field: prefix.replace(/\.$/, ''), message: 'options must be an object (or left out)' }];
  }
  const accepted = [...Object.keys(BATCH_OPTION_RANGES), 'rowOptions'];
  const problems: FieldError[] = [];
  for (const [key, value] of Object.entries(options)) {
    const field = `${prefix}${key}`;
    if (key === 'rowOptions') {
      problems.push(...validateProvisionOptions(value, `${field}.`, minimums));
    } else if (key in BATCH_OPTION_RANGES) {
      const range = BATCH_OPTION_RANGES[key as BatchNumericOption];
      const min = minimums === 'workflow' && key.endsWith('Ms') ? Math.min(range.min, WORKFLOW_MINIMUM_MS) : range.min;
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value)) || value < min || value > range.max)) {
        problems.push({ field, message: `${field} must be ${range.what}; got ${JSON.stringify(value)?.slice(0, 40)}` });
      }
    } else {
      problems.push({ field, message: `unknown option "${key.slice(0, 60)}": remove it (accepted: ${accepted.join(', ')})` });
    }
  }
  return problems;
}
