/**
 * Request and response schemas of /v1/batches. The batch workflow's contract
 * (workflows/provision-batch/definitions.ts) is the source of the shapes; the type checks at the
 * bottom fail the build when the two drift apart.
 */
import { Type } from '@fastify/type-provider-typebox';
import type { Static, TInteger, TObject, TProperties } from '@fastify/type-provider-typebox';
import { RESOURCE_ACCOUNT_KINDS } from '../../lib/microsoft';
import { BATCH_OPTION_RANGES } from '../../lib/validation';
import type { BatchNumericOption } from '../../lib/validation';
import { BATCH_STATES, MAX_BATCH_ROWS, ROW_STATES } from '../../workflows/provision-batch/definitions';
import type {
  BatchOptions,
  BatchPlan,
  BatchProgress,
  BatchRowRequest,
  BatchRowStatus,
  BatchTotals,
  RowAction,
  RowPlan,
  RowState,
} from '../../workflows/provision-batch/definitions';
import { DECISIONS } from '../../workflows/provision-resource-account/definitions';
import { StringEnum, idempotencyKeyHeader } from './common';
import { LicensePurchaseStateSchema } from './license-purchase';
import { NotifySchema, ProvisionOptionsSchema, WorkflowStatusSchema } from './resource-accounts';

/** The largest batch body: 10,000 rows of CSV or JSON with long names fit with room to spare. */
export const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

/** A batch id a caller chooses: letters, digits, dot, underscore and hyphen. */
export const BATCH_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Dry runs are kept apart from real batches under this prefix, so a caller's own id cannot start with it. */
export const DRY_RUN_PREFIX = 'dry-';
/** The longest id in a URL: a caller's id with the dry-run prefix. */
export const BATCH_ID_MAX_LENGTH = 64 + DRY_RUN_PREFIX.length;

const ROW_ACTIONS = ['create', 'adopt', 'already-provisioned', 'conflict'] as const satisfies readonly RowAction[];
const Timestamp = Type.String({ format: 'date-time' });
const RowStateSchema = StringEnum(ROW_STATES, {
  description:
    'pending: not started; running: its run is going; needs-attention: its run waits for a decision; completed, rolled-back, abandoned, ' +
    'cancelled: its run ended so; failed: it could not run (its run failed, or the plan found no number for it); skipped: the batch was cancelled before it started',
});
const BatchStateSchema = StringEnum(BATCH_STATES, { description: 'Where the batch stands' });
const ErrorSchema = Type.Object({ type: Type.String(), message: Type.String() });

export const BatchParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: BATCH_ID_MAX_LENGTH,
    description: `The batch id: 1 to 64 letters, digits, ".", "_" or "-" (a dry run's id starts with "${DRY_RUN_PREFIX}")`,
  }),
});

export const BatchKeyHeaders = idempotencyKeyHeader(
  'Makes the request safe to retry. On a submit without batchId it names the batch (a hash of the key), so the same key and body ' +
    'answer with the batch already submitted and a different body is a 409; on a control or decision it is the update id, so a repeat ' +
    'answers what the first one answered. Printable ASCII, 1 to 200 characters, e.g. a UUID',
);
export type BatchKeyHeaders = Static<typeof BatchKeyHeaders>;

function numericOption(name: BatchNumericOption, what: string) {
  const range = BATCH_OPTION_RANGES[name];
  const options = { minimum: range.min, maximum: range.max, description: `${what}: ${range.what} (default ${range.default})` };
  return Type.Optional(range.integer ? Type.Integer(options) : Type.Number(options));
}

const BatchOptionsSchema = Type.Object(
  {
    concurrency: numericOption('concurrency', 'Rows provisioning at once; rows waiting for a decision do not hold a place'),
    quarantineRatio: numericOption('quarantineRatio', 'Share of recently finished rows that failed or need a decision at which the batch pauses itself (quarantine)'),
    quarantineWindow: numericOption('quarantineWindow', 'How many recently finished rows the quarantine ratio is taken over'),
    licenseRecheckIntervalMs: numericOption('licenseRecheckIntervalMs', 'While the batch waits for licenses, how often it looks at the stock again, in ms'),
    maxHistoryEvents: numericOption('maxHistoryEvents', 'History events after which the batch workflow continues as new'),
    retryWindowMs: numericOption('retryWindowMs', 'How long a batch whose rows have all ended, some not completed, stays open for retry-failed, in ms'),
    rowOptions: Type.Optional(ProvisionOptionsSchema),
  },
  { additionalProperties: false, description: 'Batch-wide options, all optional' },
);

