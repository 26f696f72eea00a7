/**
 * provisionBatch: hundreds to thousands of resource accounts. It plans the batch by reading the tenant
 * (a dry run stops there), checks the license need once (and waits once for a purchase), then runs one
 * child provisionResourceAccount per row through a sliding window, with the single-account workflow id,
 * so a batch row and a single request for the same account are one run. Children outlive the batch's
 * runs (ParentClosePolicy ABANDON) and report to the batch by signal, so the batch can continue as new
 * whenever its history grows, with its rows carried over.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../../activities/types';
import type { LicensingActivities } from '../../activities/licensing/activities';
import { validateBatchRows } from '../../lib/batch-rows';
import { BATCH_OPTION_RANGES, CONFIGURATION_TYPE_FOR_KIND, validateBatchOptions } from '../../lib/validation';
import { provisionResourceAccount } from '../provision-resource-account/workflow';
import { LICENSE_PURCHASE_CALL, acceptedApproval, latestError, licensePurchaseApprovalProblem, provisioningDetails, provisioningSummary, resourceAccountWorkflowId, searchAttributes } from '../provision-resource-account/definitions';
import type { ApproveLicensePurchaseInput, ApproveLicensePurchaseOutput, LicensePurchaseApproval, LicensePurchaseState, ProvisionResourceAccountInput } from '../provision-resource-account/definitions';
import {
  ANY_NUMBER,
  FINISHED_ROW_STATES,
  approveBatchLicensePurchaseUpdate,
  TERMINAL_BATCH_STATES,
  cancelBatchUpdate,
  getBatchPlanQuery,
  getBatchProgressQuery,
  getBatchRowsQuery,
  pauseBatchUpdate,
  resumeBatchUpdate,
  retryFailedRowsUpdate,
  rowReportSignal,
} from './definitions';
import type {
  BatchCarriedState,
  BatchControlInput,
  BatchControlOutput,
  BatchControlRecord,
  BatchPause,
  BatchPlan,
  BatchProgress,
  BatchRowStatus,
  BatchRowsPage,
  BatchRowsQueryInput,
  BatchState,
  BatchTotals,
  ProvisionBatchInput,
  ProvisionBatchOutput,
} from './definitions';
import { batchDetails, batchMessage } from './presentation';
import type { NotifiedBatchState } from '../notification/definitions';
import { batchEvent } from '../notification/events';
import { NOTIFICATIONS_PATCH, Notifier } from '../notification/send';
import { RowBook } from './window';
import type { RunNews } from './window';

const MINUTE = 60_000;
/** How often runs the batch did not start in this generation are looked at (they also report by signal). */
const FOLLOW_INTERVAL_MS = 5 * MINUTE;
/** Joined runs (started by someone else) never report to this batch: they are looked at more often. */
const FOLLOW_JOINED_INTERVAL_MS = MINUTE;
/** Rows listed as needing attention in the progress. */
const ATTENTION_LISTED = 50;
const AUTOMATIC = 'dialtone';

const planning = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['PermissionDenied', 'AuthenticationFailed'] },
  summary: 'Plan the batch: read accounts, licenses and numbers (no changes)',
});
const looking = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** How to get the batch's missing licenses (no purchase): the worker's procurement adapter answers. */
const describingPurchase = proxyActivities<LicensingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3 },
  summary: 'Look up how to get more licenses (no purchase)',
});
/** The purchase an operator approved: retried for an hour, each retry repeating the ledger's plan (never buys twice). */
const buyingLicenses = proxyActivities<LicensingActivities>({ ...LICENSE_PURCHASE_CALL, summary: 'Buy the batch\'s licenses (approved by an operator)' });
/** Marks batches that describe (and may buy) licenses while they wait for them; older histories did not. */
const BATCH_LICENSE_PROCUREMENT_PATCH = 'batch-license-procurement';

export async function provisionBatch(input: ProvisionBatchInput): Promise<ProvisionBatchOutput> {
  const { errors } = validateBatchRows(input.rows);
  const optionErrors = validateBatchOptions(input.options, 'options.', 'workflow');
  if (errors.length > 0 || optionErrors.length > 0) {
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: [...errors.map((e) => `row ${e.row}, column ${e.column}: ${e.message}`), ...optionErrors.map((e) => e.message)].slice(0, 20).join('; '),
    });
  }
  return new BatchRun(input).execute();
}

