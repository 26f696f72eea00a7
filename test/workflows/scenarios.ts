/**
 * Runs of provisionResourceAccount that end in every way a run can end, driven on a real Temporal
 * server with scripted activities. The outcome tests assert on them; `npm run record:histories` records
 * their histories into test/workflows/histories/ for the replay test, so a workflow change that would
 * break runs already in flight fails CI.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import type { Activities } from '../../activities/types';
import { ErrorType } from '../../lib/error-types';
import { RESOURCE_ACCOUNT_SKU_ID } from '../../lib/microsoft';
import {
  PROVISION_WORKFLOW_TYPE,
  decideUpdate,
  getStatusQuery,
  resourceAccountWorkflowId,
} from '../../workflows/provision-resource-account/definitions';
import type {
  DecisionOutput,
  ProvisionResourceAccountInput,
  ProvisionResourceAccountStatus,
  ProvisioningState,
} from '../../workflows/provision-resource-account/definitions';
import type { provisionResourceAccount } from '../../workflows';
import { personMustFix, scriptedActivities } from '../helpers/fake-activities';
import type { Calls } from '../helpers/fake-activities';
import { WorkerMetrics } from '../../worker/metrics';

export interface ScenarioContext {
  client: Client;
  nativeConnection: NativeConnection;
  namespace: string;
}

export interface ScenarioResult {
  handle: WorkflowHandle<typeof provisionResourceAccount>;
  input: ProvisionResourceAccountInput;
  /** The final status (from the result, or from a query when the execution was cancelled). */
  status: ProvisionResourceAccountStatus;
  /** Temporal's execution status. */
  workflowStatus: string;
  calls: Calls;
  /** What each concurrent decision answered, where the scenario sends several. */
  decisions?: Array<PromiseSettledResult<DecisionOutput>>;
  /** Statuses seen while the run waited, where the scenario looks. */
  seen?: ProvisionResourceAccountStatus[];
}

