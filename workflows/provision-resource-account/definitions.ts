/**
 * Public contract of the provisionResourceAccount workflow: shared by the workflow, the worker and
 * the API. Pure types and Temporal message definitions only (safe inside the workflow sandbox).
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ActivityOptions, Sinks } from '@temporalio/workflow';
import { NEEDS_PERSON_ERROR_TYPES } from '../../lib/error-types';
import type { ConfigurationType, ResourceAccountKind } from '../../lib/microsoft';
import type { DeletedAccountPolicy } from '../../lib/validation';
import type { NotifyRequest, SentNotification } from '../notification/definitions';

export type { DeletedAccountPolicy, ResourceAccountKind };

export const TASK_QUEUE = 'dialtone-provisioning';
/** Workflow type name, as registered by the worker (the exported function's name). */
export const PROVISION_WORKFLOW_TYPE = 'provisionResourceAccount';

export type PhoneNumberType = 'callingPlan';

/** Tunables for one run; all optional, defaults below. */
export interface ProvisionOptions {
  /** How long the license may take to propagate to Teams before asking an operator, in ms. Default 48 h. */
  propagationTimeoutMs?: number;
  /** How long a needs-attention run waits for a decision before it gives up, in ms. Default 7 days. */
  attentionTimeoutMs?: number;
  /**
   * When a deleted account (kept 30 days in Entra's deleted users) holds the UPN: `stop` and ask,
   * `restore` it and use it, or `purge` it and create a new one. Default: the worker's setting (stop).
   */
  onDeletedAccount?: DeletedAccountPolicy;
  /**
   * While a run waits for licenses (none free), how often it looks at the stock again and continues by
   * itself once enough are free, in ms. Default 5 minutes.
   */
  licenseRecheckIntervalMs?: number;
}

/** An existing auto attendant or call queue the account is associated with after its number (optional). */
export interface AssociationRequest {
  /** Identity (GUID) of the auto attendant or call queue. */
  configurationId: string;
  /** Follows the account's kind when absent. */
  configurationType?: ConfigurationType;
  /** 1 (highest) to 5; Teams' default 3. */
  callPriority?: number;
}

export interface ProvisionResourceAccountInput {
  /** Directory (tenant) id the account is created in; part of the workflow id. */
  tenantId: string;
  upn: string;
  displayName: string;
  kind: ResourceAccountKind;
  /** ISO 3166 two-letter country code; should match the phone number's country. */
  usageLocation: string;
  /** Calling Plan service number in E.164. */
  phoneNumber: string;
  phoneNumberType?: PhoneNumberType;
  /** Associate the account with this auto attendant or call queue once it has its number. */
  association?: AssociationRequest;
  /** Set when the run is a row of a batch. */
  batchId?: string;
  options?: ProvisionOptions;
  /**
   * Where to POST a CloudEvent when the run needs attention and when it ends (the request's URL, or
   * for a row of a batch the batch's). In workflow history: no secrets in it.
   */
  notify?: NotifyRequest;
}

export type StepName = 'preflight' | 'createAccount' | 'assignLicense' | 'waitForLicense' | 'assignNumber' | 'associate';
export const STEP_NAMES: readonly StepName[] = ['preflight', 'createAccount', 'assignLicense', 'waitForLicense', 'assignNumber', 'associate'];

/** The steps of a run: the association step only when the request names one. */
export function stepsOf(input: Pick<ProvisionResourceAccountInput, 'association'>): StepName[] {
  return STEP_NAMES.filter((name) => name !== 'associate' || input.association !== undefined);
}

/** Human wording of each step, used in activity summaries and the status. */
export const STEP_TITLES: Record<StepName, string> = {
  preflight: 'Pre-flight checks: licenses, UPN, number (no changes)',
  createAccount: 'Create resource account',
  assignLicense: 'Set usage location and assign license',
  waitForLicense: 'Wait for license to reach Teams',
  assignNumber: 'Assign service number',
  associate: 'Associate with the auto attendant or call queue',
};

/** The steps that change the tenant, with the wording of their undo (activity summaries during a roll-back). */
export const UNDO_TITLES = {
  createAccount: 'Undo: delete resource account',
  assignLicense: 'Undo: remove license',
  assignNumber: 'Undo: unassign service number',
  associate: 'Undo: remove the association',
} as const satisfies Partial<Record<StepName, string>>;

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'undone';

export interface StepProgress {
  name: StepName;
  title: string;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  /** Checks or tries the step took, where known (waits report how many times they looked). */
  attempts?: number;
  /** Last error seen by the step, type and message (never secrets). */
  lastError?: StepError;
  /** One line on what the step found or did. */
  detail?: string;
}