interface Settings {
  concurrency: number;
  quarantineRatio: number;
  quarantineWindow: number;
  licenseRecheckIntervalMs: number;
  maxHistoryEvents: number;
  retryWindowMs: number;
}

export class BatchRun {
  private readonly book: RowBook;
  private phase: BatchState;
  private pause: BatchPause | undefined;
  private readonly controls: BatchControlRecord[];
  private totals: BatchTotals | undefined;
  private plan: BatchPlan | undefined;
  private cancelInFlight: boolean;
  private cancelSent = false;
  private readonly startedAt: string;
  private readonly generation: number;
  private licensesChecked: boolean;
  private licenseWait: BatchProgress['licenses'];
  private endedAt: string | undefined;
  private readonly settings: Settings;
  /** Rows whose child this run started (and whose result it awaits). */
  private readonly own = new Set<string>();
  private starting = 0;
  private changed = false;
  private followDue = false;
  private followTimer = false;
  /** Set by retry-failed when a row it put back has no number: the window allocates again first. */
  private replan = false;
  /** Runs this run of the batch did not start may be going (an earlier generation's, or joined ones). */
  private othersPossible: boolean;
  private readonly upserted = new Map<string, string>();
  /** How to get the missing licenses, once described; with the approvals made. */
  private purchase: LicensePurchaseState | undefined;
  private approvedPurchase: LicensePurchaseApproval | undefined;
  private buying = false;
  private readonly notifier = new Notifier();
  /** Notifications being scheduled; the batch continues as new only once none is. */
  private sending = 0;

  constructor(private readonly input: ProvisionBatchInput) {
    const carried = input.carried;
    const options = input.options ?? {};
    this.settings = {
      concurrency: options.concurrency ?? BATCH_OPTION_RANGES.concurrency.default,
      quarantineRatio: options.quarantineRatio ?? BATCH_OPTION_RANGES.quarantineRatio.default,
      quarantineWindow: options.quarantineWindow ?? BATCH_OPTION_RANGES.quarantineWindow.default,
      licenseRecheckIntervalMs: options.licenseRecheckIntervalMs ?? BATCH_OPTION_RANGES.licenseRecheckIntervalMs.default,
      maxHistoryEvents: options.maxHistoryEvents ?? BATCH_OPTION_RANGES.maxHistoryEvents.default,
      retryWindowMs: options.retryWindowMs ?? BATCH_OPTION_RANGES.retryWindowMs.default,
    };
    const rows: BatchRowStatus[] = carried?.rows ?? input.rows.map((request, i) => ({
      row: i + 1,
      upn: request.upn,
      state: 'pending',
      ...(request.phoneNumber !== ANY_NUMBER ? { phoneNumber: request.phoneNumber } : {}),
      workflowId: resourceAccountWorkflowId(input.tenantId, request.upn),
      attempts: 0,
    }));
    this.book = new RowBook(rows, carried?.recentFinishes ?? [], carried?.recentFailures ?? []);
    this.phase = carried?.state ?? 'planning';
    this.pause = carried?.pause;
    this.controls = carried?.controls ?? [];
    this.totals = carried?.totals;
    this.cancelInFlight = carried?.cancelInFlight ?? false;
    this.startedAt = carried?.startedAt ?? new Date().toISOString();
    this.generation = (carried?.generation ?? 0) + 1;
    this.licensesChecked = carried?.licensesChecked ?? false;
    this.othersPossible = carried !== undefined;

    setHandler(getBatchProgressQuery, () => this.progress());
    setHandler(getBatchRowsQuery, (query) => this.rowsPage(query));
    setHandler(getBatchPlanQuery, () => this.plan);
    setHandler(rowReportSignal, (report) => this.news(report));
    setHandler(pauseBatchUpdate, (control) => this.doPause(control), { validator: (_control) => this.requireOpen('pause', true) });
    setHandler(resumeBatchUpdate, (control) => this.doResume(control), {
      validator: (_control) => {
        if (!this.pause) throw new Error(`the batch is not paused: it is ${this.state()}`);
      },
    });
    setHandler(cancelBatchUpdate, (control) => this.doCancel(control), { validator: (_control) => this.requireOpen('cancel', false) });
    setHandler(approveBatchLicensePurchaseUpdate, (approval) => this.approvePurchase(approval), {
      validator: (approval) => {
        const problem = this.phase === 'waiting-for-licenses' && !this.endedAt
          ? licensePurchaseApprovalProblem(this.purchase, approval, this.approvedPurchase !== undefined || this.buying)
          : `no purchase can be approved: the batch is ${this.state()}, not waiting for licenses`;
        if (problem) throw new Error(problem);
      },
    });
    setHandler(retryFailedRowsUpdate, (control) => this.doRetryFailed(control), {
      validator: (_control) => {
        this.requireOpen('retry failed rows', false);
        if (this.phase === 'cancelling') throw new Error('the batch is being cancelled');
        if (this.book.retryable().length === 0) throw new Error('no row has failed: nothing to retry (rows waiting for a decision take a decision instead)');
      },
    });
  }

