/**
 * One provisioning run: its state and every message handler in one class (the shape of Temporal's
 * safe-message-handlers sample). Handlers change state synchronously, so two decisions that arrive
 * together cannot both be accepted; the main routine only reads what they recorded.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxySinks,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import type { Activities, PreflightOutput } from '../../activities/types';
import type { LicensingActivities } from '../../activities/licensing/activities';
import { ErrorType, NEEDS_PERSON_ERROR_TYPES } from '../../lib/error-types';
import { CONFIGURATION_TYPE_FOR_KIND, OPTION_RANGES } from '../../lib/validation';
import type { DeletedAccountPolicy } from '../../lib/validation';
import {
  AUTOMATIC_DECIDER,
  LICENSE_PURCHASE_CALL,
  stepsOf,
  STEP_TITLES,
  UNDO_TITLES,
  approveLicensePurchaseUpdate,
  decideUpdate,
  getStatusQuery,
  acceptedApproval,
  licensePurchaseApprovalProblem,
  latestError,
  searchAttributes,
} from './definitions';
import type {
  ApproveLicensePurchaseInput,
  ApproveLicensePurchaseOutput,
  Decision,
  DecisionInput,
  DecisionOutput,
  DecisionRecord,
  LicensePurchaseApproval,
  ProvisionResourceAccountInput,
  ProvisionResourceAccountStatus,
  ProvisioningMetricsSinks,
  ProvisioningState,
  StepError,
  StepName,
} from './definitions';
import { currentDetails, decisionCommands } from './presentation';
import { rowReportSignal } from '../provision-batch/definitions';
import { NOTIFIED_RUN_STATES } from '../notification/definitions';
import type { NotifiedRunState } from '../notification/definitions';
import { runEvent } from '../notification/events';
import { NOTIFICATIONS_PATCH, Notifier } from '../notification/send';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_PROPAGATION_TIMEOUT_MS = OPTION_RANGES.propagationTimeoutMs.default;
export const DEFAULT_ATTENTION_TIMEOUT_MS = OPTION_RANGES.attentionTimeoutMs.default;
export const DEFAULT_LICENSE_RECHECK_INTERVAL_MS = OPTION_RANGES.licenseRecheckIntervalMs.default;

const nonRetryableErrorTypes = [...NEEDS_PERSON_ERROR_TYPES];

/** The worker's business metrics; calls add no command, so no patch is needed for them. */
const { provisioningMetrics } = proxySinks<ProvisioningMetricsSinks>();

function secondsSince(iso: string): number {
  return Math.max(0, (Date.now() - Date.parse(iso)) / SECOND);
}

/** Single Graph/Teams calls: seconds each; retried through throttling and replication lag for up to 30 min. */
const directoryCall: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
};

/** The periodic look at the license stock while a run waits for licenses: one short try; a failure is "not yet". */
const stockCheck: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
};

/**
 * Condition waits: each attempt polls for a short while (heartbeating), then fails retryably so that
 * Temporal's backoff spaces out long waits cheaply. Bounded by the run's propagation deadline.
 */
function conditionWait(deadlineMs: number): ActivityOptions {
  return {
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '1 minute',
    scheduleToCloseTimeout: deadlineMs,
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes },
  };
}

/**
 * The license wait: the worker's shared license watch answers every waiting account with one look, so
 * one attempt waits up to half an hour (heartbeating each look) and the next follows within a minute;
 * Temporal's growing backoff would leave a ready license unseen for up to its maximum interval.
 */
function licenseWait(deadlineMs: number): ActivityOptions {
  return {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '1 minute',
    scheduleToCloseTimeout: deadlineMs,
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
  };
}

/** Marks runs that describe (and may buy) licenses while they wait for them; older histories did not. */
const LICENSE_PROCUREMENT_PATCH = 'license-procurement';

/** Undo steps retry longer since nothing else is waiting; they run shielded from cancellation. */
const compensationCall: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  scheduleToCloseTimeout: '2 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes },
};

/** Activities whose scheduled events carry `summary` as their title in the Web UI. */
function activities(summary: string, options: ActivityOptions) {
  return proxyActivities<Activities>({ ...options, summary });
}

/** License-procurement activities, titled like the others. */
function licensing(summary: string, options: ActivityOptions) {
  return proxyActivities<LicensingActivities>({ ...options, summary });
}

/** An operator (or the deadline) chose to stop going forward. */
class OperatorStop extends Error {
  constructor(readonly decision: Exclude<Decision, 'retry'>) {
    super(`operator chose ${decision}`);
  }
}

/** The pre-flight found problems: carried to needs-attention as one error listing them all. */
class PreflightProblems extends Error {
  constructor(readonly result: PreflightOutput) {
    super(result.problems.map((p) => p.message).join(' '));
  }
}