export interface StepError {
  type: string;
  message: string;
  /** Set by the pre-flight: every problem it found, each with the request field to change. */
  problems?: Array<{ type: string; field: string; message: string }>;
}

export const PROVISIONING_STATES = [
  'running',
  'needs-attention',
  'rolling-back',
  'completed',
  'rolled-back',
  'abandoned',
  'cancelled',
] as const;
export type ProvisioningState = (typeof PROVISIONING_STATES)[number];

export const TERMINAL_STATES: readonly ProvisioningState[] = ['completed', 'rolled-back', 'abandoned', 'cancelled'];

export interface ProvisionResourceAccountStatus {
  workflowId: string;
  state: ProvisioningState;
  currentStep?: StepName;
  steps: StepProgress[];
  /** Entra object id of the resource account, once known. */
  accountId?: string;
  /** True when an existing account of the right type was adopted instead of created. */
  adopted?: boolean;
  request: ProvisionResourceAccountInput;
  /** Set while state is needs-attention: what failed and what the operator can decide. */
  attention?: {
    step: StepName;
    /** True when it is the step's undo (during a roll-back) that failed. */
    undo?: boolean;
    error: StepError;
    since: string;
    deadline: string;
    allowedDecisions: Decision[];
    /** One line: what the run waits for. */
    waitingFor: string;
    /** How to decide: the exact commands (CLI and REST), one per allowed decision. */
    howToDecide: string[];
    /** Set when the run also checks by itself whether it can go on (e.g. licenses bought) and continues when so. */
    autoRetry?: {
      what: string;
      intervalMs: number;
      checks: number;
      lastCheckAt?: string;
      lastResult?: string;
      nextCheckAt: string;
    };
    /** Set while waiting for licenses (from 2026-11 on): how to get them, and an approved purchase's progress. */
    purchase?: LicensePurchaseState;
  };
  /**
   * What this run did that is still in the tenant after it stopped short: set when a roll-back could not
   * finish or the run was abandoned, one line per item, newest first.
   */
  leftBehind?: string[];
  /** Decisions taken so far, oldest first: an operator's, or the run's own (`by: "dialtone"`, automatic). */
  decisions: DecisionRecord[];
  /** When a cancellation was requested; during a roll-back the roll-back finishes first. */
  cancelRequestedAt?: string;
  /** One line on how the run ended, once it has. */
  outcome?: string;
  /** Events sent to receivers (notifications), oldest first, each with the workflow that delivers it. */
  notifications?: SentNotification[];
  startedAt: string;
  endedAt?: string;
}

export type ProvisionResourceAccountOutput = ProvisionResourceAccountStatus;

/** A run's latest error, type and message: what it waits on, else the newest step's last error. */
export function latestError(status: Pick<ProvisionResourceAccountStatus, 'attention' | 'steps'>): { type: string; message: string } | undefined {
  const error = status.attention?.error ?? [...status.steps].reverse().find((step) => step.lastError)?.lastError;
  return error ? { type: error.type, message: error.message } : undefined;
}

export type Decision = 'retry' | 'rollback' | 'abandon';
export const DECISIONS: readonly Decision[] = ['retry', 'rollback', 'abandon'];

export interface DecisionInput {
  decision: Decision;
  /** Who decided and why, kept in the status for the audit trail. */
  reason?: string;
  /**
   * Who decided, kept in the status for the audit trail: a name the caller gives, or the API's
   * record of the caller (a token fingerprint, never the token, or `anonymous`).
   */
  by?: string;
  /**
   * With `retry` when a deleted account holds the UPN (error DeletedAccountHoldsUpn): restore that
   * account and use it, or purge it and create a new one.
   */
  onDeletedAccount?: Exclude<DeletedAccountPolicy, 'stop'>;
}

export interface DecisionRecord extends DecisionInput {
  by: string;
  at: string;
  /** The step whose failure (or undo failure) the decision answered. */
  step: StepName;
  /** True when the run decided by itself: a deadline passed, or what it waited for appeared. */
  automatic?: boolean;
}

/** Who the run names as the decider of its own automatic decisions. */
export const AUTOMATIC_DECIDER = 'dialtone';

export interface DecisionOutput {
  accepted: true;
  state: ProvisioningState;
}

export const getStatusQuery = defineQuery<ProvisionResourceAccountStatus>('getStatus');
export const decideUpdate = defineUpdate<DecisionOutput, [DecisionInput]>('decide');