  // ---- handlers ---------------------------------------------------------------------------------

  private requireOpen(what: string, notPaused: boolean): void {
    if (this.endedAt || (TERMINAL_BATCH_STATES.includes(this.phase) && this.phase !== 'completed-with-failures')) {
      throw new Error(`cannot ${what}: the batch has ended (${this.state()})`);
    }
    if (this.input.dryRun) throw new Error(`cannot ${what}: a dry run changes nothing`);
    if (this.phase === 'cancelling' && what !== 'retry failed rows') throw new Error(`cannot ${what}: the batch is being cancelled`);
    if (notPaused && this.pause) throw new Error(`the batch is paused already (by ${this.pause.by} at ${this.pause.at}: ${this.pause.reason})`);
  }

  private control(action: BatchControlRecord['action'], control: BatchControlInput): BatchControlRecord {
    const record: BatchControlRecord = { action, by: control.by ?? 'unnamed caller', at: new Date().toISOString(), ...(control.reason ? { reason: control.reason } : {}) };
    this.controls.push(record);
    this.wake();
    return record;
  }

  private doPause(control: BatchControlInput): BatchControlOutput {
    const record = this.control('pause', control);
    this.pause = { by: record.by, at: record.at, reason: control.reason ?? 'paused by an operator' };
    this.show();
    return { state: this.state() };
  }

  private doResume(control: BatchControlInput): BatchControlOutput {
    this.control('resume', control);
    this.pause = undefined;
    // Quarantine judges afresh from here.
    this.book.recentFailures = [];
    this.show();
    return { state: this.state() };
  }

  private doCancel(control: BatchControlInput & { inFlight?: boolean }): BatchControlOutput {
    this.control('cancel', control);
    let skipped = 0;
    for (const row of this.book.rows) {
      if (row.state !== 'pending') continue;
      this.book.set(row, 'skipped');
      row.outcome = 'not started: the batch was cancelled';
      skipped += 1;
    }
    this.cancelInFlight = control.inFlight === true;
    this.pause = undefined;
    this.phase = 'cancelling';
    this.show();
    return { state: this.state(), rows: skipped };
  }

  private approvePurchase(input: ApproveLicensePurchaseInput): ApproveLicensePurchaseOutput {
    const approval = acceptedApproval(input);
    this.approvedPurchase = approval;
    if (this.purchase) this.purchase.approvals = [...(this.purchase.approvals ?? []), approval];
    this.wake();
    this.show();
    return { accepted: true, units: input.units };
  }

  private doRetryFailed(control: BatchControlInput): BatchControlOutput {
    this.control('retry-failed', control);
    const rows = this.book.retryable();
    for (const row of rows) {
      this.book.set(row, 'pending');
      // A row that asked for any number gets one again: its own if its account holds one by now, else
      // a free one (the one it had may be what failed, e.g. taken by someone else meanwhile).
      if (this.input.rows[row.row - 1]?.phoneNumber === ANY_NUMBER) row.phoneNumber = undefined;
      row.error = undefined;
      row.outcome = undefined;
      row.step = undefined;
      row.endedAt = undefined;
      row.counted = undefined;
    }
    if (this.phase === 'completed-with-failures') this.phase = 'running';
    this.replan = rows.some((row) => !row.phoneNumber);
    this.show();
    return { state: this.state(), rows: rows.length };
  }

