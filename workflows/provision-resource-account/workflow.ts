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
  /** The request's choice, replaced by an operator's retry decision that names one. */
  let onDeletedAccount = input.options?.onDeletedAccount;

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
      const retryState = status.attention?.undo ? 'rolling-back' : 'running';
      return { accepted: true as const, state: decision.decision === 'rollback' ? 'rolling-back' : decision.decision === 'abandon' ? 'abandoned' : retryState };
    },
    {
      validator: (decision) => {
        if (status.state !== 'needs-attention' || !status.attention) {
          throw new Error(`no decision is pending: the run is ${status.state}`);
        }
        if (!status.attention.allowedDecisions.includes(decision.decision)) {
          throw new Error(`decision must be one of ${status.attention.allowedDecisions.join(', ')}`);
        }
        if (decision.onDeletedAccount !== undefined &&
            (decision.decision !== 'retry' || status.attention.error.type !== ErrorType.DeletedAccountHoldsUpn)) {
          throw new Error('onDeletedAccount goes only with retry, when a deleted account holds the UPN');
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

  /** Newest first on roll-back. Each undo is idempotent on the activity side; `what` names what it removes. */
  const compensations: Array<{ step: StepName; what: string; undo: () => Promise<unknown> }> = [];
  /** What the run did that is still in the tenant, newest first. */
  const stillInTenant = (): string[] => compensations.map(({ what }) => what).reverse();

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
        const decision = await awaitDecision(name, error, compensations.length > 0 ? ['retry', 'rollback', 'abandon'] : ['retry', 'abandon']);
        if (decision.decision !== 'retry') throw new OperatorStop(decision.decision);
        if (decision.onDeletedAccount) onDeletedAccount = decision.onDeletedAccount;
        step.lastError = undefined;
      }
    }
  }

  async function awaitDecision(name: StepName, error: StepError, allowedDecisions: Decision[], undo = false): Promise<DecisionInput> {
    const since = new Date();
    status.attention = {
      step: name,
      ...(undo ? { undo } : {}),
      error,
      since: since.toISOString(),
      deadline: new Date(since.getTime() + attentionTimeoutMs).toISOString(),
      allowedDecisions,
    };
    pendingDecision = undefined;
    setState('needs-attention', name);
    const decided = await condition(() => pendingDecision !== undefined, attentionTimeoutMs);
    const decision: DecisionInput = decided && pendingDecision ? pendingDecision : { decision: 'abandon', reason: 'no decision before the deadline' };
    status.decisions.push({ ...decision, at: new Date().toISOString(), step: name });
    status.attention = undefined;
    pendingDecision = undefined;
    return decision;
  }

  try {
    const licenses = await runStep(
      'checkLicenses',
      () => activitiesFor('checkLicenses', directoryCall).checkLicenseAvailability({ upn: input.upn, needed: 1 }),
      (r) => (r.needed === 0 ? 'the account already holds the license' : `${r.available} of ${r.enabled} licenses free`),
    );

    const account = await runStep(
      'createAccount',
      () =>
        activitiesFor('createAccount', directoryCall).createResourceAccount({
          upn: input.upn,
          displayName: input.displayName,
          kind: input.kind,
          ...(onDeletedAccount ? { onDeletedAccount } : {}),
        }),
      (r) =>
        (r.adopted ? `adopted existing account ${r.accountId}` : r.restored ? `restored deleted account ${r.accountId}` : `created account ${r.accountId}`) +
        (r.purgedDeletedAccountId ? ` (after permanently deleting the deleted account ${r.purgedDeletedAccountId} that held the UPN)` : ''),
    );
    status.accountId = account.accountId;
    status.adopted = account.adopted;
    if (!account.adopted) {
      compensations.push({
        step: 'createAccount',
        what: `resource account ${input.upn} (${account.accountId})`,
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
        what: `the ${licenses.skuPartNumber} license on ${input.upn}`,
        undo: () => activitiesFor('removeLicense', compensationCall).removeLicense({ accountId: account.accountId, skuId: licenses.skuId }),
      });
    }

    await runStep(
      'waitForLicense',
      () =>
        activitiesFor('waitForLicense', conditionWait(propagationTimeoutMs)).waitForLicense({
          accountId: account.accountId,
          skuId: licenses.skuId,
          ...(licenses.servicePlanIds ? { servicePlanIds: licenses.servicePlanIds } : {}),
        }),
      (r) => `license provisioned (seen after ${r.checks} check${r.checks === 1 ? '' : 's'})`,
    );

    const unassignNumber = {
      step: 'assignNumber' as const,
      what: `${input.phoneNumber} on ${input.upn}, if the assignment reached Teams`,
      undo: () =>
        activitiesFor('unassignPhoneNumber', compensationCall).unassignPhoneNumber({
          accountId: account.accountId,
          phoneNumber: input.phoneNumber,
          numberType,
        }),
    };
    // An assignment can land in Teams although the step failed (an answer lost, an operation that went
    // on): on an account this run owns, the number comes off before the account can be deleted. The undo
    // does nothing when the number is not on the account. On an adopted account only a number this run
    // is known to have assigned is removed.
    if (!account.adopted) compensations.push(unassignNumber);
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
    unassignNumber.what = `${input.phoneNumber} on ${input.upn}`;
    if (account.adopted && number.assigned) compensations.push(unassignNumber);

    status.currentStep = undefined;
    status.endedAt = new Date().toISOString();
    setState('completed');
    await condition(allHandlersFinished);
    return status;
  } catch (err) {
    if (err instanceof OperatorStop) {
      if (err.decision === 'rollback' && (await rollBack())) {
        return await finishStopped('rolled-back', 'ProvisioningRolledBack', 'rolled back by operator decision');
      }
      status.leftBehind = stillInTenant();
      const left = status.leftBehind.length > 0 ? `; left in the tenant: ${status.leftBehind.join('; ')}` : '';
      return await finishStopped('abandoned', 'ProvisioningAbandoned', `abandoned${left}`);
    }
    if (isCancellation(err)) {
      status.endedAt = new Date().toISOString();
      setState('cancelled');
    }
    throw err;
  }

  /**
   * Undoes what the run did, newest first. An undo that fails stops the roll-back there: the older steps
   * are what the newer ones stand on (an account must not be deleted while a number may still be on
   * it), so the run asks a person to retry that undo or abandon with what is left listed. Returns
   * whether everything was undone.
   */
  async function rollBack(): Promise<boolean> {
    setState('rolling-back');
    while (compensations.length > 0) {
      const newest = compensations[compensations.length - 1];
      if (!newest) break;
      const step = stepOf(newest.step);
      try {
        await newest.undo();
        step.status = 'undone';
        step.lastError = undefined;
        if (newest.step === 'createAccount') {
          step.detail = `deleted ${newest.what}; Entra keeps it 30 days in its deleted users, where it still holds the UPN: ` +
            'a new request for this UPN needs options.onDeletedAccount "restore" or "purge"';
        }
        compensations.pop();
        setState('rolling-back');
      } catch (err) {
        if (isCancellation(err)) throw err;
        const error = toStepError(newest.step, err, propagationTimeoutMs);
        step.lastError = error;
        log.warn('undo needs attention', { step: newest.step, type: error.type });
        const decision = await awaitDecision(newest.step, {
          type: error.type,
          message: `Undoing "${STEP_TITLES[newest.step]}" failed, so the roll-back stopped before anything older: ${error.message} ` +
            `Still in the tenant: ${stillInTenant().join('; ')}.`,
        }, ['retry', 'abandon'], true);
        if (decision.decision !== 'retry') return false;
        setState('rolling-back');
      }
    }
    return true;
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