/** Custom search attributes, kept current so operators can filter in the Temporal Web UI. */
export const searchAttributes = {
  state: defineSearchAttributeKey('DialtoneState', 'KEYWORD'),
  step: defineSearchAttributeKey('DialtoneStep', 'KEYWORD'),
  upn: defineSearchAttributeKey('DialtoneUpn', 'KEYWORD'),
  phoneNumber: defineSearchAttributeKey('DialtonePhoneNumber', 'KEYWORD'),
  batchId: defineSearchAttributeKey('DialtoneBatchId', 'KEYWORD'),
  /** While the run needs attention: the type of what stops it (e.g. PreflightFailed, LicensesInsufficient); absent otherwise. */
  attention: defineSearchAttributeKey('DialtoneAttention', 'KEYWORD'),
} as const;
export const ALL_SEARCH_ATTRIBUTES = Object.values(searchAttributes);

/** The one line operators see for a run in the Temporal Web UI's list (the workflow's static summary). */
export function provisioningSummary(input: Pick<ProvisionResourceAccountInput, 'kind' | 'upn' | 'phoneNumber' | 'usageLocation'>): string {
  const kind = input.kind === 'callQueue' ? 'Call queue' : 'Auto attendant';
  return `${kind} ${input.upn.toLowerCase()} → ${input.phoneNumber} (${input.usageLocation})`;
}

/** The run's fixed details in the Web UI (markdown): what was asked, and where to follow it. */
export function provisioningDetails(input: Pick<ProvisionResourceAccountInput, 'kind' | 'upn' | 'displayName' | 'phoneNumber' | 'usageLocation'>): string {
  const kind = input.kind === 'callQueue' ? 'call queue' : 'auto attendant';
  const upn = input.upn.toLowerCase();
  return [
    `Provision the ${kind} resource account \`${upn}\` ("${input.displayName}") with the Calling Plan service number ` +
      `\`${input.phoneNumber}\`, usage location ${input.usageLocation}.`,
    '',
    'Where it stands and what to do: **Current Details** below. From a terminal: ' +
      `\`dialtone status ${upn}\`; over REST: \`GET /v1/resource-accounts/${encodeURIComponent(upn)}\`.`,
  ].join('\n');
}

/** One run per tenant and account: a second request for the same UPN joins the existing run. */
export function resourceAccountWorkflowId(tenantId: string, upn: string): string {
  return `resource-account:${tenantId.toLowerCase()}:${upn.toLowerCase()}`;
}

/** The request fields that define the account. */
export const ACCOUNT_REQUEST_FIELDS = ['upn', 'displayName', 'kind', 'usageLocation', 'phoneNumber', 'phoneNumberType', 'association'] as const;

/** The account-defining fields in which two requests differ; a second request that differs is a conflict. */
export function differingRequestFields(a: ProvisionResourceAccountInput, b: ProvisionResourceAccountInput): Array<(typeof ACCOUNT_REQUEST_FIELDS)[number]> {
  return ACCOUNT_REQUEST_FIELDS.filter((field) => {
    if (field === 'upn') return a.upn.toLowerCase() !== b.upn.toLowerCase();
    if (field === 'phoneNumberType') return (a.phoneNumberType ?? 'callingPlan') !== (b.phoneNumberType ?? 'callingPlan');
    if (field === 'association') return associationKey(a) !== associationKey(b);
    return a[field] !== b[field];
  });
}

/** An association as compared between two requests: the target and priority, the type following the kind. */
function associationKey(input: ProvisionResourceAccountInput): string {
  const a = input.association;
  return a ? `${a.configurationId.toLowerCase()}/${a.callPriority ?? 3}` : '';
}

// ---- license purchase (while a run waits for licenses) --------------------------------------------

/** What buying the missing licenses takes, as the worker's procurement adapter describes it. */
export interface LicensePurchaseState {
  /** `manual`: a person buys in the admin center; `partner-center`: an approval lets Dialtone buy. */
  kind: 'manual' | 'partner-center';
  canPurchase: boolean;
  shortfall: number;
  instructions: string;
  offer?: { via: 'subscription-quantity' | 'cart'; productTitle: string; subscriptionId?: string; currentQuantity?: number; catalogItemId?: string; units: number };
  ceilings?: { perBatch: number; perDay: number; usedToday: number; leftToday: number; day: string };
  /** Approvals so far, oldest first, each with what came of it. */
  approvals?: LicensePurchaseApproval[];
}

export interface LicensePurchaseApproval {
  units: number;
  by: string;
  reason?: string;
  at: string;
  /** buying: the purchase activity runs; bought: Partner Center took the order; failed: see error (nothing bought). */
  state: 'buying' | 'bought' | 'failed';
  result?: string;
  error?: { type: string; message: string };
}