  /** A row's run reported (signal), or its result or a look at it came back. */
  private news(news: RunNews): void {
    const { changed, sample } = this.book.apply(news, Date.now());
    if (sample !== undefined) {
      this.book.sample(sample, this.settings.quarantineWindow);
      this.judgeQuarantine();
    }
    if (changed) this.wake();
  }

  private judgeQuarantine(): void {
    const sample = this.book.recentFailures;
    const window = this.settings.quarantineWindow;
    if (this.pause || this.phase !== 'running' || sample.length < window) return;
    const failures = sample.filter(Boolean).length;
    if (failures / window < this.settings.quarantineRatio) return;
    const causes = new Map<string, number>();
    for (const row of this.book.rows) {
      if (row.error && (row.state === 'needs-attention' || FINISHED_ROW_STATES.includes(row.state))) causes.set(row.error.type, (causes.get(row.error.type) ?? 0) + 1);
    }
    const top = [...causes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([type, n]) => `${type} ×${n}`).join(', ');
    const reason = `quarantine: ${failures} of the last ${window} rows to stop failed or need a decision (${Math.round(this.settings.quarantineRatio * 100)}% ` +
      `pauses the batch)${top ? `; most common: ${top}` : ''}. Rows already going carry on; no new row starts. Fix the cause, then resume ` +
      '(and retry-failed for rows that ended, or decide for rows that wait)';
    const at = new Date().toISOString();
    this.pause = { by: AUTOMATIC, at, reason, quarantine: true };
    this.controls.push({ action: 'quarantine', by: AUTOMATIC, at, reason });
    log.warn('batch quarantined', { batchId: this.input.batchId, failures, window });
    void this.notify('needs-attention');
  }

  private isCancelling(): boolean {
    return this.phase === 'cancelling';
  }

  private wake(): void {
    this.changed = true;
  }

  // ---- the run ----------------------------------------------------------------------------------

  async execute(): Promise<ProvisionBatchOutput> {
    this.upsert();
    try {
      if (this.input.dryRun) {
        this.plan = await planning.planBatch({ rows: this.numberedRows(), mode: 'dry-run', ...this.deletedPolicy() });
        this.totals = this.plan.totals;
        this.phase = 'planned';
        this.endedAt = new Date().toISOString();
        this.upsert();
        await condition(allHandlersFinished);
        return { progress: this.progress(), plan: this.plan };
      }
      if (this.phase === 'planning') await this.planRows();
      if (!this.licensesChecked) await this.waitForLicenses();
      return await this.runWindow();
    } catch (err) {
      if (isCancellation(err)) {
        // Cancelled from outside (Web UI, CLI): nothing more starts; runs already going carry on.
        await CancellationScope.nonCancellable(async () => {
          for (const row of this.book.rows) {
            if (row.state === 'pending') {
              this.book.set(row, 'skipped');
              row.outcome = 'not started: the batch workflow was cancelled';
            }
          }
          this.phase = 'cancelled';
          this.endedAt = new Date().toISOString();
          this.upsert();
          await this.notify('cancelled');
        });
      }
      throw err;
    }
  }

  private numberedRows() {
    return this.input.rows.map((row, i) => ({ ...row, row: i + 1 }));
  }

  private deletedPolicy() {
    const policy = this.input.options?.rowOptions?.onDeletedAccount;
    return policy ? { onDeletedAccount: policy } : {};
  }