interface Compensation {
  step: keyof typeof UNDO_TITLES;
  /** What the undo removes, as a person reads it. */
  what: string;
  undo: () => Promise<unknown>;
}

/** A check the run makes by itself while it waits in needs-attention; `go` when the cause is gone. */
interface AutoRetry {
  what: string;
  /** Set for the license wait: licenses short, which a purchase may cover. */
  licenses?: number;
  check: () => Promise<{ go: boolean; result: string }>;
}

export interface RunSettings {
  propagationTimeoutMs: number;
  attentionTimeoutMs: number;
  licenseRecheckIntervalMs: number;
}

export function settingsFor(input: ProvisionResourceAccountInput): RunSettings {
  const options = input.options ?? {};
  return {
    propagationTimeoutMs: options.propagationTimeoutMs ?? DEFAULT_PROPAGATION_TIMEOUT_MS,
    attentionTimeoutMs: options.attentionTimeoutMs ?? DEFAULT_ATTENTION_TIMEOUT_MS,
    licenseRecheckIntervalMs: options.licenseRecheckIntervalMs ?? DEFAULT_LICENSE_RECHECK_INTERVAL_MS,
  };
}

export class ProvisioningRun {
  readonly status: ProvisionResourceAccountStatus;
  /** The decision the handler accepted and the waiting routine has not taken up yet. */
  private decided: DecisionRecord | undefined;
  /** Newest last; undone newest first. */
  private readonly compensations: Compensation[] = [];
  /** The request's choice, replaced by an operator's retry decision that names one. */
  private onDeletedAccount: DeletedAccountPolicy | undefined;
  private readonly numberType: 'callingPlan';
  /** The search attribute values last upserted, so only changes are written. */
  private readonly upserted = new Map<string, string | null>();
  /** An approved license purchase the waiting routine has not made yet (or is making). */
  private approvedPurchase: LicensePurchaseApproval | undefined;
  private buying = false;
  private readonly notifier = new Notifier();
  /** Events being scheduled; the run ends only once none is, so no event is lost with it. */
  private sending = 0;

  constructor(
    private readonly input: ProvisionResourceAccountInput,
    private readonly settings: RunSettings,
  ) {
    this.onDeletedAccount = input.options?.onDeletedAccount;
    this.numberType = input.phoneNumberType ?? 'callingPlan';
    this.status = {
      workflowId: workflowInfo().workflowId,
      state: 'running',
      steps: stepsOf(input).map((name) => ({ name, title: STEP_TITLES[name], status: 'pending' })),
      request: input,
      decisions: [],
      startedAt: new Date().toISOString(),
    };
    setHandler(getStatusQuery, () => this.status);
    setHandler(decideUpdate, (decision) => this.decide(decision), { validator: (decision) => this.validateDecision(decision) });
    setHandler(approveLicensePurchaseUpdate, (approval) => this.approvePurchase(approval), { validator: (approval) => this.validatePurchaseApproval(approval) });
    CancellationScope.current().cancelRequested.catch(() => {
      this.status.cancelRequestedAt ??= new Date().toISOString();
      this.show();
    });
  }

  // ---- message handlers -------------------------------------------------------------------------

  private validateDecision(decision: DecisionInput): void {
    const attention = this.status.attention;
    if (this.decided || this.status.state !== 'needs-attention' || !attention) {
      const last = this.status.decisions[this.status.decisions.length - 1];
      const taken = last && this.status.state !== 'needs-attention'
        ? `; the last decision was ${last.decision} by ${last.by} at ${last.at}` : '';
      throw new Error(`no decision is pending: the run is ${this.status.state}${taken}`);
    }
    if (!attention.allowedDecisions.includes(decision.decision)) {
      throw new Error(`decision must be one of ${attention.allowedDecisions.join(', ')}`);
    }
    if (decision.onDeletedAccount !== undefined && (decision.decision !== 'retry' || !holdsDeletedAccountProblem(attention.error))) {
      throw new Error('onDeletedAccount goes only with retry, when a deleted account holds the UPN');
    }
  }

  private validatePurchaseApproval(approval: ApproveLicensePurchaseInput): void {
    const problem = this.status.state === 'needs-attention' && !this.decided
      ? licensePurchaseApprovalProblem(this.status.attention?.purchase, approval, this.approvedPurchase !== undefined || this.buying)
      : `no purchase can be approved: the run is ${this.status.state}`;
    if (problem) throw new Error(problem);
  }

  /** Synchronous: records the approval; the waiting routine buys (through an activity) and keeps waiting for the seats. */
  private approvePurchase(input: ApproveLicensePurchaseInput): ApproveLicensePurchaseOutput {
    const approval = acceptedApproval(input);
    this.approvedPurchase = approval;
    const purchase = this.status.attention?.purchase;
    if (purchase) purchase.approvals = [...(purchase.approvals ?? []), approval];
    this.show();
    return { accepted: true, units: input.units };
  }

