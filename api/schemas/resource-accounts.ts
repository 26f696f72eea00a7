/**
 * Request and response schemas of /v1/resource-accounts. The workflow contract (definitions.ts) is
 * the source of the shapes; the type checks at the bottom fail the build when the two drift apart.
 */
import { Type } from '@fastify/type-provider-typebox';
import type { Static, TObject, TProperties } from '@fastify/type-provider-typebox';
import { RESOURCE_ACCOUNT_KINDS } from '../../lib/microsoft';
import { DELETED_ACCOUNT_POLICIES, OPTION_RANGES } from '../../lib/validation';
import { DECISIONS, PROVISIONING_STATES, STEP_NAMES } from '../../workflows/provision-resource-account/definitions';
import { NOTIFY_URL_MAX_LENGTH } from '../../workflows/notification/definitions';
import type {
  ProvisionOptions,
  ProvisionResourceAccountInput,
  ProvisionResourceAccountStatus,
  StepStatus,
} from '../../workflows/provision-resource-account/definitions';
import { StringEnum, idempotencyKeyHeader } from './common';
import { LicensePurchaseStateSchema } from './license-purchase';

const STEP_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'undone'] as const satisfies readonly StepStatus[];
const WORKFLOW_STATUSES = [
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
  'PAUSED',
  'UNKNOWN',
  'UNSPECIFIED',
] as const;

export const ProvisioningStateSchema = StringEnum(PROVISIONING_STATES, { description: 'Where provisioning stands' });
export const WorkflowStatusSchema = StringEnum(WORKFLOW_STATUSES, { description: "Temporal's execution status of the run" });
const Timestamp = Type.String({ format: 'date-time' });
const Kind = StringEnum(RESOURCE_ACCOUNT_KINDS, { description: 'Auto attendant or call queue' });

/** The longest UPN lib/validation's validateUpn accepts: 64 characters, "@", a 253-character domain. */
export const UPN_MAX_LENGTH = 64 + 1 + 253;
/** The longest account id in a URL: the longest UPN with every character percent-encoded. */
export const ID_PARAM_MAX_LENGTH = 3 * UPN_MAX_LENGTH;

export const ResourceAccountParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: UPN_MAX_LENGTH,
    description: `The account UPN (URL-encoded), case-insensitive; at most ${UPN_MAX_LENGTH} characters (a longer path segment is a 414)`,
  }),
});