/**
 * A row as JSON. lib/batch-rows checks every row before this schema, so a caller gets one message per
 * row and column; the schema documents the shape.
 */
const BatchRowSchema = Type.Object(
  {
    upn: Type.String({ description: 'User principal name of the resource account', examples: ['aa-main@contoso.onmicrosoft.com'] }),
    displayName: Type.String({ description: 'Name shown in Teams' }),
    kind: StringEnum(RESOURCE_ACCOUNT_KINDS, { description: 'Auto attendant or call queue' }),
    usageLocation: Type.String({ description: 'ISO 3166 two-letter country code', examples: ['US'] }),
    phoneNumber: Type.String({
      description: 'A Calling Plan service number in E.164, or "any": any free service number of the usage location\'s country',
      examples: ['+12065550100', 'any'],
    }),
    numberCity: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'With phoneNumber "any": only numbers of this city' })),
    tollFree: Type.Optional(
      Type.Union([Type.Boolean(), Type.Null()], { description: 'With phoneNumber "any": true for a toll-free number, false for a toll one; either when absent' }),
    ),
    associateWith: Type.Optional(
      Type.Union([Type.String(), Type.Null()], { description: 'Identity (GUID) of an existing auto attendant or call queue to associate the account with once it has its number' }),
    ),
    callPriority: Type.Optional(Type.Union([Type.Integer(), Type.Null()], { description: 'With associateWith: 1 (highest) to 5; default 3' })),
  },
  { additionalProperties: false },
);

export const CreateBatchBody = Type.Object(
  {
    rows: Type.Array(BatchRowSchema, { minItems: 1, maxItems: MAX_BATCH_ROWS, description: `The rows, at most ${MAX_BATCH_ROWS}` }),
    options: Type.Optional(BatchOptionsSchema),
    batchId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: BATCH_ID_PATTERN.source,
        description: `The batch's id (1 to 64 of A-Z a-z 0-9 . _ -, not starting with "${DRY_RUN_PREFIX}"): sending the same id and rows again answers with that batch. ` +
          'Default: derived from the Idempotency-Key header, else a new id like b-20260115-3f9a1c',
      }),
    ),
    notify: Type.Optional(NotifySchema),
  },
  { additionalProperties: false },
);
export type CreateBatchBody = Static<typeof CreateBatchBody>;

export const CreateBatchCsv = Type.String({
  description:
    'The CSV file (RFC 4180, UTF-8): a header line naming the columns upn, displayName, kind, usageLocation, phoneNumber and optionally ' +
    'numberCity, tollFree, associateWith and callPriority, then one line per row',
});

export const CreateBatchQuery = Type.Object(
  {
    dryRun: Type.Optional(
      Type.Boolean({
        description: 'Plan only: read the tenant and report what each row would do (action, number, problems) and the totals, changing nothing',
      }),
    ),
    batchId: Type.Optional(Type.String({ description: 'With a CSV body: the batch id, as batchId of a JSON body' })),
    concurrency: Type.Optional(Type.Number({ description: 'With a CSV body: options.concurrency' })),
    quarantineRatio: Type.Optional(Type.Number({ description: 'With a CSV body: options.quarantineRatio' })),
    quarantineWindow: Type.Optional(Type.Number({ description: 'With a CSV body: options.quarantineWindow' })),
    notifyUrl: Type.Optional(Type.String({ description: 'With a CSV body: notify.url, where the batch and each of its runs send their events' })),
  },
  { additionalProperties: false },
);
export type CreateBatchQuery = Static<typeof CreateBatchQuery>;

/** A problem of a submitted batch: the shared error detail, with the row and column to change. */
const BatchProblemSchema = Type.Object({
  field: Type.String({ description: 'The column (CSV) or field (JSON) to change, or the option' }),
  row: Type.Optional(
    Type.Integer({ description: 'For a problem of the submitted batch: its 1-based data row (the CSV header is not counted; the first JSON row is 1); 0 for the batch as a whole' }),
  ),
  column: Type.Optional(Type.String({ description: 'For a problem of the submitted batch: the column or field to change; empty when the problem is the whole row or file' })),
  message: Type.String({ description: 'What is wrong and how to fix it' }),
});