  /** Synchronous: records the decision and leaves needs-attention at once, so a second decision is refused. */
  private decide(decision: DecisionInput): DecisionOutput {
    const state = this.record({ ...decision, by: decision.by ?? 'unnamed caller' });
    return { accepted: true, state };
  }

  private record(decision: Omit<DecisionRecord, 'at' | 'step'>): ProvisioningState {
    const attention = this.status.attention;
    const step = attention?.step ?? this.status.currentStep ?? 'preflight';
    const entry: DecisionRecord = { ...decision, at: new Date().toISOString(), step };
    this.status.decisions.push(entry);
    this.decided = entry;
    if (attention) {
      provisioningMetrics.attentionEnded({
        errorType: attention.error.type, step: attention.step, undo: attention.undo === true,
        decision: decision.decision, automatic: decision.automatic === true, seconds: secondsSince(attention.since),
      });
    }
    this.status.attention = undefined;
    const next: ProvisioningState =
      decision.decision === 'retry' ? (attention?.undo ? 'rolling-back' : 'running') : decision.decision === 'rollback' ? 'rolling-back' : 'abandoned';
    this.setState(next);
    return next;
  }

  // ---- the run ----------------------------------------------------------------------------------

  async execute(): Promise<ProvisionResourceAccountStatus> {
    const { input } = this;
    this.setState('running', undefined, [
      { key: searchAttributes.upn, value: input.upn.toLowerCase() },
      { key: searchAttributes.phoneNumber, value: input.phoneNumber },
      ...(input.batchId ? [{ key: searchAttributes.batchId, value: input.batchId }] : []),
    ]);
    provisioningMetrics.runStarted();
    try {
      await this.provision();
      return await this.finish('completed', `${input.upn.toLowerCase()} is provisioned with ${input.phoneNumber}`);
    } catch (err) {
      if (err instanceof OperatorStop) {
        if (err.decision === 'rollback' && (await this.rollBack())) {
          return await this.finish('rolled-back', 'rolled back by operator decision: everything this run did was undone' +
            (this.stepOf('createAccount').status === 'undone' ? " (the deleted account stays 30 days in Entra's deleted users)" : ''));
        }
        this.status.leftBehind = this.stillInTenant();
        const left = this.status.leftBehind.length > 0 ? `; left in the tenant: ${this.status.leftBehind.join('; ')}` : '; it had changed nothing';
        const last = this.status.decisions[this.status.decisions.length - 1];
        const how = last?.automatic ? `by itself: ${last.reason ?? 'no decision came'}` : `by ${last?.by ?? 'an operator'}${last?.reason ? ` (${last.reason})` : ''}`;
        return await this.finish('abandoned', `abandoned ${how}${left}`);
      }
      if (isCancellation(err)) {
        this.status.leftBehind = [...this.interrupted(), ...this.stillInTenant()];
        const left = this.status.leftBehind.length > 0 ? `; left in the tenant: ${this.status.leftBehind.join('; ')}` : '';
        await this.finish('cancelled', `cancelled where it was${left}`);
      }
      throw err;
    }
  }