/** A human duration for a description: 172800000 → "2 days". */
function readableMs(ms: number): string {
  const units: Array<[number, string]> = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms === size ? '' : 's'}`;
  }
  return `${ms} ms`;
}

/**
 * A numeric option with its range and default from lib/validation's OPTION_RANGES, the one source the
 * API's pre-validation and the workflow also use.
 */
function rangedOption(name: keyof typeof OPTION_RANGES, what: string, bounded: boolean) {
  const range = OPTION_RANGES[name];
  const description = `${what}, in ms, ${range.what} (${range.min} to ${range.max}; default ${range.default}, ${readableMs(range.default)})`;
  return Type.Optional(Type.Integer(bounded ? { minimum: range.min, maximum: range.max, description } : { description }));
}

/**
 * `options` of a request. The request schema carries the ranges; a run's status echoes the options
 * the run was started with, which may predate them, so there they are not bounded.
 */
function provisionOptionsSchema(bounded: boolean) {
  return Type.Object(
    {
      propagationTimeoutMs: rangedOption('propagationTimeoutMs', 'How long the license may take to reach Teams before an operator is asked', bounded),
      attentionTimeoutMs: rangedOption('attentionTimeoutMs', 'How long a needs-attention run waits for a decision before it abandons itself', bounded),
      onDeletedAccount: Type.Optional(
        StringEnum(DELETED_ACCOUNT_POLICIES, {
          description: "When a deleted account (kept 30 days in Entra's deleted users) holds the UPN: stop and ask (default, " +
            'or the worker\'s DIALTONE_ON_DELETED_ACCOUNT), restore it and use it, or purge it (delete permanently) and create a new one',
        }),
      ),
      licenseRecheckIntervalMs: rangedOption(
        'licenseRecheckIntervalMs',
        'While the run waits for licenses (none free), how often it looks at the stock again and continues by itself once one is free',
        bounded,
      ),
    },
    { additionalProperties: false },
  );
}
export const ProvisionOptionsSchema = provisionOptionsSchema(true);
const RecordedOptionsSchema = provisionOptionsSchema(false);

/**
 * Field-level rules (UPN, E.164, country code, kind) are checked by lib/validation before this
 * schema, so a caller gets one message per field saying how to fix it; the schema documents the
 * shape and guards everything else.
 */
const AssociationSchema = Type.Object(
  {
    configurationId: Type.String({ description: 'Identity (GUID) of an existing auto attendant or call queue (Get-CsAutoAttendant / Get-CsCallQueue)' }),
    configurationType: Type.Optional(StringEnum(['AutoAttendant', 'CallQueue'] as const, { description: 'Follows kind when absent; must fit it' })),
    callPriority: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: '1 (highest) to 5; default 3' })),
  },
  {
    additionalProperties: false,
    description: 'Optional: associate the account with this auto attendant or call queue once it has its number (New-CsOnlineApplicationInstanceAssociation); undone by a roll-back',
  },
);

/**
 * Where to hear about a run (or a batch and each of its runs): lib/notify-url checks the URL before
 * this schema, with a message naming the fix. README "Notifications" describes the events.
 */
export const NotifySchema = Type.Object(
  {
    url: Type.String({
      maxLength: NOTIFY_URL_MAX_LENGTH,
      description: 'An absolute https URL (http only for a loopback host, or when the API allows it with DIALTONE_NOTIFY_ALLOW_HTTP); no user:password. ' +
        'It is kept in workflow history: put no secret in it (verify the Dialtone-Signature header instead)',
      examples: ['https://hooks.example.com/dialtone'],
    }),
  },
  {
    additionalProperties: false,
    description: 'Optional: receive a signed CloudEvent (POST, application/cloudevents+json) when the run needs attention and when it ends; ' +
      'at least once each, with an id to de-duplicate on',
  },
);

export const CreateResourceAccountBody = Type.Object(
  {
    upn: Type.String({ description: 'User principal name of the resource account', examples: ['aa-main@contoso.onmicrosoft.com'] }),
    displayName: Type.String({ description: 'Name shown in Teams', examples: ['Main line auto attendant'] }),
    kind: Kind,
    usageLocation: Type.String({ description: 'ISO 3166 two-letter country code', examples: ['US'] }),
    phoneNumber: Type.String({ description: 'Calling Plan service number in E.164', examples: ['+12065550100'] }),
    association: Type.Optional(AssociationSchema),
    options: Type.Optional(ProvisionOptionsSchema),
    notify: Type.Optional(NotifySchema),
  },
  { additionalProperties: false },
);
export type CreateResourceAccountBody = Static<typeof CreateResourceAccountBody>;

const RunLinks = {
  id: Type.String({ description: 'The account id: its UPN in lower case' }),
  workflowId: Type.String(),
  runId: Type.String(),
  statusUrl: Type.String({ description: 'Where to follow the run' }),
  temporalUiUrl: Type.Optional(Type.String({ description: "The run's User Metadata tab in the Temporal Web UI (summary, details and current details: what it waits for and how to decide), when configured" })),
};

export const SubmitResponse = Type.Object({
  ...RunLinks,
  state: ProvisioningStateSchema,
  existing: Type.Boolean({ description: 'True when the request joined a run already in progress or already completed' }),
});
export type SubmitResponse = Static<typeof SubmitResponse>;

const StepErrorSchema = Type.Object({
  type: Type.String(),
  message: Type.String(),
  problems: Type.Optional(
    Type.Array(Type.Object({ type: Type.String(), field: Type.String({ description: 'The request field to change (or licenses)' }), message: Type.String() }), {
      description: 'Set by the pre-flight (type PreflightFailed): every problem found before any change, all at once',
    }),
  ),
});
const DeletedAccountChoice = StringEnum(['restore', 'purge'] as const, {
  description: 'With retry, when a deleted account holds the UPN (DeletedAccountHoldsUpn): restore it and use it, or purge it and create a new one',
});
const StepName = StringEnum(STEP_NAMES);
const DecisionSchema = StringEnum(DECISIONS);

const RequestSchema = Type.Object({
  tenantId: Type.String(),
  upn: Type.String(),
  displayName: Type.String(),
  kind: Kind,
  usageLocation: Type.String(),
  phoneNumber: Type.String(),
  phoneNumberType: Type.Optional(Type.Literal('callingPlan')),
  association: Type.Optional(AssociationSchema),
  options: Type.Optional(RecordedOptionsSchema),
  batchId: Type.Optional(Type.String({ description: 'The batch this run is a row of (GET /v1/batches/{batchId}); absent for a single request' })),
  notify: Type.Optional(Type.Object({ url: Type.String() }, { description: 'Where the run sends its events (the request\'s, or its batch\'s)' })),
});

const StatusProperties = {
  workflowId: Type.String(),
  state: ProvisioningStateSchema,
  currentStep: Type.Optional(StepName),
  steps: Type.Array(
    Type.Object({
      name: StepName,
      title: Type.String(),
      status: StringEnum(STEP_STATUSES),
      startedAt: Type.Optional(Timestamp),
      endedAt: Type.Optional(Timestamp),
      attempts: Type.Optional(Type.Integer()),
      lastError: Type.Optional(StepErrorSchema),
      detail: Type.Optional(Type.String()),
    }),
  ),
  accountId: Type.Optional(Type.String()),
  adopted: Type.Optional(Type.Boolean()),
  request: RequestSchema,
  attention: Type.Optional(
    Type.Object({
      step: StepName,
      undo: Type.Optional(Type.Boolean({ description: 'True when the step\'s undo failed during a roll-back' })),
      error: StepErrorSchema,
      since: Timestamp,
      deadline: Timestamp,
      allowedDecisions: Type.Array(DecisionSchema),
      waitingFor: Type.String({ description: 'One line: what the run waits for' }),
      howToDecide: Type.Array(Type.String(), { description: 'The exact commands (dialtone CLI and REST) for each allowed decision' }),
      autoRetry: Type.Optional(
        Type.Object(
          {
            what: Type.String(),
            intervalMs: Type.Integer(),
            checks: Type.Integer(),
            lastCheckAt: Type.Optional(Timestamp),
            lastResult: Type.Optional(Type.String()),
            nextCheckAt: Timestamp,
          },
          { description: 'Set while the run also checks by itself whether it can go on (licenses bought) and then retries without a decision' },
        ),
      ),
      purchase: Type.Optional(LicensePurchaseStateSchema),
    }),
  ),
  leftBehind: Type.Optional(
    Type.Array(Type.String(), { description: 'What the run did that is still in the tenant after a roll-back stopped short or an abandon, newest first' }),
  ),
  decisions: Type.Array(
    Type.Object({
      decision: DecisionSchema,
      reason: Type.Optional(Type.String()),
      by: Type.Optional(
        Type.String({ description: 'Who decided: the name given with the decision, else the API caller; "dialtone" for the run\'s own automatic decisions (absent in runs recorded before it was kept)' }),
      ),
      onDeletedAccount: Type.Optional(DeletedAccountChoice),
      at: Timestamp,
      step: StepName,
      automatic: Type.Optional(Type.Boolean({ description: 'The run decided by itself: licenses appeared (retry) or the decision deadline passed (abandon)' })),
    }),
  ),
  cancelRequestedAt: Type.Optional(Timestamp),
  outcome: Type.Optional(Type.String({ description: 'One line on how the run ended' })),
  notifications: Type.Optional(
    Type.Array(
      Type.Object({
        id: Type.String({ description: 'The CloudEvent id' }),
        type: Type.String({ description: 'The CloudEvent type, e.g. com.dialtone.resource-account.completed' }),
        at: Timestamp,
        workflowId: Type.String({ description: "The delivery's workflow in Temporal: its status (and the Web UI) says whether each receiver has the event" }),
        receivers: Type.Optional(Type.Integer()),
      }),
      { description: 'Events the run sent to receivers (notifications), oldest first' },
    ),
  ),
  startedAt: Timestamp,
  endedAt: Type.Optional(Timestamp),
};

export const PendingActivitySchema = Type.Object({
  activityType: Type.String(),
  state: Type.String({ description: 'scheduled, started, cancel-requested or paused' }),
  attempt: Type.Integer({ description: 'The attempt running or about to run, starting at 1' }),
  maximumAttempts: Type.Optional(Type.Integer({ description: 'Absent when unlimited' })),
  lastFailure: Type.Optional(StepErrorSchema),
  lastStartedAt: Type.Optional(Timestamp),
  nextAttemptAt: Type.Optional(Timestamp),
});
export type PendingActivity = Static<typeof PendingActivitySchema>;

export const WorkflowTaskFailureSchema = Type.Object(
  {
    attempt: Type.Integer({ description: 'The attempt Temporal is making now; more than 1 means every attempt since `since` failed' }),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'When the first of the failing attempts was scheduled' })),
    message: Type.String({ description: "The first line of the last recorded failure's message" }),
    cause: Type.Optional(Type.String({ description: 'What kind of failure, when Temporal says (an error thrown by the workflow code, or non-determinism)' })),
  },
  {
    description:
      "Set while the run's workflow task keeps failing: the worker cannot run this run's code (a bug, or a deployment whose code no longer " +
      'matches the run), so it answers no query, decision or cancel. Fix or roll back the worker deployment; terminate the run if it must stop now',
  },
);
export type WorkflowTaskFailure = Static<typeof WorkflowTaskFailureSchema>;

export const AccountStatusResponse = Type.Object({
  id: Type.String(),
  runId: Type.String(),
  ...StatusProperties,
  workflowStatus: WorkflowStatusSchema,
  pendingActivities: Type.Array(PendingActivitySchema, {
    description: 'Activities scheduled or running now, with their retry attempt, last failure and next attempt time',
  }),
  workflowTaskFailure: Type.Optional(WorkflowTaskFailureSchema),
  source: StringEnum(['workflow', 'result', 'fallback'] as const, {
    description:
      'workflow: answered by the running workflow; result: the closed run\'s final status; fallback: no worker answered, so only the request and the last reported state are known',
  }),
  note: Type.Optional(Type.String({ description: "Why the status is incomplete, when source is fallback (no worker answered, or the run's workflow task is failing)" })),
  temporalUiUrl: Type.Optional(Type.String()),
});
export type AccountStatusResponse = Static<typeof AccountStatusResponse>;

export const DecisionBody = Type.Object(
  {
    decision: DecisionSchema,
    reason: Type.Optional(Type.String({ maxLength: 1000, description: 'Why; kept in the audit trail' })),
    by: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Who decided; kept in the audit trail. Default: the caller, as api-token:<first 8 hex digits of the SHA-256 of its token>, or anonymous when authentication is disabled',
      }),
    ),
    onDeletedAccount: Type.Optional(DeletedAccountChoice),
  },
  { additionalProperties: false },
);
export type DecisionBody = Static<typeof DecisionBody>;

export const DecisionHeaders = idempotencyKeyHeader(
  'Makes the decision safe to retry: a request with a key already used on this run answers what the first one answered and decides nothing again, ' +
    'whatever its body. Printable ASCII, 1 to 200 characters, e.g. a UUID; without it every request is a new decision',
);
export type DecisionHeaders = Static<typeof DecisionHeaders>;

export const DecisionResponse = Type.Object({
  id: Type.String(),
  workflowId: Type.String(),
  accepted: Type.Literal(true),
  state: ProvisioningStateSchema,
  statusUrl: Type.String(),
});
export type DecisionResponse = Static<typeof DecisionResponse>;

export const CancelResponse = Type.Object({
  ...RunLinks,
  cancelRequested: Type.Literal(true),
});
export type CancelResponse = Static<typeof CancelResponse>;

export const DEFAULT_PAGE_SIZE = 50;

const Paging = {
  pageSize: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: DEFAULT_PAGE_SIZE,
      description: `How many runs to read for this page (default ${DEFAULT_PAGE_SIZE})`,
    }),
  ),
  nextPageToken: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+$', maxLength: 4096, description: 'From the previous page, unchanged, with the same filter' }),
  ),
};

export const ListQuery = Type.Object(
  {
    state: Type.Optional(StringEnum(PROVISIONING_STATES, { description: "Only accounts whose latest run is in this state" })),
    ...Paging,
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const RunsQuery = Type.Object(Paging, { additionalProperties: false });
export type RunsQuery = Static<typeof RunsQuery>;

/** Temporal's run ids are UUIDs; anything else cannot be a run, so it is a 400 rather than a 404. */
export const StatusQuery = Type.Object(
  {
    runId: Type.Optional(
      Type.String({
        pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
        description: "One of the account's runs (from /runs); default: its latest run",
      }),
    ),
  },
  { additionalProperties: false },
);
export type StatusQuery = Static<typeof StatusQuery>;

export const ListItem = Type.Object({
  id: Type.String(),
  workflowId: Type.String(),
  runId: Type.String(),
  state: Type.Optional(ProvisioningStateSchema),
  currentStep: Type.Optional(Type.String()),
  phoneNumber: Type.Optional(Type.String()),
  workflowStatus: WorkflowStatusSchema,
  startedAt: Timestamp,
  closedAt: Type.Optional(Timestamp),
  statusUrl: Type.String(),
});
export type ListItem = Static<typeof ListItem>;

const NextPageToken = Type.Optional(Type.String({ description: 'Pass it back to get the next page; absent on the last page' }));

export const ListResponse = Type.Object({
  items: Type.Array(ListItem, {
    description: 'One item per account, its latest run; a page may hold fewer items than pageSize (even none) while a nextPageToken follows',
  }),
  nextPageToken: NextPageToken,
});
export type ListResponse = Static<typeof ListResponse>;

export const RunItem = Type.Object({
  runId: Type.String(),
  state: Type.Optional(ProvisioningStateSchema),
  workflowStatus: WorkflowStatusSchema,
  startedAt: Timestamp,
  closedAt: Type.Optional(Timestamp),
  statusUrl: Type.String({ description: "This run's status" }),
});
export type RunItem = Static<typeof RunItem>;

export const RunsResponse = Type.Object({
  id: Type.String(),
  workflowId: Type.String(),
  items: Type.Array(RunItem, { description: 'Every run of the account, newest first' }),
  nextPageToken: NextPageToken,
});
export type RunsResponse = Static<typeof RunsResponse>;

// Drift guards: the build fails when definitions.ts gains, loses or retypes a field these schemas mirror.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
type Mirrors<Contract, Schema extends TObject<TProperties>> = Contract extends Static<Schema> ? SameKeys<Contract, Static<Schema>> : never;
const statusGuard: Mirrors<ProvisionResourceAccountStatus, TObject<typeof StatusProperties>> = true;
const requestGuard: Mirrors<ProvisionResourceAccountInput, typeof RequestSchema> = true;
const optionsGuard: Mirrors<ProvisionOptions, typeof ProvisionOptionsSchema> = true;
void [statusGuard, requestGuard, optionsGuard];