  /** Reads the tenant once: numbers for "any" rows, rows already provisioned, the license need. */
  private async planRows(rowNumbers?: Set<number>): Promise<void> {
    const rows = this.numberedRows().filter((row) => !rowNumbers || rowNumbers.has(row.row));
    const reservedNumbers = rowNumbers
      ? this.book.rows.filter((row) => !rowNumbers.has(row.row) && row.phoneNumber).map((row) => row.phoneNumber as string)
      : [];
    const plan = await planning.planBatch({ rows, mode: 'run', reservedNumbers, ...this.deletedPolicy() });
    for (const planned of plan.rows) {
      const row = this.book.rows[planned.row - 1];
      if (!row || row.state !== 'pending') continue;
      if (planned.phoneNumber) row.phoneNumber = planned.phoneNumber;
      if (planned.accountId) row.accountId = planned.accountId;
      if (planned.action === 'already-provisioned') {
        this.book.set(row, 'completed');
        row.outcome = `already provisioned: ${row.upn} holds the license and ${planned.phoneNumber ?? 'its number'}; nothing to do`;
        row.endedAt = new Date().toISOString();
      } else if (!planned.phoneNumber) {
        const problem = planned.problems.find((p) => p.field === 'phoneNumber');
        this.book.set(row, 'failed');
        row.error = { type: problem?.type ?? 'NumberNotFound', message: problem?.message ?? 'no number could be allocated' };
        row.outcome = 'not started: no number for it';
        row.endedAt = new Date().toISOString();
      }
    }
    if (!rowNumbers) this.totals = plan.totals;
    if (this.phase === 'planning') this.phase = 'running';
    this.show();
  }

  /** The license need, checked once for the whole batch; if short, wait once, saying how many to buy. */
  private async waitForLicenses(): Promise<void> {
    const needed = this.totals?.licenses.needed ?? 0;
    let free = this.totals?.licenses.free ?? 0;
    let checks = 0;
    const interval = this.settings.licenseRecheckIntervalMs;
    // A cancel may come at any await below (the look at the stock included): it ends the wait.
    while (free < needed && !this.isCancelling()) {
      this.phase = 'waiting-for-licenses';
      this.licenseWait = { needed, free, short: needed - free, checks, nextCheckAt: new Date(Date.now() + interval).toISOString(), ...this.purchaseShown(needed - free) };
      this.upsert();
      if (checks === 0 && this.purchase === undefined && patched(BATCH_LICENSE_PROCUREMENT_PATCH)) await this.describePurchase(needed - free);
      if (checks === 0) void this.notify('needs-attention');
      this.changed = false;
      if (await condition(() => this.isCancelling() || (this.approvedPurchase !== undefined && !this.buying), interval)) {
        if (this.isCancelling()) break;
        await this.buyApproved();
        continue;
      }
      const stock = await looking.readLicenseStock({ needed });
      checks += 1;
      free = stock.free;
      this.licenseWait = { needed, free, short: Math.max(0, needed - free), checks, lastCheckAt: new Date().toISOString(), nextCheckAt: new Date(Date.now() + interval).toISOString(), ...this.purchaseShown(needed - free) };
      if (free >= needed) {
        this.controls.push({ action: 'licenses-available', by: AUTOMATIC, at: new Date().toISOString(), reason: `${free} licenses free, ${needed} needed` });
      }
    }
    this.licenseWait = undefined;
    this.licensesChecked = true;
    if (this.phase === 'waiting-for-licenses') this.phase = 'running';
    this.upsert();
  }

  /** The purchase state as the progress shows it, with the current shortfall. */
  private purchaseShown(short: number): { purchase?: LicensePurchaseState } {
    if (!this.purchase) return {};
    this.purchase.shortfall = Math.max(0, short);
    return { purchase: this.purchase };
  }

