import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities/types';
import { ErrorType, NEEDS_PERSON_ERROR_TYPES } from '../../lib/error-types';
import { validateResourceAccountRequest } from '../../lib/validation';
import {
  STEP_NAMES,
  STEP_TITLES,
  decideUpdate,
  getStatusQuery,
  searchAttributes,
} from './definitions';
import type {
  Decision,
  DecisionInput,
  ProvisionResourceAccountInput,
  ProvisionResourceAccountOutput,
  ProvisionResourceAccountStatus,
  ProvisioningState,
  StepError,
  StepName,
} from './definitions';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_PROPAGATION_TIMEOUT_MS = 48 * HOUR;
export const DEFAULT_ATTENTION_TIMEOUT_MS = 7 * DAY;

const nonRetryableErrorTypes = [...NEEDS_PERSON_ERROR_TYPES];

/** Single Graph/Teams calls: seconds each; retried through throttling and replication lag for up to 30 min. */
const directoryCall: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
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

/** Undo steps must finish even after a cancellation; they retry longer since nothing else is waiting. */
const compensationCall: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  scheduleToCloseTimeout: '2 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes },
};

function activitiesFor(step: StepName | string, options: ActivityOptions) {
  const title = (STEP_TITLES as Record<string, string>)[step] ?? step;
  return proxyActivities<Activities>({ ...options, summary: title });
}

class OperatorStop extends Error {
  constructor(readonly decision: Exclude<Decision, 'retry'>) {
    super(`operator chose ${decision}`);
  }
}

/**
 * Provisions one Teams Phone resource account end to end: licenses, account, usage location and
 * license, propagation wait, service number. Idempotent: re-running it adopts what already exists.
 */