  private async provision(): Promise<void> {
    const { input, settings } = this;
    const plan = await this.step(
      'preflight',
      async () => {
        const result = await activities(STEP_TITLES.preflight, directoryCall).preflight({
          upn: input.upn,
          kind: input.kind,
          usageLocation: input.usageLocation,
          phoneNumber: input.phoneNumber,
          numberType: this.numberType,
          ...(this.onDeletedAccount ? { onDeletedAccount: this.onDeletedAccount } : {}),
          ...(input.association
            ? { association: { configurationId: input.association.configurationId, configurationType: input.association.configurationType ?? CONFIGURATION_TYPE_FOR_KIND[input.kind] } }
            : {}),
        });
        if (result.problems.length > 0) throw new PreflightProblems(result);
        return result;
      },
      describePlan,
    );
    const license = plan.license;
    if (!license) throw ApplicationFailure.nonRetryable('the pre-flight passed without a license stock', 'InternalError');
    // Durable fact: nothing held the UPN before this run wrote anything, so the account is the run's own
    // even when a lost answer makes the create step find it "existing" (adopted).
    const nothingBefore = plan.account.state === 'absent' || plan.account.state === 'deleted';

    const account = await this.step(
      'createAccount',
      () =>
        activities(STEP_TITLES.createAccount, directoryCall).createResourceAccount({
          upn: input.upn,
          displayName: input.displayName,
          kind: input.kind,
          ...(this.onDeletedAccount ? { onDeletedAccount: this.onDeletedAccount } : {}),
        }),
      (r) =>
        (r.adopted && !nothingBefore ? `adopted existing account ${r.accountId}` : r.restored ? `restored deleted account ${r.accountId}` : `created account ${r.accountId}`) +
        (r.purgedDeletedAccountId ? ` (after permanently deleting the deleted account ${r.purgedDeletedAccountId} that held the UPN)` : ''),
    );
    const adopted = account.adopted && !nothingBefore;
    this.status.accountId = account.accountId;
    this.status.adopted = adopted;
    if (!adopted) {
      this.compensations.push({
        step: 'createAccount',
        what: `resource account ${input.upn} (${account.accountId})`,
        undo: () => activities(UNDO_TITLES.createAccount, compensationCall).deleteResourceAccount({ accountId: account.accountId }),
      });
    }

    const licensed = await this.step(
      'assignLicense',
      () =>
        activities(STEP_TITLES.assignLicense, directoryCall).assignLicense({
          accountId: account.accountId,
          usageLocation: input.usageLocation,
          skuId: license.skuId,
        }),
      (r) => (r.licenseAdded ? `usage location ${input.usageLocation}, license assigned` : `usage location ${input.usageLocation}, license already assigned`),
    );
    // Propagation is timed from this run's own assignment only (an adopted license may be days old).
    const licenseAssignedAt = licensed.licenseAdded ? Date.now() : undefined;
    // Durable fact again: a license the account did not hold at the pre-flight is this run's, even when a
    // lost answer made the step find it "already assigned".
    if (licensed.licenseAdded || !plan.account.holdsLicense) {
      this.compensations.push({
        step: 'assignLicense',
        what: `the ${license.skuPartNumber} license on ${input.upn}`,
        undo: () => activities(UNDO_TITLES.assignLicense, compensationCall).removeLicense({ accountId: account.accountId, skuId: license.skuId }),
      });
    }

    await this.step(
      'waitForLicense',
      () =>
        activities(STEP_TITLES.waitForLicense, licenseWait(settings.propagationTimeoutMs)).waitForLicense({
          accountId: account.accountId,
          skuId: license.skuId,
          ...(license.servicePlanIds ? { servicePlanIds: license.servicePlanIds } : {}),
        }),
      (r) => `license provisioned (seen after ${r.checks} check${r.checks === 1 ? '' : 's'})`,
    );
    if (licenseAssignedAt !== undefined) provisioningMetrics.licensePropagated({ seconds: (Date.now() - licenseAssignedAt) / SECOND });

    const unassignNumber: Compensation = {
      step: 'assignNumber',
      what: `${input.phoneNumber} on ${input.upn}, if the assignment reached Teams`,
      undo: () =>
        activities(UNDO_TITLES.assignNumber, compensationCall).unassignPhoneNumber({
          accountId: account.accountId,
          phoneNumber: input.phoneNumber,
          numberType: this.numberType,
        }),
    };
    // An assignment can land in Teams although the step failed (an answer lost, an operation that went
    // on): on an account this run owns, the number comes off before the account can be deleted. The undo
    // does nothing when the number is not on the account. On an adopted account only a number this run
    // is known to have assigned is removed.
    if (!adopted) this.compensations.push(unassignNumber);
    const number = await this.step(
      'assignNumber',
      () =>
        activities(STEP_TITLES.assignNumber, conditionWait(settings.propagationTimeoutMs)).assignPhoneNumber({
          accountId: account.accountId,
          phoneNumber: input.phoneNumber,
          numberType: this.numberType,
        }),
      (r) => (r.assigned ? `${input.phoneNumber} assigned` : `${input.phoneNumber} was already assigned to this account`),
    );
    unassignNumber.what = `${input.phoneNumber} on ${input.upn}`;
    if (adopted && (number.assigned || !plan.number?.onThisAccount)) this.compensations.push(unassignNumber);

    const association = input.association;
    if (!association) return;
    const configurationType = association.configurationType ?? CONFIGURATION_TYPE_FOR_KIND[input.kind];
    const target = `the ${configurationType === 'AutoAttendant' ? 'auto attendant' : 'call queue'} ${association.configurationId}`;
    const removeAssociation: Compensation = {
      step: 'associate',
      what: `the association of ${input.upn} with ${target}, if it was made`,
      undo: () =>
        activities(UNDO_TITLES.associate, compensationCall).removeAssociation({ accountId: account.accountId, configurationId: association.configurationId }),
    };
    // As with the number: an association can be made although the step failed (a lost answer). The undo
    // removes only an association with this configuration, and none at all when there is none.
    const associatedBefore = plan.account.associatedWith?.toLowerCase() === association.configurationId.toLowerCase();
    if (!associatedBefore) this.compensations.push(removeAssociation);
    await this.step(
      'associate',
      () =>
        activities(STEP_TITLES.associate, conditionWait(settings.propagationTimeoutMs)).associateAccount({
          accountId: account.accountId,
          upn: input.upn,
          configurationId: association.configurationId,
          configurationType,
          ...(association.callPriority ? { callPriority: association.callPriority } : {}),
        }),
      (r) => (r.associated ? `associated with ${target}` : `was already associated with ${target}`),
    );
    removeAssociation.what = `the association of ${input.upn} with ${target}`;
  }