  /** What buying the batch's shortfall takes; an approval then buys it all at once (one per-batch ceiling). */
  private async describePurchase(short: number): Promise<void> {
    try {
      const described = await describingPurchase.describeLicensePurchase({ shortfall: short });
      this.purchase = { ...described };
      if (this.licenseWait) this.licenseWait = { ...this.licenseWait, purchase: this.purchase };
      this.show();
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.info('the license purchase could not be described', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Makes the approved purchase through an activity; the wait then goes on until the seats are free. */
  private async buyApproved(): Promise<void> {
    const approval = this.approvedPurchase;
    if (!approval) return;
    this.buying = true;
    const number = this.purchase?.approvals?.length ?? 1;
    const { workflowId, firstExecutionRunId } = workflowInfo();
    try {
      const result = await buyingLicenses.purchaseLicenses({
        units: approval.units,
        approvedBy: approval.by,
        ...(approval.reason ? { reason: approval.reason } : {}),
        idempotencyKey: `${workflowId}/${firstExecutionRunId}/purchase-${number}`,
        batchId: this.input.batchId,
        day: approval.at.slice(0, 10),
      });
      approval.state = 'bought';
      approval.result = result.summary;
      this.controls.push({ action: 'license-purchase', by: approval.by, at: new Date().toISOString(), reason: result.summary });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ActivityFailure ? err.cause : err;
      approval.state = 'failed';
      approval.error = cause instanceof ApplicationFailure
        ? { type: cause.type ?? 'Error', message: cause.message }
        : { type: 'Error', message: cause instanceof Error ? cause.message : String(cause) };
    } finally {
      this.buying = false;
      this.approvedPurchase = undefined;
      this.show();
    }
  }

  private async runWindow(): Promise<ProvisionBatchOutput> {
    let closeAt: number | undefined;
    for (;;) {
      if (this.phase === 'cancelling' && this.cancelInFlight && !this.cancelSent) await this.cancelRowsInFlight();
      // A long history: start nothing more, let the starts in flight land, then continue as new.
      const continueNow = workflowInfo().historyLength >= this.settings.maxHistoryEvents || workflowInfo().continueAsNewSuggested;
      if (continueNow && this.starting === 0 && !this.book.allFinished()) {
        await condition(() => allHandlersFinished() && this.sending === 0);
        if (this.starting === 0) await continueAsNew<typeof provisionBatch>({ ...this.input, carried: this.carry() });
      }
      if (!continueNow) this.fill();
      const unplanned = this.replan ? this.book.rows.filter((row) => row.state === 'pending' && !row.phoneNumber).map((row) => row.row) : [];
      if (unplanned.length > 0 && !this.pause && this.phase === 'running') {
        this.replan = false;
        // Rows retried after they had no number: allocate again, never a number another row holds.
        await this.planRows(new Set(unplanned));
        continue;
      }
      if (this.book.allFinished() && this.starting === 0) {
        const failures = this.book.retryableCount();
        if (this.phase === 'cancelling' || failures === 0) break;
        // Rows ended that did not complete: stay open a while for retry-failed.
        this.phase = 'completed-with-failures';
        if (closeAt === undefined && this.settings.retryWindowMs > 0) void this.notify('needs-attention');
        closeAt ??= Date.now() + this.settings.retryWindowMs;
        this.upsert();
        this.changed = false;
        if (!(await condition(() => this.changed, Math.max(0, closeAt - Date.now())))) break;
        continue;
      }
      closeAt = undefined;
      this.armFollow();
      this.upsert();
      this.changed = false;
      await condition(() => this.changed || this.followDue);
      if (this.followDue) await this.follow();
    }
    return CancellationScope.nonCancellable(async () => {
      this.phase = this.phase === 'cancelling' ? 'cancelled' : this.book.retryableCount() > 0 ? 'completed-with-failures' : 'completed';
      this.endedAt = new Date().toISOString();
      this.upsert();
      await this.notify(this.phase as NotifiedBatchState);
      await condition(() => allHandlersFinished() && this.sending === 0);
      return { progress: this.progress() };
    });
  }

  /** Starts rows while the window has room. */
  private fill(): void {
    if (this.pause || this.phase !== 'running') return;
    let going = this.book.count('running');
    while (going < this.settings.concurrency) {
      const row = this.book.nextPending();
      if (!row || !row.phoneNumber) return;
      this.book.set(row, 'running');
      row.attempts += 1;
      row.startedAt = new Date().toISOString();
      row.runId = undefined;
      row.joined = undefined;
      row.counted = undefined;
      going += 1;
      void this.start(row);
    }
  }

  private async start(row: BatchRowStatus): Promise<void> {
    const request = this.input.rows[row.row - 1];
    if (!request || !row.phoneNumber) return;
    const childInput: ProvisionResourceAccountInput = {
      tenantId: this.input.tenantId,
      upn: request.upn,
      displayName: request.displayName,
      kind: request.kind,
      usageLocation: request.usageLocation,
      phoneNumber: row.phoneNumber,
      phoneNumberType: 'callingPlan',
      ...(request.associateWith
        ? { association: { configurationId: request.associateWith, configurationType: CONFIGURATION_TYPE_FOR_KIND[request.kind], ...(request.callPriority ? { callPriority: request.callPriority } : {}) } }
        : {}),
      batchId: this.input.batchId,
      ...(this.input.options?.rowOptions ? { options: this.input.options.rowOptions } : {}),
      // Every row's run tells the batch's receiver too.
      ...(this.input.notify ? { notify: this.input.notify } : {}),
    };
    this.starting += 1;
    try {
      const child = await startChild(provisionResourceAccount, {
        workflowId: row.workflowId,
        args: [childInput],
        // Rows outlive this run of the batch (it continues as new) and a cancelled batch lets them finish.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        staticSummary: provisioningSummary(childInput),
        staticDetails: `${provisioningDetails(childInput)}\n\nRow ${row.row} of batch \`${this.input.batchId}\`.`,
        typedSearchAttributes: [
          { key: searchAttributes.batchId, value: this.input.batchId },
          { key: searchAttributes.upn, value: request.upn.toLowerCase() },
          { key: searchAttributes.phoneNumber, value: row.phoneNumber },
        ],
      });
      row.runId = child.firstExecutionRunId;
      this.own.add(row.workflowId);
      child.result().then(
        (status) => this.news({ workflowId: row.workflowId, runId: child.firstExecutionRunId, state: status.state, ...errorOf(status), ...(status.accountId ? { accountId: status.accountId } : {}), ...(status.outcome ? { outcome: status.outcome } : {}) }),
        (err: unknown) => this.news({
          workflowId: row.workflowId,
          runId: child.firstExecutionRunId,
          state: isCancellation(err) ? 'cancelled' : 'failed',
          error: { type: 'RunFailed', message: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) },
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // A run for this account is going already (a single request, another batch): the row follows it.
        row.joined = true;
        this.othersPossible = true;
        this.followDue = true;
      } else {
        this.book.set(row, 'failed');
        row.error = { type: 'StartFailed', message: err instanceof Error ? err.message : String(err) };
        row.endedAt = new Date().toISOString();
      }
    } finally {
      this.starting -= 1;
      this.wake();
    }
  }

  /** One timer at a time for looking at runs that do not report to this run of the batch. */
  private armFollow(): void {
    if (this.followTimer || !this.othersPossible) return;
    const others = this.book.rows.filter((row) => (row.state === 'running' || row.state === 'needs-attention') && !this.own.has(row.workflowId));
    if (others.length === 0) {
      this.othersPossible = false;
      return;
    }
    this.followTimer = true;
    const interval = others.some((row) => row.joined) ? FOLLOW_JOINED_INTERVAL_MS : FOLLOW_INTERVAL_MS;
    void sleep(interval).then(() => {
      this.followTimer = false;
      this.followDue = true;
    });
  }

  private async follow(): Promise<void> {
    this.followDue = false;
    const others = this.book.rows.filter((row) => (row.state === 'running' || row.state === 'needs-attention') && !this.own.has(row.workflowId) && (row.runId || row.joined));
    for (let i = 0; i < others.length; i += 200) {
      const { runs } = await looking.followRuns({
        runs: others.slice(i, i + 200).map((row) => ({ workflowId: row.workflowId, ...(row.runId ? { runId: row.runId } : {}) })),
      });
      for (const run of runs) this.news(run);
    }
  }

  private async cancelRowsInFlight(): Promise<void> {
    this.cancelSent = true;
    const going = this.book.rows.filter((row) => (row.state === 'running' || row.state === 'needs-attention') && !row.joined);
    await Promise.all(going.map((row) => getExternalWorkflowHandle(row.workflowId, row.runId).cancel().catch((err: unknown) => {
      log.info('cancel of a row run failed', { workflowId: row.workflowId, error: err instanceof Error ? err.message : String(err) });
    })));
  }

  /**
   * Tells the batch's caller and the operator's receivers that the batch is in `state` (a CloudEvent
   * delivered by its own workflow; the batch never waits on a receiver).
   */
  private async notify(state: NotifiedBatchState): Promise<void> {
    if (this.input.dryRun || !patched(NOTIFICATIONS_PATCH)) return;
    const url = this.input.notify?.url;
    this.sending += 1;
    try {
      await this.notifier.send(batchEvent(this.input.tenantId, this.progress(), state), url ? [{ url, origin: 'batch' }] : []);
    } finally {
      this.sending -= 1;
    }
  }

  private carry(): BatchCarriedState {
    return {
      rows: this.book.rows,
      state: this.phase,
      ...(this.pause ? { pause: this.pause } : {}),
      controls: this.controls.slice(-100),
      ...(this.totals ? { totals: this.totals } : {}),
      recentFinishes: this.book.recentFinishes,
      recentFailures: this.book.recentFailures,
      cancelInFlight: this.cancelInFlight,
      startedAt: this.startedAt,
      generation: this.generation,
      licensesChecked: this.licensesChecked,
    };
  }

  // ---- what operators see -----------------------------------------------------------------------

  private state(): BatchState {
    if (this.pause && !this.endedAt && (this.phase === 'running' || this.phase === 'waiting-for-licenses' || this.phase === 'planning')) return 'paused';
    return this.phase;
  }

  progress(): BatchProgress {
    const counts = this.book.counts();
    const rate = this.book.ratePerMinute();
    const remaining = counts.pending + counts.running;
    const progress: BatchProgress = {
      batchId: this.input.batchId,
      workflowId: workflowInfo().workflowId,
      state: this.state(),
      dryRun: this.input.dryRun === true,
      rows: this.book.rows.length,
      counts,
      ...(rate !== undefined ? { ratePerMinute: Math.round(rate * 10) / 10 } : {}),
      ...(rate && remaining > 0 && !this.endedAt ? { etaSeconds: Math.round((remaining / rate) * 60) } : {}),
      attention: (counts['needs-attention'] === 0 ? [] : this.book.rows.filter((row) => row.state === 'needs-attention').slice(0, ATTENTION_LISTED))
        .map((row) => ({ row: row.row, upn: row.upn, ...(row.step ? { step: row.step } : {}), ...(row.error ? { error: row.error } : {}) })),
      ...(this.pause ? { pause: this.pause } : {}),
      ...(this.licenseWait ? { licenses: this.licenseWait } : {}),
      ...(this.totals ? { totals: this.totals } : {}),
      message: '',
      controls: this.controls,
      ...(this.input.submittedBy ? { submittedBy: this.input.submittedBy } : {}),
      startedAt: this.startedAt,
      ...(this.endedAt ? { endedAt: this.endedAt } : {}),
      generation: this.generation,
    };
    progress.message = batchMessage(progress);
    return progress;
  }

  private rowsPage(query: BatchRowsQueryInput): BatchRowsPage {
    const matching = query.state ? this.book.rows.filter((row) => row.state === query.state) : this.book.rows;
    const offset = Math.max(0, query.offset ?? 0);
    const limit = Math.min(Math.max(1, query.limit ?? 100), 1000);
    const rows = matching.slice(offset, offset + limit).map(({ counted: _counted, ...row }) => row);
    return { rows, total: matching.length, ...(offset + limit < matching.length ? { nextOffset: offset + limit } : {}) };
  }

  /** Keeps the search attributes (state, batch id) current, writing only changes, and the details. */
  private upsert(): void {
    const wanted = [
      { key: searchAttributes.state, value: this.state() },
      { key: searchAttributes.batchId, value: this.input.batchId },
    ];
    const changed = wanted.filter(({ key, value }) => this.upserted.get(key.name) !== value);
    if (changed.length > 0) {
      upsertSearchAttributes(changed);
      for (const { key, value } of changed) this.upserted.set(key.name, value);
    }
    this.show();
  }

  private show(): void {
    setCurrentDetails(batchDetails(this.progress(), this.input.batchId));
  }
}

function errorOf(status: Parameters<typeof latestError>[0]): { error?: { type: string; message: string } } {
  const error = latestError(status);
  return error ? { error } : {};
}