export async function provisionResourceAccount(input: ProvisionResourceAccountInput): Promise<ProvisionResourceAccountOutput> {
  const problems = validateResourceAccountRequest(input);
  if (problems.length > 0) {
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: problems.map((p) => p.message).join('; '),
      details: problems,
    });
  }
  const propagationTimeoutMs = input.options?.propagationTimeoutMs ?? DEFAULT_PROPAGATION_TIMEOUT_MS;
  const attentionTimeoutMs = input.options?.attentionTimeoutMs ?? DEFAULT_ATTENTION_TIMEOUT_MS;
  const numberType = input.phoneNumberType ?? 'callingPlan';

  const status: ProvisionResourceAccountStatus = {
    workflowId: workflowInfo().workflowId,
    state: 'running',
    steps: STEP_NAMES.map((name) => ({ name, title: STEP_TITLES[name], status: 'pending' })),
    request: input,
    decisions: [],
    startedAt: new Date().toISOString(),
  };
  let pendingDecision: DecisionInput | undefined;

  setHandler(getStatusQuery, () => status);
  setHandler(
    decideUpdate,
    (decision) => {
      pendingDecision = decision;
      return { accepted: true as const, state: decision.decision === 'rollback' ? 'rolling-back' : decision.decision === 'abandon' ? 'abandoned' : 'running' };
    },
    {
      validator: (decision) => {
        if (status.state !== 'needs-attention' || !status.attention) {
          throw new Error(`no decision is pending: the run is ${status.state}`);
        }
        if (!status.attention.allowedDecisions.includes(decision.decision)) {
          throw new Error(`decision must be one of ${status.attention.allowedDecisions.join(', ')}`);
        }
      },
    },
  );

  upsertSearchAttributes([
    { key: searchAttributes.upn, value: input.upn.toLowerCase() },
    { key: searchAttributes.phoneNumber, value: input.phoneNumber },
    ...(input.batchId ? [{ key: searchAttributes.batchId, value: input.batchId }] : []),
  ]);
  setState('running');

  function setState(state: ProvisioningState, step?: StepName): void {
    status.state = state;
    if (step !== undefined) status.currentStep = step;
    upsertSearchAttributes([
      { key: searchAttributes.state, value: state },
      ...(status.currentStep ? [{ key: searchAttributes.step, value: status.currentStep }] : []),
    ]);
  }

  function stepOf(name: StepName) {
    const step = status.steps.find((s) => s.name === name);
    if (!step) throw ApplicationFailure.nonRetryable(`unknown step ${name}`, 'InternalError');
    return step;
  }

  /** Newest first on roll-back. Each undo is idempotent on the activity side. */
  const compensations: Array<{ step: StepName; undo: () => Promise<unknown> }> = [];

  /**
   * Runs one step; when it fails in a way a person must fix (or its deadline passes), the run waits
   * in needs-attention for an operator decision instead of failing.
   */
  async function runStep<T>(name: StepName, body: () => Promise<T>, describe: (result: T) => string): Promise<T> {
    const step = stepOf(name);
    for (;;) {
      step.status = 'running';
      step.startedAt ??= new Date().toISOString();
      setState('running', name);
      try {
        const result = await body();
        step.status = 'succeeded';
        step.endedAt = new Date().toISOString();
        step.detail = describe(result);
        const attempts = (result as { checks?: number }).checks;
        if (typeof attempts === 'number') step.attempts = attempts;
        return result;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const error = toStepError(name, err, propagationTimeoutMs);
        step.status = 'failed';
        step.lastError = error;
        log.warn('step needs attention', { step: name, type: error.type });
        const decision = await awaitDecision(name, error);
        if (decision !== 'retry') throw new OperatorStop(decision);
        step.lastError = undefined;
      }
    }
  }

  async function awaitDecision(name: StepName, error: StepError): Promise<Decision> {
    const since = new Date();
    status.attention = {
      step: name,
      error,
      since: since.toISOString(),
      deadline: new Date(since.getTime() + attentionTimeoutMs).toISOString(),
      allowedDecisions: compensations.length > 0 ? ['retry', 'rollback', 'abandon'] : ['retry', 'abandon'],
    };
    pendingDecision = undefined;
    setState('needs-attention', name);
    const decided = await condition(() => pendingDecision !== undefined, attentionTimeoutMs);
    const decision: DecisionInput = decided && pendingDecision ? pendingDecision : { decision: 'abandon', reason: 'no decision before the deadline' };
    status.decisions.push({ ...decision, at: new Date().toISOString(), step: name });
    status.attention = undefined;
    pendingDecision = undefined;
    return decision.decision;
  }

  try {
    const licenses = await runStep(
      'checkLicenses',
      () => activitiesFor('checkLicenses', directoryCall).checkLicenseAvailability({ upn: input.upn, needed: 1 }),
      (r) => (r.needed === 0 ? 'the account already holds the license' : `${r.available} of ${r.enabled} licenses free`),
    );

    const account = await runStep(
      'createAccount',
      () => activitiesFor('createAccount', directoryCall).createResourceAccount({ upn: input.upn, displayName: input.displayName, kind: input.kind }),
      (r) => (r.adopted ? `adopted existing account ${r.accountId}` : `created account ${r.accountId}`),
    );
    status.accountId = account.accountId;
    status.adopted = account.adopted;
    if (!account.adopted) {
      compensations.push({
        step: 'createAccount',
        undo: () => activitiesFor('deleteResourceAccount', compensationCall).deleteResourceAccount({ accountId: account.accountId }),
      });
    }

    const license = await runStep(
      'assignLicense',
      () =>
        activitiesFor('assignLicense', directoryCall).assignLicense({
          accountId: account.accountId,
          usageLocation: input.usageLocation,
          skuId: licenses.skuId,
        }),
      (r) => (r.licenseAdded ? `usage location ${input.usageLocation}, license assigned` : `usage location ${input.usageLocation}, license already assigned`),
    );
    if (license.licenseAdded) {
      compensations.push({
        step: 'assignLicense',
        undo: () => activitiesFor('removeLicense', compensationCall).removeLicense({ accountId: account.accountId, skuId: licenses.skuId }),
      });
    }

    await runStep(
      'waitForLicense',
      () => activitiesFor('waitForLicense', conditionWait(propagationTimeoutMs)).waitForLicense({ accountId: account.accountId }),
      (r) => `license provisioned (seen after ${r.checks} check${r.checks === 1 ? '' : 's'})`,
    );

    const number = await runStep(
      'assignNumber',
      () =>
        activitiesFor('assignNumber', conditionWait(propagationTimeoutMs)).assignPhoneNumber({
          accountId: account.accountId,
          phoneNumber: input.phoneNumber,
          numberType,
        }),
      (r) => (r.assigned ? `${input.phoneNumber} assigned` : `${input.phoneNumber} was already assigned to this account`),
    );
    if (number.assigned) {
      compensations.push({
        step: 'assignNumber',
        undo: () =>
          activitiesFor('unassignPhoneNumber', compensationCall).unassignPhoneNumber({
            accountId: account.accountId,
            phoneNumber: input.phoneNumber,
            numberType,
          }),
      });
    }

    status.currentStep = undefined;
    status.endedAt = new Date().toISOString();
    setState('completed');
    await condition(allHandlersFinished);
    return status;
  } catch (err) {
    if (err instanceof OperatorStop) {
      if (err.decision === 'rollback') {
        await rollBack();
        return await finishStopped('rolled-back', 'ProvisioningRolledBack', 'rolled back by operator decision');
      }
      return await finishStopped('abandoned', 'ProvisioningAbandoned', 'abandoned; what was done is listed in the status');
    }
    if (isCancellation(err)) {
      status.endedAt = new Date().toISOString();
      setState('cancelled');
    }
    throw err;
  }

  async function rollBack(): Promise<void> {
    setState('rolling-back');
    for (const { step, undo } of compensations.reverse()) {
      try {
        await undo();
        stepOf(step).status = 'undone';
      } catch (err) {
        // A failed undo is recorded and the rest still runs: leaving more behind would help nobody.
        stepOf(step).lastError = toStepError(step, err, propagationTimeoutMs);
        log.error('undo failed', { step });
      }
    }
  }

  async function finishStopped(state: ProvisioningState, type: string, message: string): Promise<never> {
    status.currentStep = undefined;
    status.endedAt = new Date().toISOString();
    setState(state);
    await condition(allHandlersFinished);
    throw ApplicationFailure.create({ type, message: `${input.upn}: ${message}`, nonRetryable: true, details: [status] });
  }
}

function toStepError(step: StepName | string, err: unknown, propagationTimeoutMs: number): StepError {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  // A retryable failure that outlives the step's deadline arrives as the last failure with retry
  // state TIMEOUT (or as a TimeoutFailure): either way the deadline is what the operator must hear.
  const timedOut = (err instanceof ActivityFailure && err.retryState === 'TIMEOUT') || cause instanceof TimeoutFailure;
  if (timedOut) {
    const lastError = cause instanceof TimeoutFailure ? cause.cause : cause;
    const last = lastError instanceof Error ? ` Last error: ${lastError.message}` : '';
    const hours = Math.round((propagationTimeoutMs / HOUR) * 10) / 10;
    const message =
      step === 'waitForLicense' || step === 'assignNumber'
        ? `Teams did not report the license as ready within ${hours} h. Check the account's license in the Microsoft 365 admin center, then retry.${last}`
        : `The step did not finish in time.${last}`;
    return { type: ErrorType.Timeout, message };
  }
  if (cause instanceof ApplicationFailure) {
    return { type: cause.type ?? 'Error', message: cause.message };
  }
  if (cause instanceof Error) return { type: cause.name || 'Error', message: cause.message };
  return { type: 'Error', message: String(cause) };
}