export interface ApproveLicensePurchaseInput {
  /** Units to buy: at least the shortfall, at most the ceilings. */
  units: number;
  /** Who approved (kept in the status): a name, or the API's record of the caller. */
  by?: string;
  reason?: string;
}
export interface ApproveLicensePurchaseOutput {
  accepted: true;
  units: number;
}

/** An accepted approval as the status records it, the purchase still to be made (a run's and a batch's alike). */
export function acceptedApproval(input: ApproveLicensePurchaseInput): LicensePurchaseApproval {
  return {
    units: input.units,
    by: input.by ?? 'unnamed caller',
    ...(input.reason ? { reason: input.reason } : {}),
    at: new Date().toISOString(),
    state: 'buying',
  };
}

/**
 * The purchase an operator approved (a run's or a batch's), through Partner Center: heartbeats while it
 * polls an accepted change, retried for an hour; a retry repeats the plan the purchase ledger holds, so it
 * never buys twice. What a person must settle (a ceiling, a refused app, no offer) is not retried.
 */
export const LICENSE_PURCHASE_CALL: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  scheduleToCloseTimeout: '1 hour',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    nonRetryableErrorTypes: [
      ...NEEDS_PERSON_ERROR_TYPES,
      'PurchaseNotSupported', 'PurchaseCeilingExceeded', 'PurchaseDenied', 'PurchaseOfferNotFound', 'PurchaseRejected', 'InvalidInput',
    ],
  },
};

/** An operator's explicit approval to buy licenses through Partner Center while the run waits for them. */
export const approveLicensePurchaseUpdate = defineUpdate<ApproveLicensePurchaseOutput, [ApproveLicensePurchaseInput]>('approveLicensePurchase');

/**
 * Checks an approval against what the run knows (the ceilings are enforced again, durably, by the
 * purchase ledger); returns the problem, naming the field and the fix, or undefined.
 */
export function licensePurchaseApprovalProblem(purchase: LicensePurchaseState | undefined, input: ApproveLicensePurchaseInput, buying: boolean): string | undefined {
  if (!purchase) return 'no purchase can be approved: the run is not waiting for licenses';
  if (!purchase.canPurchase) return `this worker buys no licenses (procurement ${purchase.kind}): ${purchase.instructions}`;
  if (buying) return 'a purchase is being made already: wait for it (the status shows it)';
  // A purchase that went through ends the offer of this wait: Partner Center provisions bought seats with
  // a delay, and an approval meanwhile (a second click, a second operator) would buy them twice.
  const bought = purchase.approvals?.find((approval) => approval.state === 'bought');
  if (bought) {
    return `${bought.units} licenses were bought already in this wait (approved by ${bought.by} at ${bought.at}${bought.result ? `: ${bought.result}` : ''}); ` +
      'Partner Center provisions bought seats with a delay, and the wait goes on by itself until they are free. ' +
      'A second approval would buy them again, so it is refused: if the seats went elsewhere, buy more in the Microsoft 365 admin center';
  }
  if (!Number.isInteger(input.units) || input.units < 1) return 'units must be a whole number ≥ 1';
  if (input.units < purchase.shortfall) return `units must be at least the shortfall, ${purchase.shortfall}`;
  const ceilings = purchase.ceilings;
  if (ceilings && input.units > ceilings.perBatch) {
    return `units ${input.units} is over the per-batch ceiling of ${ceilings.perBatch} (DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH on the worker): approve fewer or raise it`;
  }
  if (ceilings && input.units > ceilings.leftToday) {
    return `units ${input.units} is over what the daily ceiling leaves today, ${ceilings.leftToday} of ${ceilings.perDay} (DIALTONE_PURCHASE_MAX_UNITS_PER_DAY on the worker): approve fewer, raise it, or wait until tomorrow (UTC)`;
  }
  return undefined;
}

/**
 * What a run tells the worker's metrics, through a Temporal sink: a sink call adds no command to the
 * history, and the worker registers these with `callDuringReplay: false`, so a replayed run does not
 * count twice; a workflow task that fails after a call may repeat it (the SDK's InjectedSinkFunction,
 * https://github.com/temporalio/sdk-typescript/blob/main/packages/worker/src/sinks.ts).
 */
export interface ProvisioningMetricsSinks extends Sinks {
  provisioningMetrics: {
    runStarted(): void;
    /** The run left needs-attention: by a decision (an operator's or its own), or by a cancellation. */
    attentionEnded(event: { errorType: string; step: StepName; undo: boolean; decision: Decision | 'cancelled'; automatic: boolean; seconds: number }): void;
    /** The license the run assigned was seen provisioned, `seconds` after it was assigned. */
    licensePropagated(event: { seconds: number }): void;
    runFinished(event: { state: ProvisioningState; seconds: number }): void;
  };
}