  /**
   * Runs one step; when it fails in a way a person must fix (or its deadline passes), the run waits in
   * needs-attention for a decision instead of failing.
   */
  private async step<T>(name: StepName, body: () => Promise<T>, describe: (result: T) => string): Promise<T> {
    const step = this.stepOf(name);
    for (;;) {
      step.status = 'running';
      step.startedAt ??= new Date().toISOString();
      this.setState('running', name);
      try {
        const result = await body();
        step.status = 'succeeded';
        step.endedAt = new Date().toISOString();
        step.detail = describe(result);
        step.lastError = undefined;
        const attempts = (result as { checks?: number }).checks;
        if (typeof attempts === 'number') step.attempts = attempts;
        this.show();
        return result;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const error = toStepError(name, err, this.settings.propagationTimeoutMs);
        step.status = 'failed';
        step.lastError = error;
        log.info('step needs attention', { step: name, type: error.type });
        const allowed: Decision[] = this.compensations.length > 0 ? ['retry', 'rollback', 'abandon'] : ['retry', 'abandon'];
        const decision = await this.awaitDecision(name, error, allowed, false, this.autoRetryFor(error));
        if (decision.decision !== 'retry') throw new OperatorStop(decision.decision);
        if (decision.onDeletedAccount) this.onDeletedAccount = decision.onDeletedAccount;
      }
    }
  }

  /** Waiting for licenses is the one wait the run can end by itself: it looks at the stock now and then. */
  private autoRetryFor(error: StepError): AutoRetry | undefined {
    const licenseOnly = error.type === ErrorType.LicensesInsufficient ||
      (error.type === ErrorType.PreflightFailed && (error.problems ?? []).length > 0 &&
        (error.problems ?? []).every((p) => p.type === ErrorType.LicensesInsufficient));
    if (!licenseOnly) return undefined;
    return {
      what: 'a Teams Phone Resource Account license is free',
      licenses: 1,
      check: async () => {
        try {
          const stock = await activities('Check for free licenses (waiting for a purchase)', stockCheck).checkLicenseAvailability({ upn: this.input.upn, needed: 1 });
          return { go: true, result: `${stock.available} of ${stock.enabled} free` };
        } catch (err) {
          if (isCancellation(err)) throw err;
          return { go: false, result: toStepError('preflight', err, this.settings.propagationTimeoutMs).message.split('. ')[0] ?? 'none free' };
        }
      },
    };
  }