export const BatchValidationErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String({ description: 'One short line: how many problems in how many rows' }),
      details: Type.Optional(
        Type.Array(BatchProblemSchema, { description: 'Every problem of the batch, each with its row and column, none left out (other 400s list fields only)' }),
      ),
    }),
  },
  { description: 'The error format; for a batch with bad rows, every problem with its row and column' },
);

// ---- the plan and progress, as the workflow reports them ----------------------------------------

const CountsByRowState = Type.Object(
  Object.fromEntries(ROW_STATES.map((state) => [state, Type.Integer()])) as Record<RowState, TInteger>,
  { description: 'Rows in each state' },
);
const CountsByAction = Type.Object(Object.fromEntries(ROW_ACTIONS.map((action) => [action, Type.Integer()])) as Record<RowAction, TInteger>);

const TotalsProperties = {
  rows: Type.Integer(),
  byAction: CountsByAction,
  rowsWithProblems: Type.Integer(),
  licenses: Type.Object({ needed: Type.Integer(), free: Type.Integer(), short: Type.Integer(), skuPartNumber: Type.Optional(Type.String()) }),
  numbers: Type.Array(Type.Object({ country: Type.String(), needed: Type.Integer(), free: Type.Integer(), short: Type.Integer() }), {
    description: 'Per country: numbers the batch needs and free service numbers',
  }),
};
const TotalsSchema = Type.Object(TotalsProperties, { description: 'What the batch needs against what the tenant has' });

const RowPlanProperties = {
  row: Type.Integer(),
  upn: Type.String(),
  action: StringEnum(ROW_ACTIONS, {
    description: 'create a new account, adopt an existing resource account, nothing to do (already provisioned), or conflict (the row cannot go as it is)',
  }),
  phoneNumber: Type.Optional(Type.String({ description: 'The number the row gets: its own, or the one allocated for "any"' })),
  allocated: Type.Optional(Type.Boolean({ description: 'True when the number was allocated from the inventory ("any")' })),
  accountId: Type.Optional(Type.String()),
  needsLicense: Type.Boolean(),
  problems: Type.Array(Type.Object({ type: Type.String(), field: Type.String({ description: 'The column to change, or licenses' }), message: Type.String() })),
};

const PlanProperties = {
  rows: Type.Array(Type.Object(RowPlanProperties)),
  totals: TotalsSchema,
  readAt: Timestamp,
};
export const BatchPlanSchema = Type.Object(PlanProperties, { description: 'What each row would do, and the totals (dry run)' });

const ProgressProperties = {
  batchId: Type.String(),
  workflowId: Type.String(),
  state: BatchStateSchema,
  dryRun: Type.Boolean(),
  rows: Type.Integer({ description: 'Rows in the batch' }),
  counts: CountsByRowState,
  ratePerMinute: Type.Optional(Type.Number({ description: 'Rows finished per minute over the recent finishes' })),
  etaSeconds: Type.Optional(Type.Integer({ description: 'Estimated time the remaining rows take at that rate' })),
  attention: Type.Array(
    Type.Object({ row: Type.Integer(), upn: Type.String(), step: Type.Optional(Type.String()), error: Type.Optional(ErrorSchema) }),
    { description: 'Rows waiting for a decision (at most 50), each with its reason; decide with POST …/decision' },
  ),
  pause: Type.Optional(
    Type.Object({
      by: Type.String(),
      at: Timestamp,
      reason: Type.String(),
      quarantine: Type.Optional(Type.Boolean({ description: 'True when the batch paused itself: too many recent rows failed' })),
    }),
  ),
  licenses: Type.Optional(
    Type.Object(
      {
        needed: Type.Integer(),
        free: Type.Integer(),
        short: Type.Integer(),
        checks: Type.Integer(),
        lastCheckAt: Type.Optional(Timestamp),
        nextCheckAt: Type.Optional(Timestamp),
        purchase: Type.Optional(LicensePurchaseStateSchema),
      },
      { description: 'Set while the batch waits for licenses to be bought' },
    ),
  ),
  totals: Type.Optional(TotalsSchema),
  message: Type.String({ description: 'One line on what the batch does now, or how it ended' }),
  controls: Type.Array(
    Type.Object({
      action: StringEnum(['pause', 'resume', 'cancel', 'retry-failed', 'quarantine', 'licenses-available', 'license-purchase'] as const),
      by: Type.String(),
      at: Timestamp,
      reason: Type.Optional(Type.String()),
    }),
    { description: 'Who paused, resumed, cancelled or retried, when and why; and what the batch did by itself' },
  ),
  submittedBy: Type.Optional(Type.String()),
  startedAt: Timestamp,
  endedAt: Type.Optional(Timestamp),
  generation: Type.Integer({ description: 'Runs of the batch workflow so far (it continues as new to keep its history small)' }),
};
export const BatchProgressSchema = Type.Object(ProgressProperties);