export interface Scenario {
  name: string;
  /** The state the run ends in. */
  ends: ProvisioningState;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

const TENANT = '8d3f1a52-6c1e-4b7a-9f0e-2d1c5b7a9e10';
const LICENSE = { needed: 1, skuId: RESOURCE_ACCOUNT_SKU_ID, skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', enabled: 25, consumed: 0, available: 25 };

function request(name: string, options?: ProvisionResourceAccountInput['options'], extra: Partial<ProvisionResourceAccountInput> = {}): ProvisionResourceAccountInput {
  const id = randomUUID().slice(0, 8);
  return {
    tenantId: TENANT,
    upn: `${name}-${id}@contoso.onmicrosoft.com`,
    displayName: `Scenario ${name}`,
    kind: 'autoAttendant',
    usageLocation: 'US',
    phoneNumber: '+12065550100',
    phoneNumberType: 'callingPlan',
    ...(options ? { options } : {}),
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  handle: WorkflowHandle<typeof provisionResourceAccount>,
  predicate: (status: ProvisionResourceAccountStatus) => boolean,
  what: string,
): Promise<ProvisionResourceAccountStatus> {
  let last: ProvisionResourceAccountStatus | undefined;
  for (let i = 0; i < 300; i++) {
    last = await handle.query(getStatusQuery).catch(() => undefined);
    if (last && predicate(last)) return last;
    await sleep(100);
  }
  throw new Error(`the run never reached ${what}; last state ${last?.state}`);
}

const needsAttention = (s: ProvisionResourceAccountStatus) => s.state === 'needs-attention' && s.attention !== undefined;

function withWorker<T>(ctx: ScenarioContext, taskQueue: string, activities: Activities, fn: () => Promise<T>): Promise<T> {
  return Worker.create({
    connection: ctx.nativeConnection,
    namespace: ctx.namespace,
    taskQueue,
    workflowsPath: require.resolve('../../workflows'),
    activities,
    sinks: new WorkerMetrics({ defaultMetrics: false }).sinks(),
  }).then((worker) => worker.runUntil(fn()));
}

/** Starts one run on its own task queue and worker, hands it to `drive`, and collects its end. */
async function scenario(
  ctx: ScenarioContext,
  name: string,
  overrides: Partial<Activities>,
  drive: (handle: WorkflowHandle<typeof provisionResourceAccount>, input: ProvisionResourceAccountInput, calls: Calls) => Promise<Partial<ScenarioResult>>,
  options?: ProvisionResourceAccountInput['options'],
  extra: Partial<ProvisionResourceAccountInput> = {},
): Promise<ScenarioResult> {
  const { activities, calls } = scriptedActivities(overrides);
  const input = request(name, options, extra);
  const taskQueue = `scenario-${name}-${randomUUID()}`;
  const handle = await ctx.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: resourceAccountWorkflowId(input.tenantId, input.upn),
    args: [input],
  });
  return withWorker(ctx, taskQueue, activities, async () => {
    const extra = await drive(handle, input, calls);
    const status = await handle.result().catch(() => handle.query(getStatusQuery));
    const workflowStatus = (await handle.describe()).status.name;
    return { handle, input, status, workflowStatus, calls, ...extra };
  });
}

const numberRefused = { async assignPhoneNumber(): Promise<never> { throw personMustFix(ErrorType.NumberAssignmentFailed, 'Teams refused the number'); } };

export const SCENARIOS: Scenario[] = [
  {
    name: 'completed',
    ends: 'completed',
    run: (ctx) => scenario(ctx, 'completed', {}, async () => ({})),
  },
  {
    name: 'preflight-problems-then-retry',
    ends: 'completed',
    run: (ctx) => {
      let preflights = 0;
      return scenario(ctx, 'preflight', {
        async preflight() {
          preflights += 1;
          const problems = preflights === 1
            ? [
                { type: ErrorType.DomainNotVerified, field: 'upn' as const, message: 'fabrikam.com is not a verified domain of the tenant.' },
                { type: ErrorType.NumberAlreadyAssigned, field: 'phoneNumber' as const, message: '+12065550100 is already assigned to cq-old@contoso.onmicrosoft.com.' },
                { type: ErrorType.NumberCountryMismatch, field: 'usageLocation' as const, message: '+12065550100 is a US number but the usage location is GB.' },
              ]
            : [];
          return { problems, license: LICENSE, account: { state: 'absent' as const }, number: { numberType: 'callingPlan', isoCountryCode: 'US', onThisAccount: false } };
        },
      }, async (handle) => {
        const seen = await until(handle, needsAttention, 'needs-attention');
        await handle.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'ops@contoso', reason: 'fixed all three' }] });
        return { seen: [seen] };
      });
    },
  },
  {
    name: 'license-auto-continue',
    ends: 'completed',
    run: (ctx) => {
      let stockChecks = 0;
      return scenario(ctx, 'licenses', {
        async preflight() {
          const bought = stockChecks >= 3;
          return {
            problems: bought ? [] : [{ type: ErrorType.LicensesInsufficient, field: 'licenses' as const, message: 'Need 1 free license but 0 of 25 are free. Buy licenses.' }],
            license: bought ? { ...LICENSE, enabled: 30, consumed: 25, available: 5 } : { ...LICENSE, consumed: 25, available: 0 },
            account: { state: 'absent' as const },
            number: { numberType: 'callingPlan', isoCountryCode: 'US', onThisAccount: false },
          };
        },
        async checkLicenseAvailability() {
          stockChecks += 1;
          if (stockChecks < 3) throw personMustFix(ErrorType.LicensesInsufficient, 'Need 1 free license but 0 of 25 are free. Buy licenses.');
          return { ...LICENSE, enabled: 30, consumed: 25, available: 5 };
        },
      }, async (handle) => {
        const seen = await until(handle, (s) => (s.attention?.autoRetry?.checks ?? 0) >= 1, 'its first stock check');
        return { seen: [seen] };
      }, { licenseRecheckIntervalMs: 1000 });
    },
  },
  {
    name: 'rolled-back',
    ends: 'rolled-back',
    run: (ctx) => scenario(ctx, 'rollback', numberRefused, async (handle) => {
      await until(handle, needsAttention, 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'ops@contoso', reason: 'wrong site' }] });
      return {};
    }),
  },
  {
    // With a callback: each transition the caller hears about starts a delivery child (the notifications patch).
    name: 'notified-rolled-back',
    ends: 'rolled-back',
    run: (ctx) => scenario(ctx, 'notified', numberRefused, async (handle) => {
      await until(handle, (s) => needsAttention(s) && (s.notifications?.length ?? 0) === 1, 'needs-attention, its event sent');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'ops@contoso', reason: 'wrong site' }] });
      return {};
    }, undefined, { notify: { url: 'https://hooks.example.com/dialtone' } }),
  },
  {
    name: 'abandoned',
    ends: 'abandoned',
    run: (ctx) => scenario(ctx, 'abandon', numberRefused, async (handle) => {
      await until(handle, needsAttention, 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'abandon', by: 'ops@contoso', reason: 'finish by hand' }] });
      return {};
    }),
  },
  {
    name: 'abandoned-by-deadline',
    ends: 'abandoned',
    run: (ctx) => scenario(ctx, 'deadline', numberRefused, async () => ({}), { attentionTimeoutMs: 1500 }),
  },
  {
    name: 'undo-failed-abandoned',
    ends: 'abandoned',
    run: (ctx) => scenario(ctx, 'undofail', {
      ...numberRefused,
      async unassignPhoneNumber() {
        throw personMustFix(ErrorType.NumberUnassignFailed, 'stuck pending');
      },
    }, async (handle) => {
      await until(handle, needsAttention, 'needs-attention');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'ops@contoso' }] });
      await until(handle, (s) => needsAttention(s) && s.attention?.undo === true, 'the failed undo');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'abandon', by: 'ops@contoso' }] });
      return {};
    }),
  },
  {
    name: 'cancelled',
    ends: 'cancelled',
    run: (ctx) => scenario(ctx, 'cancel', numberRefused, async (handle) => {
      await until(handle, needsAttention, 'needs-attention');
      await handle.cancel();
      return {};
    }),
  },
  {
    name: 'cancel-during-rollback',
    ends: 'rolled-back',
    run: (ctx) => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered: () => void = () => undefined;
      const removing = new Promise<void>((resolve) => (entered = resolve));
      return scenario(ctx, 'cancelrb', {
        ...numberRefused,
        async removeLicense() {
          entered();
          await gate;
          return { removed: true };
        },
      }, async (handle) => {
        await until(handle, needsAttention, 'needs-attention');
        await handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'ops@contoso' }] });
        await removing;
        await handle.cancel();
        await until(handle, (s) => s.cancelRequestedAt !== undefined, 'the cancellation to reach the run');
        release();
        return {};
      });
    },
  },
  {
    name: 'concurrent-decisions',
    ends: 'rolled-back',
    run: async (ctx) => {
      // Both decisions wait at the server while no worker runs, so they reach the workflow in one task.
      const { activities, calls } = scriptedActivities(numberRefused);
      const input = request('race');
      const taskQueue = `scenario-race-${randomUUID()}`;
      const handle = await ctx.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: resourceAccountWorkflowId(input.tenantId, input.upn),
        args: [input],
      });
      await withWorker(ctx, taskQueue, activities, () => until(handle, needsAttention, 'needs-attention'));
      const sent = [
        handle.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'alice' }], updateId: 'decision-alice' }),
        handle.executeUpdate(decideUpdate, { args: [{ decision: 'abandon', by: 'bob' }], updateId: 'decision-bob' }),
      ];
      await sleep(1000);
      return withWorker(ctx, taskQueue, activities, async () => {
        const decisions = await Promise.allSettled(sent);
        const status = await handle.result();
        return { handle, input, status, workflowStatus: (await handle.describe()).status.name, calls, decisions };
      });
    },
  },
];