  /**
   * Needs-attention: waits for a decision until the deadline (then abandons by itself). With `auto`, it
   * also checks now and then whether the cause is gone, and retries by itself when it is.
   */
  private async awaitDecision(name: StepName, error: StepError, allowedDecisions: Decision[], undo: boolean, auto?: AutoRetry): Promise<DecisionRecord> {
    const since = Date.now();
    const deadline = since + this.settings.attentionTimeoutMs;
    const interval = Math.max(SECOND, this.settings.licenseRecheckIntervalMs);
    this.decided = undefined;
    this.status.attention = {
      step: name,
      ...(undo ? { undo } : {}),
      error,
      since: new Date(since).toISOString(),
      deadline: new Date(deadline).toISOString(),
      allowedDecisions,
      waitingFor: waitingFor(name, error, undo, auto),
      howToDecide: decisionCommands(this.input.upn, allowedDecisions),
      ...(auto ? { autoRetry: { what: auto.what, intervalMs: interval, checks: 0, nextCheckAt: new Date(Math.min(deadline, since + interval)).toISOString() } } : {}),
    };
    this.setState('needs-attention', name);
    void this.reportToBatch();
    void this.notify('needs-attention');
    if (auto?.licenses !== undefined && patched(LICENSE_PROCUREMENT_PATCH)) await this.describePurchase(auto);
    while (!this.decided) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const summary = auto ? 'Wait for a decision; then look at the license stock again' : 'Wait for a decision until the deadline, then abandon';
      const purchaseDue = () => this.approvedPurchase !== undefined && !this.buying;
      if (await condition(() => this.decided !== undefined || purchaseDue(), auto ? Math.min(interval, left) : left, { summary })) {
        if (this.decided) break;
        await this.buyApproved(auto);
        continue;
      }
      if (!auto || Date.now() >= deadline) continue;
      const checked = await auto.check();
      const pending = this.status.attention;
      if (this.decided || !pending?.autoRetry) break;
      pending.autoRetry = {
        ...pending.autoRetry,
        checks: pending.autoRetry.checks + 1,
        lastCheckAt: new Date().toISOString(),
        lastResult: checked.result,
        nextCheckAt: new Date(Math.min(deadline, Date.now() + interval)).toISOString(),
      };
      if (checked.go) {
        this.record({ decision: 'retry', by: AUTOMATIC_DECIDER, automatic: true, reason: `${auto.what} (${checked.result})` });
        break;
      }
      this.show();
    }
    if (!this.decided) {
      this.record({
        decision: 'abandon',
        by: AUTOMATIC_DECIDER,
        automatic: true,
        reason: `no decision before the deadline (${this.status.attention?.deadline ?? new Date(deadline).toISOString()})`,
      });
    }
    const decision = this.decided;
    this.decided = undefined;
    if (!decision) throw ApplicationFailure.nonRetryable('decision lost', 'InternalError');
    return decision;
  }

  /** What buying the missing licenses takes (the worker's procurement adapter): shown while the run waits. */
  private async describePurchase(auto: AutoRetry): Promise<void> {
    const shortfall = auto.licenses ?? 1;
    try {
      const described = await licensing('Look up how to get more licenses (no purchase)', stockCheck).describeLicensePurchase({ shortfall });
      const attention = this.status.attention;
      if (!attention || this.decided) return;
      attention.purchase = { ...described };
      const upn = this.input.upn.toLowerCase();
      if (described.canPurchase) {
        const units = Math.max(shortfall, described.offer?.units ?? shortfall);
        attention.waitingFor = `licenses: approve a purchase of ${units} through Partner Center (it buys nothing without an approval), or buy them yourself; ` +
          `the run continues by itself once ${auto.what}`;
        attention.howToDecide = [
          ...attention.howToDecide,
          `dialtone approve-purchase ${upn} --units ${units} --reason "…"`,
          `POST /v1/resource-accounts/${encodeURIComponent(upn)}/license-purchase {"units": ${units}, "reason": "…"}`,
        ];
      } else {
        attention.waitingFor = `licenses: ${described.instructions}`;
      }
      this.show();
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.info('the license purchase could not be described', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Makes the approved purchase through an activity (never from the API), then the wait goes on. */
  private async buyApproved(auto: AutoRetry | undefined): Promise<void> {
    const approval = this.approvedPurchase;
    if (!approval) return;
    this.buying = true;
    const number = this.status.attention?.purchase?.approvals?.length ?? 1;
    const { workflowId, runId } = workflowInfo();
    try {
      const result = await licensing(`Buy ${approval.units} licenses (approved by ${approval.by})`, LICENSE_PURCHASE_CALL).purchaseLicenses({
        units: approval.units,
        approvedBy: approval.by,
        ...(approval.reason ? { reason: approval.reason } : {}),
        idempotencyKey: `${workflowId}/${runId}/purchase-${number}`,
        ...(this.input.batchId ? { batchId: this.input.batchId } : {}),
        day: approval.at.slice(0, 10),
      });
      approval.state = 'bought';
      approval.result = result.summary;
      const attention = this.status.attention;
      if (attention && auto) attention.waitingFor = `licenses: bought (${result.summary}); the run continues by itself once ${auto.what}`;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const error = toStepError('preflight', err, this.settings.propagationTimeoutMs);
      approval.state = 'failed';
      approval.error = { type: error.type, message: error.message };
    } finally {
      this.buying = false;
      this.approvedPurchase = undefined;
      this.show();
    }
  }

  /**
   * Undoes what the run did, newest first, shielded from cancellation: once started, a roll-back runs to
   * its end. An undo that fails stops it there (the older steps are what the newer ones stand on: an
   * account must not be deleted while a number may still be on it), and a person decides to retry that
   * undo or abandon with what is left listed. Returns whether everything was undone.
   */
  private rollBack(): Promise<boolean> {
    return CancellationScope.nonCancellable(async () => {
      this.setState('rolling-back');
      for (;;) {
        const newest = this.compensations[this.compensations.length - 1];
        if (!newest) return true;
        const step = this.stepOf(newest.step);
        try {
          await newest.undo();
          step.status = 'undone';
          step.lastError = undefined;
          step.detail = newest.step === 'createAccount'
            ? `deleted ${newest.what}; Entra keeps it 30 days in its deleted users, where it still holds the UPN: ` +
              'a new request for this UPN needs options.onDeletedAccount "restore" or "purge"'
            : `undone: removed ${newest.what}`;
          this.compensations.pop();
          this.setState('rolling-back');
        } catch (err) {
          const error = toStepError(newest.step, err, this.settings.propagationTimeoutMs);
          step.lastError = error;
          log.info('undo needs attention', { step: newest.step, type: error.type });
          const decision = await this.awaitDecision(newest.step, {
            type: error.type,
            message: `${UNDO_TITLES[newest.step]} failed, so the roll-back stopped before anything older: ${error.message} ` +
              `Still in the tenant: ${this.stillInTenant().join('; ')}.`,
          }, ['retry', 'abandon'], true);
          if (decision.decision !== 'retry') return false;
          this.setState('rolling-back');
        }
      }
    });
  }

  /** Ends the run with `state`: shielded from cancellation, after every handler has finished. */
  private finish(state: ProvisioningState, outcome: string): Promise<ProvisionResourceAccountStatus> {
    return CancellationScope.nonCancellable(async () => {
      const attention = this.status.attention;
      if (state === 'cancelled' && attention) {
        provisioningMetrics.attentionEnded({
          errorType: attention.error.type, step: attention.step, undo: attention.undo === true, decision: 'cancelled', automatic: false, seconds: secondsSince(attention.since),
        });
      }
      provisioningMetrics.runFinished({ state, seconds: secondsSince(this.status.startedAt) });
      this.status.currentStep = undefined;
      this.status.endedAt = new Date().toISOString();
      this.status.outcome = outcome;
      this.setState(state);
      await this.reportToBatch();
      if (isNotified(state)) await this.notify(state);
      await condition(() => allHandlersFinished() && this.sending === 0);
      return this.status;
    });
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * A row of a batch tells its batch when it starts waiting for a decision and when it ends. The signal
   * goes to the batch's workflow id without a run id, so it reaches the batch's current run after it
   * continued as new. A batch that has ended cannot be told; that is no failure of this run.
   */
  private async reportToBatch(): Promise<void> {
    const { parent, runId } = workflowInfo();
    if (!parent) return;
    const s = this.status;
    const failed = latestError(s);
    try {
      await getExternalWorkflowHandle(parent.workflowId).signal(rowReportSignal, {
        workflowId: s.workflowId,
        runId,
        state: s.state,
        ...(s.attention ? { step: s.attention.step } : s.currentStep ? { step: s.currentStep } : {}),
        ...(failed && s.state !== 'completed' ? { error: failed } : {}),
        ...(s.accountId ? { accountId: s.accountId } : {}),
        ...(s.outcome ? { outcome: s.outcome } : {}),
        at: new Date().toISOString(),
      });
    } catch (err) {
      log.info('the batch could not be told', { batch: parent.workflowId, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * Tells the callers (the request's or its batch's URL) and the operator's receivers that the run is
   * in `state`: a CloudEvent delivered by its own workflow, so a slow or dead receiver never holds up
   * the run. The status lists each event sent.
   */
  private async notify(state: NotifiedRunState): Promise<void> {
    if (!patched(NOTIFICATIONS_PATCH)) return;
    const url = this.input.notify?.url;
    const callers = url ? [{ url, origin: this.input.batchId ? 'batch' as const : 'request' as const }] : [];
    this.sending += 1;
    const sent = await this.notifier.send(runEvent(this.status, state, workflowInfo().runId), callers).finally(() => {
      this.sending -= 1;
    });
    if (!sent) return;
    this.status.notifications = [...(this.status.notifications ?? []), sent];
    this.show();
  }

  /** What the run did that is still in the tenant, newest first. */
  private stillInTenant(): string[] {
    return this.compensations.map(({ what }) => what).reverse();
  }

  /** A write step interrupted by a cancellation may have had its effect: say so rather than hide it. */
  private interrupted(): string[] {
    const running = this.status.steps.find((s) => s.status === 'running');
    if (!running || running.name === 'preflight' || running.name === 'waitForLicense') return [];
    if (this.compensations.some((c) => c.step === running.name)) return [];
    const effect = running.name === 'createAccount' ? `resource account ${this.input.upn}` : running.name === 'assignLicense'
      ? `the license on ${this.input.upn}` : running.name === 'associate' ? `the association of ${this.input.upn}` : `${this.input.phoneNumber} on ${this.input.upn}`;
    return [`possibly ${effect} (the step "${running.title}" was interrupted by the cancellation)`];
  }

  private stepOf(name: StepName) {
    const step = this.status.steps.find((s) => s.name === name);
    if (!step) throw ApplicationFailure.nonRetryable(`unknown step ${name}`, 'InternalError');
    return step;
  }

  /** Sets the state and keeps the search attributes current, upserting only what changed (one event, if any). */
  private setState(state: ProvisioningState, step?: StepName, also: Array<{ key: SearchAttributeKey<'KEYWORD'>; value: string }> = []): void {
    this.status.state = state;
    if (step !== undefined) this.status.currentStep = step;
    const wanted = [
      ...also,
      { key: searchAttributes.state, value: state },
      ...(this.status.currentStep ? [{ key: searchAttributes.step, value: this.status.currentStep }] : []),
      { key: searchAttributes.attention, value: state === 'needs-attention' ? this.status.attention?.error.type ?? null : null },
    ];
    const changed = wanted.filter(({ key, value }) => (this.upserted.get(key.name) ?? null) !== value);
    if (changed.length > 0) {
      upsertSearchAttributes(changed);
      for (const { key, value } of changed) this.upserted.set(key.name, value);
    }
    this.show();
  }

  /** Rewrites what the Web UI shows as the run's current details. */
  private show(): void {
    setCurrentDetails(currentDetails(this.status));
  }
}

function isNotified(state: ProvisioningState): state is NotifiedRunState {
  return (NOTIFIED_RUN_STATES as readonly string[]).includes(state);
}

function holdsDeletedAccountProblem(error: StepError): boolean {
  return error.type === ErrorType.DeletedAccountHoldsUpn || (error.problems ?? []).some((p) => p.type === ErrorType.DeletedAccountHoldsUpn);
}

function waitingFor(name: StepName, error: StepError, undo: boolean, auto: AutoRetry | undefined): string {
  if (auto) return `licenses: buy Teams Phone Resource Account licenses; the run continues by itself once ${auto.what}`;
  if (undo) return `a decision on the failed "${UNDO_TITLES[name as keyof typeof UNDO_TITLES] ?? name}" (retry it, or abandon with what is left listed)`;
  if (error.problems) return `the ${error.problems.length} problem${error.problems.length === 1 ? '' : 's'} below to be fixed (nothing was changed yet), then retry`;
  return `a decision on "${STEP_TITLES[name]}": fix the cause, then retry; or roll back / abandon`;
}

function describePlan(plan: PreflightOutput): string {
  const license = plan.license ? `${plan.license.available} of ${plan.license.enabled} licenses free` : 'license stock unknown';
  const account = plan.account.state === 'resource-account'
    ? `the account exists (${plan.account.accountId}): adopting it`
    : plan.account.state === 'deleted' ? `a deleted account holds the UPN: ${plan.account.policy ?? 'stop'}` : 'the account will be created';
  const number = plan.number?.onThisAccount ? 'the number is already on the account' : `the number is a free ${plan.number?.isoCountryCode ?? ''} service number`.replace('  ', ' ');
  return `${license}; ${account}; ${number}`;
}

/** A duration as a person says it: "90 s", "15 min", "48 h", "7 days". */
export function duration(ms: number): string {
  if (ms < MINUTE) return `${Math.round(ms / SECOND)} s`;
  if (ms < HOUR) return `${Math.round((ms / MINUTE) * 10) / 10} min`;
  if (ms <= 2 * DAY) return `${Math.round((ms / HOUR) * 10) / 10} h`;
  return `${Math.round((ms / DAY) * 10) / 10} days`;
}

export function toStepError(step: StepName | string, err: unknown, propagationTimeoutMs: number): StepError {
  if (err instanceof PreflightProblems) {
    const problems = err.result.problems.map((p) => ({ type: p.type, field: p.field, message: p.message }));
    return {
      type: ErrorType.PreflightFailed,
      message: `The pre-flight found ${problems.length} problem${problems.length === 1 ? '' : 's'} before any change: ` +
        problems.map((p, i) => `(${i + 1}) ${p.message}`).join(' '),
      problems,
    };
  }
  const cause = err instanceof ActivityFailure ? err.cause : err;
  // A retryable failure that outlives the step's deadline arrives as the last failure with retry
  // state TIMEOUT (or as a TimeoutFailure): either way the deadline is what the operator must hear.
  const timedOut = (err instanceof ActivityFailure && err.retryState === 'TIMEOUT') || cause instanceof TimeoutFailure;
  if (timedOut) {
    const lastError = cause instanceof TimeoutFailure ? cause.cause : cause;
    const last = lastError instanceof Error ? ` Last error: ${lastError.message}` : '';
    const message =
      step === 'waitForLicense' || step === 'assignNumber' || step === 'associate'
        ? `Teams did not report the license as ready within ${duration(propagationTimeoutMs)} (options.propagationTimeoutMs). ` +
          `Check the account's license in the Microsoft 365 admin center, then retry.${last}`
        : `The step did not finish in time.${last}`;
    return { type: ErrorType.Timeout, message };
  }
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof Error) return { type: cause.name || 'Error', message: cause.message };
  return { type: 'Error', message: String(cause) };
}