const Links = {
  batchId: Type.String(),
  workflowId: Type.String(),
  statusUrl: Type.String({ description: 'Progress of the batch' }),
  rowsUrl: Type.String({ description: 'Its rows, page by page' }),
  reportUrl: Type.String({ description: 'Every row as CSV' }),
  temporalUiUrl: Type.Optional(Type.String({ description: "The batch's User Metadata tab in the Temporal Web UI, when configured" })),
};

export const SubmitBatchResponse = Type.Object({
  ...Links,
  dryRun: Type.Boolean(),
  existing: Type.Boolean({ description: 'True when a batch with this id and these rows had been submitted already: this is that batch' }),
  plan: Type.Optional(BatchPlanSchema),
  progress: Type.Optional(BatchProgressSchema),
});
export type SubmitBatchResponse = Static<typeof SubmitBatchResponse>;

export const BatchStatusResponse = Type.Object({
  ...ProgressProperties,
  ...Links,
  plan: Type.Optional(BatchPlanSchema),
  workflowStatus: WorkflowStatusSchema,
  source: StringEnum(['workflow', 'result', 'fallback'] as const, {
    description: "workflow: answered by the batch workflow; result: the ended batch's final progress; fallback: the workflow could not answer, see note",
  }),
  note: Type.Optional(Type.String({ description: 'Why the progress is incomplete, when source is fallback' })),
});
export type BatchStatusResponse = Static<typeof BatchStatusResponse>;

const RowProperties = {
  row: Type.Integer({ description: '1-based row of the submitted file' }),
  upn: Type.String(),
  state: RowStateSchema,
  phoneNumber: Type.Optional(Type.String({ description: 'The number the row gets (its own or allocated); absent until allocated' })),
  accountId: Type.Optional(Type.String()),
  workflowId: Type.String({ description: "The row's run: the single account's workflow id" }),
  runId: Type.Optional(Type.String()),
  joined: Type.Optional(Type.Boolean({ description: 'True when a run for this account was already going and the row follows it' })),
  step: Type.Optional(Type.String({ description: 'The step where the run waits or stopped' })),
  error: Type.Optional(ErrorSchema),
  outcome: Type.Optional(Type.String({ description: 'One line on how the row ended' })),
  attempts: Type.Integer({ description: 'Runs started for this row (retry-failed starts another)' }),
  startedAt: Type.Optional(Timestamp),
  endedAt: Type.Optional(Timestamp),
};
export const BatchRowItem = Type.Object({
  ...RowProperties,
  statusUrl: Type.String({ description: "The row's account: /v1/resource-accounts/{upn}" }),
});
export type BatchRowItem = Static<typeof BatchRowItem>;

export const DEFAULT_ROWS_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const PageToken = Type.Optional(
  Type.String({ pattern: '^[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+$', maxLength: 4096, description: 'From the previous page, unchanged, with the same filter' }),
);

export const BatchRowsQuery = Type.Object(
  {
    state: Type.Optional(StringEnum(ROW_STATES, { description: 'Only rows in this state' })),
    pageSize: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_ROWS_PAGE_SIZE, description: `Rows per page (default ${DEFAULT_ROWS_PAGE_SIZE})` }),
    ),
    nextPageToken: PageToken,
  },
  { additionalProperties: false },
);
export type BatchRowsQuery = Static<typeof BatchRowsQuery>;

const NextPageToken = Type.Optional(Type.String({ description: 'Pass it back to get the next page; absent on the last page' }));

export const BatchRowsResponse = Type.Object({
  batchId: Type.String(),
  items: Type.Array(BatchRowItem, { description: 'Rows in file order' }),
  total: Type.Integer({ description: 'Rows matching the filter now' }),
  nextPageToken: NextPageToken,
});
export type BatchRowsResponse = Static<typeof BatchRowsResponse>;

export const ListBatchesQuery = Type.Object(
  {
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50, description: 'How many batches to read for this page (default 50)' })),
    nextPageToken: PageToken,
  },
  { additionalProperties: false },
);
export type ListBatchesQuery = Static<typeof ListBatchesQuery>;

export const BatchListItem = Type.Object({
  batchId: Type.String(),
  workflowId: Type.String(),
  runId: Type.String({ description: 'The batch workflow\'s current run (it continues as new)' }),
  dryRun: Type.Boolean(),
  state: Type.Optional(BatchStateSchema),
  workflowStatus: WorkflowStatusSchema,
  startedAt: Timestamp,
  closedAt: Type.Optional(Timestamp),
  statusUrl: Type.String(),
});
export type BatchListItem = Static<typeof BatchListItem>;

export const ListBatchesResponse = Type.Object({
  items: Type.Array(BatchListItem, { description: 'Batches, open ones first, then the most recently closed' }),
  nextPageToken: NextPageToken,
});
export type ListBatchesResponse = Static<typeof ListBatchesResponse>;

const Audit = {
  reason: Type.Optional(Type.String({ maxLength: 1000, description: 'Why; kept in the batch\'s controls' })),
  by: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Who; default: the caller, as api-token:<first 8 hex digits of the SHA-256 of its token>, or anonymous' })),
};

export const ControlBody = Type.Object(Audit, { additionalProperties: false });
export type ControlBody = Static<typeof ControlBody>;

export const CancelBatchBody = Type.Object(
  {
    inFlight: Type.Optional(
      Type.Boolean({
        description: 'Also cancel the rows whose runs are going (they stop where they are and list what they leave). Default false: they finish; only rows not started are skipped',
      }),
    ),
    ...Audit,
  },
  { additionalProperties: false },
);
export type CancelBatchBody = Static<typeof CancelBatchBody>;

export const ControlResponse = Type.Object({
  batchId: Type.String(),
  state: BatchStateSchema,
  rows: Type.Optional(Type.Integer({ description: 'Rows the action touched: retry-failed, rows started again; cancel, rows skipped' })),
  statusUrl: Type.String(),
});
export type ControlResponse = Static<typeof ControlResponse>;

export const BulkDecisionBody = Type.Object(
  {
    decision: StringEnum(DECISIONS),
    reason: Type.Optional(Type.String({ maxLength: 1000, description: "Why; kept in each row's audit trail" })),
    by: Audit.by,
    errorType: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only rows whose error is of this type, e.g. LicensesInsufficient' })),
    upns: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 400 }), { minItems: 1, maxItems: MAX_BATCH_ROWS, description: 'Only these rows, by UPN' })),
  },
  { additionalProperties: false },
);
export type BulkDecisionBody = Static<typeof BulkDecisionBody>;

export const BulkDecisionResponse = Type.Object({
  batchId: Type.String(),
  decided: Type.Array(Type.String(), { description: 'UPNs of the rows whose run took the decision' }),
  refused: Type.Array(Type.Object({ upn: Type.String(), message: Type.String() }), {
    description: 'Rows whose run refused the decision (e.g. rollback where it is not allowed), or named in upns but not waiting for a decision',
  }),
});
export type BulkDecisionResponse = Static<typeof BulkDecisionResponse>;

// Drift guards: the build fails when definitions.ts gains, loses or retypes a field these schemas mirror.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
type Mirrors<Contract, Schema extends TObject<TProperties>> = Contract extends Static<Schema> ? SameKeys<Contract, Static<Schema>> : never;
const progressGuard: Mirrors<BatchProgress, TObject<typeof ProgressProperties>> = true;
const planGuard: Mirrors<BatchPlan, TObject<typeof PlanProperties>> = true;
const rowPlanGuard: Mirrors<RowPlan, TObject<typeof RowPlanProperties>> = true;
const totalsGuard: Mirrors<BatchTotals, TObject<typeof TotalsProperties>> = true;
// `counted` is the workflow's own bookkeeping; the rows query leaves it out.
const rowGuard: Mirrors<Omit<BatchRowStatus, 'counted'>, TObject<typeof RowProperties>> = true;
const optionsGuard: Mirrors<BatchOptions, typeof BatchOptionsSchema> = true;
const rowRequestGuard: SameKeys<BatchRowRequest, Static<typeof BatchRowSchema>> = true;
void [progressGuard, planGuard, rowPlanGuard, totalsGuard, rowGuard, optionsGuard, rowRequestGuard];
