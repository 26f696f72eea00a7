/**
 * bench:batch — one batch of BENCH_BATCH_ROWS rows (default 1,000) through `POST /v1/batches` on the
 * simulator's realistic profile, time-compressed by BENCH_BATCH_TIME_SCALE, with its throttling
 * (identity budget and write quota) and its transient faults on, on a fresh stack of real processes
 * (Temporal dev server, simulator, worker, API; see ./services.ts). It follows the batch until it ends,
 * then prints the makespan against a lower bound, the throttled share, tenant calls, history events and
 * Temporal actions per account, the batch workflow's largest history, the detection lag of license and
 * number, and the time a 10,000-row `POST /v1/batches` takes, each next to its target.
 *
 * Figures only: nothing is asserted. It exits non-zero only when it cannot run (a stack that does not
 * start, a simulator that refuses set-up, an API without the batch routes).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DEFAULT_BUDGET } from '../activities/pacing';
import { mapConcurrently } from '../lib/concurrency';
import { EnvReader } from '../lib/config';
import { LOCAL_TENANT_DOMAIN } from '../lib/local-defaults';
import { DEFAULT_SIMULATOR_TLS_DIR } from '../lib/paths';
import { dialtoneDataConverter } from '../lib/payload-codec';
import type { StateFile } from '../simulator/persistence';
import type { SimulatorBehaviour } from '../simulator/options';
import { ensureSimulatorTls } from '../simulator/tls';
import { BATCH_OPTION_RANGES } from '../lib/validation';
import { DEFAULT_TEAMS_SESSIONS } from '../worker/config';
import { ANY_NUMBER, BATCH_WORKFLOW_TYPE, FINISHED_ROW_STATES } from '../workflows/provision-batch/definitions';
import type { BatchOptions, BatchProgress, BatchRowRequest, BatchRowStatus, RowState } from '../workflows/provision-batch/definitions';
import { PROVISION_WORKFLOW_TYPE, STEP_NAMES } from '../workflows/provision-resource-account/definitions';
import type { ProvisionResourceAccountStatus } from '../workflows/provision-resource-account/definitions';
import { ChaosStack, ProcessRegistry, stopOnSignals, freePorts, simulatorRequest } from './services';

const RESOURCE_ACCOUNT_SKU = 'PHONESYSTEM_VIRTUALUSER';
const DOMAIN = LOCAL_TENANT_DOMAIN;
/** The worker's pacing flags take at most this many per window (worker/config.ts). */
const PACING_MAX = 1_000_000;
const POLL_INTERVAL_MS = 2_000;
const PROGRESS_LOG_EVERY_MS = 15_000;
const START_ATTEMPTS = 3;
const HISTORY_CONCURRENCY = 8;
const POST_ROWS = 10_000;

/** Issue 17's targets, with the realistic profile's cmdlet latencies: makespan ≤ 1.3× its lower bound, ≤ 15 tenant calls an account. */
const TARGETS = {
  ratio: 1.3,
  throttledShare: 0.01,
  callsPerAccount: 15,
  lagShareOfWait: 0.05,
  postSeconds: 2,
};

interface BenchConfig {
  rows: number;
  timeScale: number;
  anyShare: number;
  concurrency: number;
  workerActivities: number;
  postRows: number;
  deadlineMs: number;
  seed: number;
  /** PowerShell sessions of the worker (DIALTONE_TEAMS_SESSIONS); undefined: the worker's default. */
  teamsSessions?: number;
}

function readBenchConfig(env: NodeJS.ProcessEnv): BenchConfig {
  const r = new EnvReader(env);
  const rows = r.int('BENCH_BATCH_ROWS', 1000, 1, 10_000);
  // 0.02: the slowest realistic wait (3 h of propagation and 1 h of Teams sync) takes under 5 min; 1,000 rows
  // in one window (the widest is 2,000) make the whole bench about 10 min on a 2-core machine.
  const timeScale = fraction(r, 'BENCH_BATCH_TIME_SCALE', 0.02, 0.0001, 1);
  const anyShare = fraction(r, 'BENCH_BATCH_ANY_SHARE', 0.3, 0, 1);
  const concurrency = r.int('BENCH_BATCH_CONCURRENCY', Math.min(rows, BATCH_OPTION_RANGES.concurrency.max), 1, BATCH_OPTION_RANGES.concurrency.max);
  // A waiting row holds an activity slot while it watches (its license wait): one slot per window place, as the
  // worker's default of 1,000 slots gives, keeps slots from being what limits the run.
  const workerActivities = r.int('BENCH_BATCH_WORKER_ACTIVITIES', Math.max(1000, concurrency + 50), 1, 10_000);
  const postRows = r.int('BENCH_BATCH_POST_ROWS', POST_ROWS, 0, POST_ROWS);
  const deadlineMs = r.int('BENCH_BATCH_DEADLINE_S', 1800, 30, 86_400) * 1000;
  const seed = r.int('BENCH_BATCH_SEED', 7, 0, 2 ** 31);
  const sessions = r.optional('BENCH_BATCH_TEAMS_SESSIONS') === undefined ? undefined : r.int('BENCH_BATCH_TEAMS_SESSIONS', DEFAULT_TEAMS_SESSIONS, 1, 16);
  r.done();
  return { rows, timeScale, anyShare, concurrency, workerActivities, postRows, deadlineMs, seed, ...(sessions !== undefined ? { teamsSessions: sessions } : {}) };
}

function fraction(r: EnvReader, name: string, fallback: number, min: number, max: number): number {
  const raw = r.optional(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    r.problems.push(`${name}="${raw}" is not a number from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

interface RequestSummary {
  total: number;
  routes: { method: string; route: string; count: number; statuses: Record<string, number> }[];
  throttled?: Record<string, number>;
}

interface TenantCalls {
  calls: number;
  writes: number;
  budget429: number;
  fault429: number;
  /** Calls by `METHOD route`. */
  byRoute: Map<string, number>;
}

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** Graph and Teams calls only: the control API and Entra's token and discovery routes are not the tenant's work. */
function tenantCalls(summary: RequestSummary): TenantCalls {
  const routes = summary.routes.filter((r) => !r.route.startsWith('/_simulator') && !r.route.startsWith('/:tenant/'));
  const throttled = summary.throttled ?? {};
  const budget429 = (throttled.ResourceUnitLimitExceeded ?? 0) + (throttled.WriteLimitExceeded ?? 0);
  return {
    calls: routes.reduce((sum, r) => sum + r.count, 0),
    writes: routes.filter((r) => WRITE_METHODS.has(r.method)).reduce((sum, r) => sum + r.count, 0),
    budget429,
    fault429: Object.entries(throttled).filter(([limit]) => limit === 'CPULimitExceeded').reduce((sum, [, n]) => sum + n, 0),
    byRoute: new Map(routes.map((r) => [`${r.method} ${r.route}`, r.count])),
  };
}

function minus(after: TenantCalls, before: TenantCalls): TenantCalls {
  return {
    calls: after.calls - before.calls,
    writes: after.writes - before.writes,
    budget429: after.budget429 - before.budget429,
    fault429: after.fault429 - before.fault429,
    byRoute: new Map([...after.byRoute].map(([route, n]) => [route, n - (before.byRoute.get(route) ?? 0)])),
  };
}

class Simulator {
  constructor(private readonly stack: ChaosStack, private readonly ca: Buffer) {}

  async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await simulatorRequest(this.stack.simulatorUrl, this.ca, method, route, body);
    if (response.status >= 300) throw new Error(`simulator ${method} ${route} answered ${response.status}: ${JSON.stringify(response.body).slice(0, 500)}`);
    return response.body as T;
  }
}

class Api {
  constructor(readonly url: string) {}

  async request<T>(method: string, route: string, body?: unknown, timeoutMs = 30_000): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: kept as text for the message
    }
    return { status: response.status, body: parsed as T };
  }
}

const log = (line: string): void => console.error(`[batch] ${line}`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
/** Short durations in ms, so a 20 ms window or a 90 ms POST does not read as 0.0 s. */
const duration = (ms: number): string => (Math.abs(ms) < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
const percent = (share: number): string => `${(share * 100).toFixed(2)} %`;
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Data folders in use, removed even when the bench is interrupted. */
const dataDirs = new Set<string>();

interface Tls {
  dir: string;
  caPath: string;
  ca: Buffer;
}

/**
 * The worker's budget, scaled as the simulator scales its windows: the worker's windows are fixed
 * (10 s and 150 s), so the counts grow by 1/timeScale instead, capped where its flags stop.
 */
function workerEnv(config: BenchConfig): Record<string, string> {
  const units = Math.min(PACING_MAX, Math.round(DEFAULT_BUDGET.resourceUnits / config.timeScale));
  const writes = Math.min(PACING_MAX, Math.round((DEFAULT_BUDGET.writes ?? 2500) / config.timeScale));
  return {
    DIALTONE_PACING_RESOURCE_UNITS: String(units),
    DIALTONE_PACING_WRITES: String(writes),
    WORKER_MAX_CONCURRENT_ACTIVITIES: String(config.workerActivities),
    DIALTONE_TEAMS_SESSIONS: String(config.teamsSessions ?? DEFAULT_TEAMS_SESSIONS),
  };
}

async function startStack(config: BenchConfig, registry: ProcessRegistry, tls: Tls): Promise<{ stack: ChaosStack; dataDir: string }> {
  for (let attempt = 1; ; attempt++) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dialtone-batch-'));
    dataDirs.add(dataDir);
    const [temporalPort, temporalUi, simulator, api] = await freePorts(4) as [number, number, number, number];
    const stack = new ChaosStack({
      dataDir,
      ports: { temporal: temporalPort, temporalUi, simulator, api },
      tlsDir: tls.dir,
      caPath: tls.caPath,
      ca: tls.ca,
      registry,
      logLevel: 'warn',
      workerEnv: workerEnv(config),
      simulatorEnv: { SIMULATOR_PROFILE: 'realistic', SIMULATOR_TIME_SCALE: String(config.timeScale), SIMULATOR_SEED: String(config.seed) },
    });
    const started = performance.now();
    try {
      await stack.start();
      log(`stack up in ${seconds(performance.now() - started)} (data and logs in ${dataDir})`);
      return { stack, dataDir };
    } catch (err) {
      await stack.stop();
      dataDirs.delete(dataDir);
      if (attempt >= START_ATTEMPTS) throw new Error(`the stack did not start ${START_ATTEMPTS} times; last: ${errorText(err)}`);
      log(`start-up failed (${errorText(err)}); trying again on other ports`);
    }
  }
}

/** Numbers the bench seeds: 1,000,000 distinct Seattle numbers from +1206 700 0000 on. */
const seededNumber = (i: number): string => `+1206${String(7_000_000 + i)}`;

/** Licenses for every row, and a free Calling Plan service number for each (fixed rows name theirs). */
async function prepareTenant(simulator: Simulator, config: BenchConfig): Promise<BatchRowRequest[]> {
  const state = await simulator.call<{ licenses: { skuPartNumber: string; consumed: number }[] }>('GET', '/_simulator/state');
  const license = state.licenses.find((l) => l.skuPartNumber === RESOURCE_ACCOUNT_SKU);
  if (!license) throw new Error(`the simulator's tenant has no ${RESOURCE_ACCOUNT_SKU} subscription`);
  await simulator.call('PUT', `/_simulator/licenses/${RESOURCE_ACCOUNT_SKU}`, { units: license.consumed + config.rows });
  const numbers = Array.from({ length: config.rows }, (_, i) => seededNumber(i));
  await simulator.call('POST', '/_simulator/seed', { numbers: numbers.map((telephoneNumber) => ({ telephoneNumber, isoCountryCode: 'US', city: 'Seattle' })) });
  return benchRows('bench', config.rows, config.anyShare, seededNumber);
}

/** Rows spread "any" evenly among fixed numbers; fixed rows take the numbers in order. */
function benchRows(prefix: string, count: number, anyShare: number, numberOf: (i: number) => string): BatchRowRequest[] {
  let fixed = 0;
  return Array.from({ length: count }, (_, i) => {
    const any = Math.floor((i + 1) * anyShare) > Math.floor(i * anyShare);
    return {
      upn: `${prefix}-${i + 1}@${DOMAIN}`,
      displayName: `${prefix} ${i + 1}`,
      kind: i % 2 === 0 ? 'autoAttendant' : 'callQueue',
      usageLocation: 'US',
      phoneNumber: any ? ANY_NUMBER : numberOf(fixed++),
    };
  });
}

interface SubmitAnswer {
  batchId: string;
  workflowId: string;
  statusUrl: string;
}

interface ApiError {
  error?: { code?: string; message?: string; details?: unknown[] };
}

interface FollowResult {
  progress: BatchProgress | undefined;
  /** Progress reads the API could not answer (e.g. no worker answered the query in time). */
  failedReads: number;
  firstFailure?: string;
  /** When the bench saw the batch end, or gave up (epoch ms). */
  seenAt: number;
  ended: boolean;
  why?: string;
}

/** Progress until the batch ends; stops early once no row can move without a person (all finished or waiting). */
async function follow(api: Api, batchId: string, deadline: number): Promise<FollowResult> {
  let progress: BatchProgress | undefined;
  let lastLog = 0;
  let failures = 0;
  let failedReads = 0;
  let firstFailure: string | undefined;
  const failed = (why: string) => {
    failures += 1;
    failedReads += 1;
    firstFailure ??= why;
    if (failures % 5 === 1) log(why);
  };
  for (;;) {
    try {
      const answer = await api.request<BatchProgress & ApiError>('GET', `/v1/batches/${encodeURIComponent(batchId)}`);
      if (answer.status === 200) {
        progress = answer.body;
        failures = 0;
      } else {
        failed(`GET /v1/batches/${batchId} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
      }
    } catch (err) {
      failed(`GET /v1/batches/${batchId} failed: ${errorText(err)}`);
    }
    const now = Date.now();
    if (progress) {
      if (now - lastLog >= PROGRESS_LOG_EVERY_MS) {
        lastLog = now;
        const counts = Object.entries(progress.counts).filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`).join(', ');
        log(`${progress.state}: ${counts}${progress.ratePerMinute !== undefined ? ` (${progress.ratePerMinute} rows/min)` : ''}`);
      }
      if (progress.endedAt) return { progress, seenAt: now, ended: true, failedReads, ...(firstFailure ? { firstFailure } : {}) };
      const moving = progress.counts.pending + progress.counts.running;
      if (moving === 0 && progress.counts['needs-attention'] > 0) {
        return { progress, seenAt: now, ended: false, failedReads, ...(firstFailure ? { firstFailure } : {}), why: `${progress.counts['needs-attention']} rows wait for a decision and none is running or pending` };
      }
    }
    if (now > deadline) return { progress, seenAt: now, ended: false, failedReads, ...(firstFailure ? { firstFailure } : {}), why: 'the deadline (BENCH_BATCH_DEADLINE_S) passed' };
    await delay(POLL_INTERVAL_MS);
  }
}

async function readRows(api: Api, batchId: string): Promise<BatchRowStatus[]> {
  const rows: BatchRowStatus[] = [];
  let token: string | undefined;
  do {
    const query = `pageSize=1000${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`;
    const answer = await api.request<{ items: BatchRowStatus[]; nextPageToken?: string } & ApiError>('GET', `/v1/batches/${encodeURIComponent(batchId)}/rows?${query}`);
    if (answer.status !== 200) throw new Error(`GET /v1/batches/${batchId}/rows answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
    rows.push(...answer.body.items);
    token = answer.body.nextPageToken;
  } while (token);
  return rows;
}

/** Where a row that did not finish stands, as its own run reports it. */
async function describeStuck(api: Api, rows: BatchRowStatus[]): Promise<string[]> {
  const lines: string[] = [];
  for (const row of rows.slice(0, 10)) {
    let run = '';
    try {
      const answer = await api.request<{
        state?: string;
        currentStep?: string;
        attention?: { error?: { type: string; message: string } };
        pendingActivities?: { activityType?: string; attempt?: number; lastFailure?: { type?: string; message?: string } }[];
      }>('GET', `/v1/resource-accounts/${encodeURIComponent(row.upn)}`);
      const body = answer.body;
      const pending = body.pendingActivities?.[0];
      run = answer.status === 200
        ? `; its run: ${body.state ?? '?'} at ${body.currentStep ?? '?'}` +
          (body.attention?.error ? `, ${body.attention.error.type}: ${body.attention.error.message.slice(0, 160)}` : '') +
          (pending ? `, pending ${pending.activityType ?? '?'} attempt ${pending.attempt ?? '?'}${pending.lastFailure ? ` (last failure ${pending.lastFailure.type ?? '?'}: ${(pending.lastFailure.message ?? '').slice(0, 120)})` : ''}` : '')
        : `; GET its run answered ${answer.status}`;
    } catch (err) {
      run = `; its run could not be read: ${errorText(err)}`;
    }
    lines.push(`row ${row.row} ${row.upn}: ${row.state}${row.step ? ` at ${row.step}` : ''}${row.error ? ` (${row.error.type}: ${row.error.message.slice(0, 160)})` : ''}${run}`);
  }
  return lines;
}

const EventType = temporal.api.enums.v1.EventType;

/**
 * Temporal Cloud's billable actions as far as a history shows them (docs: "Temporal Cloud Actions"):
 * a workflow start (client, child, continue-as-new), the parent's record of a child start, each activity
 * attempt (the started event's attempt number), timers (those behind `condition` with a timeout too),
 * search-attribute upserts, signals (counted where received), accepted updates, and markers (local
 * activities, side effects). Not in a history, so not counted: activity heartbeats, queries, rejected updates.
 */
interface Actions {
  starts: number;
  childStarts: number;
  activityAttempts: number;
  timers: number;
  upserts: number;
  signals: number;
  updates: number;
  markers: number;
}

const NO_ACTIONS: Actions = { starts: 0, childStarts: 0, activityAttempts: 0, timers: 0, upserts: 0, signals: 0, updates: 0, markers: 0 };

function actionsOf(events: temporal.api.history.v1.IHistoryEvent[]): Actions {
  const actions = { ...NO_ACTIONS };
  for (const event of events) {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: actions.starts += 1; break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: actions.childStarts += 1; break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: actions.activityAttempts += Math.max(1, event.activityTaskStartedEventAttributes?.attempt ?? 1); break;
      case EventType.EVENT_TYPE_TIMER_STARTED: actions.timers += 1; break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: actions.upserts += 1; break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: actions.signals += 1; break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: actions.updates += 1; break;
      case EventType.EVENT_TYPE_MARKER_RECORDED: actions.markers += 1; break;
      default: break;
    }
  }
  return actions;
}

function addActions(a: Actions, b: Actions): Actions {
  return Object.fromEntries(Object.keys(a).map((key) => [key, a[key as keyof Actions] + b[key as keyof Actions]])) as unknown as Actions;
}

const totalActions = (a: Actions): number => Object.values(a).reduce((sum, n) => sum + n, 0);

interface TemporalFigures {
  childRuns: number;
  childEvents: number;
  batchRuns: number;
  /** Each run of the batch workflow: when it started and closed (epoch ms) and its history length. */
  batchTimeline: { startedAt: number; closedAt?: number; events: number }[];
  batchEvents: number;
  batchLargest: number;
  actions: Actions;
  /** Activity attempts by activity type, over every history read. */
  attemptsByType: Map<string, number>;
  /** Each child's result, by workflow id (its last run). */
  results: Map<string, ProvisionResourceAccountStatus>;
  notes: string[];
}

async function readTemporal(address: string, batchId: string, batchWorkflow: string): Promise<TemporalFigures> {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default', dataConverter: dialtoneDataConverter });
  const notes: string[] = [];
  try {
    const children: { workflowId: string; runId: string; status: string }[] = [];
    for await (const info of client.workflow.list({ query: `DialtoneBatchId = '${batchId}' AND WorkflowType = '${PROVISION_WORKFLOW_TYPE}'` })) {
      children.push({ workflowId: info.workflowId, runId: info.runId, status: info.status.name });
    }
    const batchRuns: { workflowId: string; runId: string }[] = [];
    const batchTimeline: TemporalFigures['batchTimeline'] = [];
    for await (const info of client.workflow.list({ query: `WorkflowId = '${batchWorkflow}' AND WorkflowType = '${BATCH_WORKFLOW_TYPE}'` })) {
      batchRuns.push({ workflowId: info.workflowId, runId: info.runId });
      batchTimeline.push({ startedAt: info.startTime.getTime(), ...(info.closeTime ? { closedAt: info.closeTime.getTime() } : {}), events: info.historyLength });
    }
    batchTimeline.sort((a, b) => a.startedAt - b.startedAt);
    let actions = { ...NO_ACTIONS };
    let childEvents = 0;
    let batchEvents = 0;
    let batchLargest = 0;
    const results = new Map<string, ProvisionResourceAccountStatus>();
    let unreadable = 0;
    const attemptsByType = new Map<string, number>();
    await mapConcurrently([...batchRuns.map((run) => ({ ...run, batch: true })), ...children.map((run) => ({ ...run, batch: false }))], HISTORY_CONCURRENCY, async (run) => {
      try {
        const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        const events = history.events ?? [];
        actions = addActions(actions, actionsOf(events));
        const typeOf = new Map<string, string>();
        for (const event of events) {
          const scheduled = event.activityTaskScheduledEventAttributes;
          if (scheduled) typeOf.set(String(event.eventId), scheduled.activityType?.name ?? '?');
          const started = event.activityTaskStartedEventAttributes;
          if (started) {
            const type = typeOf.get(String(started.scheduledEventId)) ?? '?';
            attemptsByType.set(type, (attemptsByType.get(type) ?? 0) + Math.max(1, started.attempt ?? 1));
          }
        }
        if (run.batch) {
          batchEvents += events.length;
          batchLargest = Math.max(batchLargest, events.length);
        } else {
          childEvents += events.length;
        }
      } catch (err) {
        unreadable += 1;
        if (unreadable === 1) notes.push(`history of ${run.workflowId} could not be read: ${errorText(err)}`);
      }
    });
    await mapConcurrently(children.filter((c) => c.status === 'COMPLETED'), HISTORY_CONCURRENCY, async (child) => {
      try {
        const result = await client.workflow.getHandle(child.workflowId, child.runId).result() as ProvisionResourceAccountStatus;
        const known = results.get(child.workflowId);
        if (!known || (known.startedAt < result.startedAt)) results.set(child.workflowId, result);
      } catch (err) {
        notes.push(`result of ${child.workflowId} could not be read: ${errorText(err)}`);
      }
    });
    if (unreadable > 1) notes.push(`${unreadable} histories could not be read`);
    return { childRuns: children.length, childEvents, batchRuns: batchRuns.length, batchTimeline, batchEvents, batchLargest, actions, attemptsByType, results, notes };
  } finally {
    await connection.close();
  }
}

/** One completed row's instants (epoch ms): the simulator's, its run's steps, and the batch's record. */
interface RowTiming {
  upn: string;
  /** The batch started the row's run. */
  startedAt: number;
  /** The run's first step (the pre-flight) started. */
  firstStepAt?: number;
  licenseAssignedAt: number;
  /** Graph reports the license's plans provisioned (what waitForLicense waits for). */
  provisionedAt: number;
  /** Teams sees the license: only an operation completing after this can assign the number. */
  teamsSyncedAt: number;
  /** The run's waitForLicense step ended. */
  licenseSeenAt?: number;
  /** The successful assign operation: accepted and completed. */
  operationCreatedAt: number;
  operationCompletedAt: number;
  /** The run's assignNumber step ended. */
  numberSeenAt?: number;
  /** The batch recorded the row as ended. */
  endedAt?: number;
}

/** The account's own waits: license assigned → Teams sees it, plus the successful number operation's run time. */
const ownWait = (t: RowTiming): number => t.teamsSyncedAt - t.licenseAssignedAt + (t.operationCompletedAt - t.operationCreatedAt);

/**
 * From the simulator's state file, whose times are epoch ms (the control API's views round to whole
 * seconds, as Graph does, and at a time scale of 0.01 a second is 100 s of simulated time).
 */
function rowTimings(state: StateFile, rows: BatchRowStatus[], results: Map<string, ProvisionResourceAccountStatus>): { timings: RowTiming[]; missing: string[] } {
  const skuId = state.skus.find((sku) => sku.skuPartNumber === RESOURCE_ACCOUNT_SKU)?.skuId;
  const users = new Map(state.users.filter((u) => u.deletedAt === null).map((u) => [u.userPrincipalName.toLowerCase(), u]));
  const assignOps = new Map<string, StateFile['operations']>();
  for (const op of state.operations) {
    if (op.kind !== 'assign' || op.assignmentTargetId === null) continue;
    assignOps.set(op.assignmentTargetId, [...(assignOps.get(op.assignmentTargetId) ?? []), op]);
  }
  const resultsByUpn = new Map([...results.values()].map((r) => [r.request.upn.toLowerCase(), r]));
  const time = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));
  const timings: RowTiming[] = [];
  const missing: string[] = [];
  for (const row of rows) {
    const user = users.get(row.upn.toLowerCase());
    const license = user?.licenses.find((l) => l.skuId === skuId);
    const succeeded = (user ? assignOps.get(user.id) ?? [] : []).filter((op) => op.outcome?.status === 'succeeded').sort((a, b) => a.completesAt - b.completesAt)[0];
    const startedAt = time(row.startedAt);
    if (!user || !license || !succeeded || startedAt === undefined) {
      missing.push(row.upn);
      continue;
    }
    const steps = resultsByUpn.get(row.upn.toLowerCase())?.steps ?? [];
    const firstStepAt = time(steps.find((step) => step.name === 'preflight')?.startedAt);
    const licenseSeenAt = time(steps.find((step) => step.name === 'waitForLicense')?.endedAt);
    const numberSeenAt = time(steps.find((step) => step.name === 'assignNumber')?.endedAt);
    const endedAt = time(row.endedAt);
    timings.push({
      upn: row.upn,
      startedAt,
      ...(firstStepAt !== undefined ? { firstStepAt } : {}),
      licenseAssignedAt: license.assignedAt,
      provisionedAt: license.provisionedAt,
      teamsSyncedAt: license.teamsSyncedAt,
      operationCreatedAt: succeeded.createdAt,
      operationCompletedAt: succeeded.completesAt,
      ...(licenseSeenAt !== undefined ? { licenseSeenAt } : {}),
      ...(numberSeenAt !== undefined ? { numberSeenAt } : {}),
      ...(endedAt !== undefined ? { endedAt } : {}),
    });
  }
  return { timings, missing };
}

/** Consecutive stretches of a row's life; together they span its run. */
const PHASES: [string, (t: RowTiming) => number | undefined][] = [
  ['batch starts the run → its first step starts', (t) => (t.firstStepAt === undefined ? undefined : t.firstStepAt - t.startedAt)],
  ['first step starts → license assigned', (t) => (t.firstStepAt === undefined ? undefined : t.licenseAssignedAt - t.firstStepAt)],
  ['license assigned → provisioned (tenant)', (t) => t.provisionedAt - t.licenseAssignedAt],
  ['provisioned → run sees it (lag)', (t) => (t.licenseSeenAt === undefined ? undefined : t.licenseSeenAt - t.provisionedAt)],
  ['run sees license → Teams sync (tenant)', (t) => (t.licenseSeenAt === undefined ? undefined : t.teamsSyncedAt - t.licenseSeenAt)],
  ['Teams sync → good operation accepted', (t) => t.operationCreatedAt - t.teamsSyncedAt],
  ['operation runs (tenant)', (t) => t.operationCompletedAt - t.operationCreatedAt],
  ['operation done → run sees it (lag)', (t) => (t.numberSeenAt === undefined ? undefined : t.numberSeenAt - t.operationCompletedAt)],
  ['run sees number → batch records the row', (t) => (t.numberSeenAt === undefined || t.endedAt === undefined ? undefined : t.endedAt - t.numberSeenAt)],
];

interface PostFigure {
  rows: number;
  ms?: number;
  status?: number;
  after?: string;
  error?: string;
}

/** One real submit of many valid rows, timed over HTTP, then cancelled at once so it does not run. */
async function timePost(api: Api, rows: number, anyShare: number): Promise<PostFigure> {
  const batchId = `bench-post-${rows}`;
  const body = {
    batchId,
    rows: benchRows('post', rows, anyShare, (i) => `+1425${String(7_000_000 + i)}`),
    options: { retryWindowMs: 0 },
  };
  const started = performance.now();
  let answer: { status: number; body: SubmitAnswer & ApiError };
  try {
    answer = await api.request<SubmitAnswer & ApiError>('POST', '/v1/batches?dryRun=false', body, 120_000);
  } catch (err) {
    return { rows, error: errorText(err) };
  }
  const ms = performance.now() - started;
  if (answer.status !== 202 && answer.status !== 200) {
    return { rows, ms, status: answer.status, error: `${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}` };
  }
  const cancel = await api.request<ApiError & { state?: string }>('POST', `/v1/batches/${encodeURIComponent(batchId)}/cancel`, { reason: 'bench:batch times the submit only' })
    .catch((err: unknown) => ({ status: 0, body: { error: { message: errorText(err) } } as ApiError & { state?: string } }));
  let after = cancel.status === 200 ? `cancel answered ${cancel.body.state ?? '?'}` : `cancel answered ${cancel.status}: ${JSON.stringify(cancel.body).slice(0, 200)}`;
  // Where the batch stands a little later: cancelled, or (if the cancel was lost) something else.
  for (let i = 0; i < 15; i++) {
    await delay(2000);
    const status = await api.request<BatchProgress>('GET', `/v1/batches/${encodeURIComponent(batchId)}`).catch(() => undefined);
    if (status?.status === 200 && (status.body.endedAt || i === 14)) {
      const counts = Object.entries(status.body.counts).filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`).join(', ');
      const controls = status.body.controls.map((c) => `${c.action} at ${c.at}`).join(', ');
      after += `; ${i * 2 + 2} s later the batch was ${status.body.state}${status.body.endedAt ? ' (ended)' : ' (not ended)'}: ${counts}; ` +
        `controls: ${controls || 'none'}; message: ${status.body.message}`;
      break;
    }
  }
  return { rows, ms, status: answer.status, after };
}

interface Figures {
  config: BenchConfig;
  behaviour: SimulatorBehaviour;
  workerEnv: Record<string, string>;
  batchId: string;
  submitMs: number;
  follow: FollowResult;
  rows: BatchRowStatus[];
  calls: TenantCalls;
  temporal?: TemporalFigures;
  timings: RowTiming[];
  missingTimings: string[];
  post?: PostFigure;
  stuck: string[];
  notes: string[];
}

function printFigures(f: Figures): void {
  const { config, behaviour } = f;
  const ts = behaviour.timeScale;
  const rows = f.rows.length || config.rows;
  const counts = new Map<RowState, number>();
  for (const row of f.rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
  const endedAt = f.follow.progress?.endedAt ? Date.parse(f.follow.progress.endedAt) : f.follow.seenAt;
  const makespanMs = endedAt - f.submitMs;

  const slowestOwn = Math.max(0, ...f.timings.map(ownWait));
  const throttle = behaviour.throttle;
  const quota = behaviour.writeQuota;
  const writeFloorMs = quota ? f.calls.writes * ((quota.windowMs * ts) / quota.requests) : 0;
  const ruFloorMs = throttle ? f.calls.calls * ((throttle.windowMs * ts) / throttle.resourceUnits) : 0;
  const lowerBoundMs = Math.max(slowestOwn, writeFloorMs, ruFloorMs);
  const ratio = lowerBoundMs > 0 ? makespanMs / lowerBoundMs : NaN;
  // With at most `concurrency` rows at once, the waits must also fit through the window.
  const windowFloorMs = f.timings.reduce((sum, t) => sum + ownWait(t), 0) / config.concurrency;

  const medianWait = percentile(f.timings.map(ownWait), 50);
  const lags = (pick: (t: RowTiming) => number | undefined) => f.timings.map(pick).filter((v): v is number => v !== undefined);
  const licenseLags = lags((t) => (t.licenseSeenAt === undefined ? undefined : t.licenseSeenAt - t.provisionedAt));
  const numberLags = lags((t) => (t.numberSeenAt === undefined ? undefined : t.numberSeenAt - t.operationCompletedAt));

  const throttledShare = f.calls.calls > 0 ? f.calls.budget429 / f.calls.calls : NaN;
  const callsPerAccount = f.calls.calls / rows;
  const t = f.temporal;

  console.log(`bench:batch — ${config.rows} rows (${Math.round(config.anyShare * 100)} % "any"), simulator profile realistic, timeScale ${ts} ` +
    `(1 h of the tenant = ${seconds(3_600_000 * ts)}), seed ${config.seed}`);
  console.log(`  simulator budget: ${throttle ? `${throttle.resourceUnits} RU per ${duration(throttle.windowMs * ts)} (${Math.round(throttle.resourceUnits / (throttle.windowMs * ts / 1000))} RU/s)` : 'no RU throttle'}; ` +
    `${quota ? `${quota.requests} writes per ${duration(quota.windowMs * ts)} (${Math.round(quota.requests / (quota.windowMs * ts / 1000))} writes/s)` : 'no write quota'}; ` +
    `faults ${percent(behaviour.faultRate)}; latency and every delay × ${ts}`);
  console.log(`  worker: DIALTONE_PACING_RESOURCE_UNITS=${f.workerEnv.DIALTONE_PACING_RESOURCE_UNITS} per 10 s, DIALTONE_PACING_WRITES=${f.workerEnv.DIALTONE_PACING_WRITES} per 150 s ` +
    `(its windows are fixed; the counts are its default budget ÷ ${ts}, capped at ${PACING_MAX}), WORKER_MAX_CONCURRENT_ACTIVITIES=${f.workerEnv.WORKER_MAX_CONCURRENT_ACTIVITIES}, DIALTONE_TEAMS_SESSIONS=${f.workerEnv.DIALTONE_TEAMS_SESSIONS}`);
  console.log(`  batch ${f.batchId}: options.concurrency ${config.concurrency}, retryWindowMs 0; ${f.follow.ended ? 'ended' : `did NOT end (${f.follow.why ?? '?'})`} as ${f.follow.progress?.state ?? '?'}; ` +
    `rows: ${[...counts].map(([state, n]) => `${state} ${n}`).join(', ') || 'none read'}`);
  console.log('');

  const table: [string, string, string, string][] = [];
  const met = (ok: boolean | undefined) => (ok === undefined || Number.isNaN(ok) ? '-' : ok ? 'met' : 'NOT met');
  const num = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  table.push(['makespan (POST → batch ended)', seconds(makespanMs), '', '']);
  const dominant = lowerBoundMs === slowestOwn ? 'slowest account\'s waits' : lowerBoundMs === writeFloorMs ? 'writes ÷ write budget' : 'calls ÷ RU budget';
  table.push(['lower bound', `${seconds(lowerBoundMs)} (${dominant})`, '', '']);
  table.push(['  slowest account\'s own waits', seconds(slowestOwn), '', '']);
  table.push(['  writes ÷ write budget', `${seconds(writeFloorMs)} (${f.calls.writes} writes)`, '', '']);
  table.push(['  calls ÷ RU budget (1 RU each)', `${seconds(ruFloorMs)} (${f.calls.calls} calls)`, '', '']);
  table.push(['makespan ÷ lower bound', num(ratio), `≤ ${TARGETS.ratio}`, met(Number.isFinite(ratio) ? ratio <= TARGETS.ratio : undefined)]);
  table.push(['  waits ÷ window (not a target)', `${seconds(windowFloorMs)} → ratio ${num(makespanMs / Math.max(lowerBoundMs, windowFloorMs))}`, '', '']);
  table.push(['throttled (budget 429s ÷ tenant calls)', `${percent(throttledShare)} (${f.calls.budget429})`, `≤ ${percent(TARGETS.throttledShare)}`, met(Number.isFinite(throttledShare) ? throttledShare <= TARGETS.throttledShare : undefined)]);
  table.push(['  injected-fault 429s (not a target)', `${percent(f.calls.fault429 / Math.max(1, f.calls.calls))} (${f.calls.fault429})`, '', '']);
  table.push(['tenant calls per account', num(callsPerAccount, 1), `≤ ${TARGETS.callsPerAccount}`, met(callsPerAccount <= TARGETS.callsPerAccount)]);
  if (t) {
    const events = (t.childEvents + t.batchEvents) / rows;
    table.push(['history events per account', `${num(events, 1)} (children ${num(t.childEvents / rows, 1)}, batch ${num(t.batchEvents / rows, 2)})`, '', '']);
    table.push(['Temporal actions per account (≈)', num(totalActions(t.actions) / rows, 1), '', '']);
    table.push(['batch workflow: largest history', `${t.batchLargest} events; ${t.batchRuns} run${t.batchRuns === 1 ? '' : 's'}`, '', '']);
  } else {
    table.push(['history events / actions / batch history', 'not read (see notes)', '', '']);
  }
  if (f.post) {
    const p = f.post;
    const value = p.ms === undefined ? `failed: ${p.error ?? '?'}` : `${duration(p.ms)}${p.error ? ` (${p.error})` : ''}`;
    table.push([`POST /v1/batches, ${p.rows} rows`, value, `≤ ${TARGETS.postSeconds} s`, met(p.ms === undefined || p.error ? false : p.ms <= TARGETS.postSeconds * 1000)]);
  } else {
    table.push([`POST /v1/batches, ${POST_ROWS} rows`, 'skipped (BENCH_BATCH_POST_ROWS=0)', `≤ ${TARGETS.postSeconds} s`, '-']);
  }
  const lagRow = (label: string, values: number[]) => {
    for (const p of [50, 95]) {
      const v = percentile(values, p);
      const share = v / medianWait;
      table.push([`${label} p${p}`, values.length === 0 ? '-' : `${duration(v)} = ${percent(share)} of the median wait`,
        `≤ ${percent(TARGETS.lagShareOfWait)}`, met(Number.isFinite(share) ? share <= TARGETS.lagShareOfWait : undefined)]);
    }
  };
  lagRow('license detection lag', licenseLags);
  lagRow('number detection lag', numberLags);

  const widths = [0, 1, 2, 3].map((i) => Math.max(...[['figure', 'value', 'target', ''], ...table].map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  console.log(line(['figure', 'value', 'target', '']));
  for (const row of table) console.log(line(row));
  console.log('');
  printPhases(f.timings, f.submitMs);
  if (t) printSteps(t.results);
  printRoutes(f.calls, rows);

  const notes = [...f.notes];
  const gaps = windowGaps(f.rows, config.concurrency);
  if (gaps.longest) {
    notes.push(`window under-filled (a place free while a row waited to start) for ${seconds(gaps.totalMs)} in all; longest ${seconds(gaps.longest.ms)} ` +
      `from +${seconds(gaps.longest.from - f.submitMs)}, with as few as ${gaps.longest.lowest} rows running and ${gaps.longest.pending} pending`);
  }
  if (f.follow.failedReads > 0) notes.push(`${f.follow.failedReads} progress reads failed while following the batch (first: ${f.follow.firstFailure ?? '?'})`);
  notes.push(`median own wait per account ${seconds(medianWait)} (${f.timings.length} accounts timed${f.missingTimings.length > 0 ? `; ${f.missingTimings.length} without a license or successful number operation, e.g. ${f.missingTimings.slice(0, 3).join(', ')}` : ''})`);
  if (t) {
    const a = t.actions;
    notes.push(`actions counted: starts ${a.starts}, child-start records ${a.childStarts}, activity attempts ${a.activityAttempts}, timers ${a.timers}, ` +
      `search-attribute upserts ${a.upserts}, signals ${a.signals}, updates ${a.updates}, markers ${a.markers}; heartbeats and queries are not in histories and not counted`);
    notes.push(`histories read: ${t.childRuns} child runs, ${t.batchRuns} batch runs`);
    notes.push(`activity attempts per account: ${[...t.attemptsByType].sort((x, y) => y[1] - x[1]).map(([type, n]) => `${type} ${(n / rows).toFixed(2)}`).join(', ')}`);
    const at = (ms: number) => `+${seconds(ms - f.submitMs)}`;
    notes.push(`batch workflow runs: ${t.batchTimeline.map((r, i) => `#${i + 1} ${at(r.startedAt)} → ${r.closedAt === undefined ? 'open' : at(r.closedAt)}, ${r.events} events`).join('; ')}`);
    notes.push(...t.notes);
  }
  if (f.post?.after) notes.push(`the ${f.post.rows}-row batch: ${f.post.after}`);
  if (f.stuck.length > 0) notes.push('rows that did not finish:', ...f.stuck.map((s) => `  ${s}`));
  console.log(['notes:', ...notes.map((n) => `  ${n}`)].join('\n'));
  console.log(
    'definitions: makespan from just before the POST to the batch\'s endedAt. Own waits of an account, from the simulator\'s state: license assigned → Teams sees it\n' +
    '(propagation + Teams sync), plus the run time of the number operation that succeeded; the lower bound is the slowest of these, or the batch\'s tenant writes\n' +
    'through the write quota, or its calls at 1 RU each through the RU budget, whichever is longest. Throttled: 429s for the budget (resource units, write quota)\n' +
    'over Graph and Teams calls (token, discovery and control routes left out); an injected fault\'s 429 is a fault. Detection lag: license, the run\'s\n' +
    'waitForLicense step end − the simulator\'s provisionedAt; number, the assignNumber step end − the completion of the operation that succeeded; both as a\n' +
    'share of the median own wait. History events: all runs of the children and of the batch workflow. Actions ≈ Temporal Cloud\'s list, from the histories.',
  );
  const tenantMinutes = (ms: number) => `${((ms / ts) / 60_000).toFixed(ms / ts < 600_000 ? 1 : 0)} min`;
  console.log(
    `time compression: the tenant's delays, latency and budget windows are × ${ts}, but the worker's polling in simulator mode (checks 200 ms → 2 s apart, ` +
    `30 s per attempt), Temporal's retry intervals (1 s, 2 s, 4 s … for a step; 10 s … for a wait) and Retry-After (whole seconds, at least 1) are not: ` +
    `at this scale a 2 s poll step is ${tenantMinutes(2000)} and a 1 s retry ${tenantMinutes(1000)} of tenant time, so lags and calls per account differ from an uncompressed run.`,
  );
}

/**
 * Stretches in which the batch had a free place in its window and a row not started, from its own
 * records of each row's start and end. A short one follows every finish (the start is a round trip);
 * a long one means the batch did not start rows it could have.
 */
function windowGaps(rows: BatchRowStatus[], concurrency: number): { totalMs: number; longest?: { from: number; ms: number; lowest: number; pending: number } } {
  const changes: [number, number][] = [];
  for (const row of rows) {
    if (row.startedAt) changes.push([Date.parse(row.startedAt), +1]);
    if (row.startedAt && row.endedAt) changes.push([Date.parse(row.endedAt), -1]);
  }
  changes.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let started = 0;
  let totalMs = 0;
  let open: { from: number; lowest: number; pending: number } | undefined;
  let longest: { from: number; ms: number; lowest: number; pending: number } | undefined;
  for (let i = 0; i < changes.length; i++) {
    const [at, delta] = changes[i] as [number, number];
    running += delta;
    if (delta > 0) started += 1;
    const next = changes[i + 1]?.[0];
    if (next !== undefined && next === at) continue;
    const pending = rows.length - started;
    const underFilled = running < concurrency && pending > 0;
    if (underFilled && !open) open = { from: at, lowest: running, pending };
    if (underFilled && open) open.lowest = Math.min(open.lowest, running);
    if (!underFilled && open) {
      const ms = at - open.from;
      totalMs += ms;
      if (!longest || ms > longest.ms) longest = { ...open, ms };
      open = undefined;
    }
  }
  return { totalMs, ...(longest ? { longest } : {}) };
}

/** Where the rows' time went, stretch by stretch: median, p95, and the row that finished last. */
function printPhases(timings: RowTiming[], submitMs: number): void {
  if (timings.length === 0) return;
  const last = timings.reduce((a, b) => ((b.endedAt ?? 0) > (a.endedAt ?? 0) ? b : a));
  const rows = PHASES.map(([name, pick]) => {
    const values = timings.map(pick).filter((v): v is number => v !== undefined);
    const lastValue = pick(last);
    return [name, duration(percentile(values, 50)), duration(percentile(values, 95)), lastValue === undefined ? '-' : duration(lastValue)];
  });
  const header = ['where a row\'s time went', 'p50', 'p95', `last row (${last.upn.split('@')[0] ?? ''})`];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  const starts = timings.map((t) => t.startedAt - submitMs);
  console.log(`rows started from +${seconds(Math.min(...starts))} to +${seconds(Math.max(...starts))} after the POST; the last row to finish started at +${seconds(last.startedAt - submitMs)}`);
  console.log('');
}

/** Each step of the rows' runs: how long it took from its first start to its end, and decisions the runs met. */
function printSteps(results: Map<string, ProvisionResourceAccountStatus>): void {
  if (results.size === 0) return;
  const all = [...results.values()];
  // A step no run had (the association, when no row asks for one) is left out.
  const rows = STEP_NAMES.flatMap((name) => {
    const values = all.map((r) => r.steps.find((step) => step.name === name))
      .map((step) => (step?.startedAt && step.endedAt ? Date.parse(step.endedAt) - Date.parse(step.startedAt) : undefined))
      .filter((v): v is number => v !== undefined);
    return values.length === 0 ? [] : [[name, duration(percentile(values, 50)), duration(percentile(values, 95)), duration(Math.max(...values))]];
  });
  const header = ['step (first start → end)', 'p50', 'p95', 'max'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  const decisions = new Map<string, number>();
  for (const result of all) {
    for (const d of result.decisions) {
      const key = `${d.step}: ${d.decision} by ${d.by}${d.reason ? ` (${d.reason.slice(0, 80)})` : ''}`;
      decisions.set(key, (decisions.get(key) ?? 0) + 1);
    }
  }
  const runsWithDecisions = all.filter((r) => r.decisions.length > 0).length;
  console.log(runsWithDecisions === 0
    ? 'no run waited for a decision'
    : `${runsWithDecisions} runs waited for a decision on the way: ${[...decisions].map(([what, n]) => `${n}× ${what}`).join('; ')}`);
  console.log('');
}

/** Tenant calls per account by route, most first. */
function printRoutes(calls: TenantCalls, rows: number): void {
  const routes = [...calls.byRoute].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (routes.length === 0) return;
  console.log('tenant calls per account by route:');
  for (const [route, n] of routes.slice(0, 12)) console.log(`  ${(n / rows).toFixed(2).padStart(6)}  ${route}`);
  const rest = routes.slice(12).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) console.log(`  ${(rest / rows).toFixed(2).padStart(6)}  (${routes.length - 12} other routes)`);
  console.log('');
}

async function main(): Promise<number> {
  const config = readBenchConfig(process.env);
  const registry = new ProcessRegistry();
  stopOnSignals(registry, dataDirs, log);

  const benchStarted = performance.now();
  try {
    const files = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
    const tls = { dir: DEFAULT_SIMULATOR_TLS_DIR, caPath: files.caPath, ca: await readFile(files.caPath) };
    log(`${config.rows} rows, timeScale ${config.timeScale}, concurrency ${config.concurrency}, worker activity slots ${config.workerActivities}`);
    const { stack, dataDir } = await startStack(config, registry, tls);
    let keep = true;
    let stopped = false;
    try {
      const figures = await run(config, stack, tls);
      keep = figures.follow.ended === false;
      // The simulator flushes its state file when it closes: every time in it is then final.
      await stack.stop();
      stopped = true;
      try {
        const state = JSON.parse(await readFile(stack.stateFile, 'utf8')) as StateFile;
        const completed = figures.rows.filter((row) => row.state === 'completed');
        const { timings, missing } = rowTimings(state, completed, figures.temporal?.results ?? new Map());
        figures.timings = timings;
        figures.missingTimings = missing;
      } catch (err) {
        figures.notes.push(`the simulator's state file could not be read, so no waits or lags: ${errorText(err)}`);
        keep = true;
      }
      printFigures(figures);
      console.log(`total bench time ${seconds(performance.now() - benchStarted)}`);
    } finally {
      if (!stopped) await stack.stop();
      dataDirs.delete(dataDir);
      if (keep) log(`logs and data kept in ${dataDir}`);
      else await rm(dataDir, { recursive: true, force: true });
    }
    return 0;
  } finally {
    registry.close();
  }
}

async function run(config: BenchConfig, stack: ChaosStack, tls: Tls): Promise<Figures> {
  const simulator = new Simulator(stack, tls.ca);
  const api = new Api(stack.apiUrl);
  const notes: string[] = [];
  const rows = await prepareTenant(simulator, config);
  const behaviour = await simulator.call<SimulatorBehaviour>('GET', '/_simulator/config');
  const before = tenantCalls(await simulator.call<RequestSummary>('GET', '/_simulator/requests'));

  const batchId = `bench-${config.rows}-${Date.now().toString(36)}`;
  const options: BatchOptions = { concurrency: config.concurrency, retryWindowMs: 0 };
  const submitMs = Date.now();
  const submitted = await api.request<SubmitAnswer & ApiError>('POST', '/v1/batches', { batchId, rows, options }, 120_000);
  if (submitted.status === 404) {
    throw new Error(`POST /v1/batches answered 404 ${JSON.stringify(submitted.body).slice(0, 200)}: the API has no batch routes (api/app.ts does not register api/routes/batches.ts)`);
  }
  if (submitted.status !== 202 && submitted.status !== 200) {
    throw new Error(`POST /v1/batches answered ${submitted.status}: ${JSON.stringify(submitted.body).slice(0, 1000)}`);
  }
  log(`batch ${batchId} accepted (${submitted.status}) in ${seconds(Date.now() - submitMs)}; following ${submitted.body.statusUrl}`);

  const followed = await follow(api, batchId, submitMs + config.deadlineMs);
  log(followed.ended ? `batch ended after ${seconds(followed.seenAt - submitMs)}` : `batch did not end: ${followed.why ?? '?'}`);
  const calls = minus(tenantCalls(await simulator.call<RequestSummary>('GET', '/_simulator/requests')), before);
  if (stack.unexpectedExits.length > 0) notes.push(`exited unexpectedly and restarted: ${stack.unexpectedExits.join(', ')}`);

  const batchRows = await readRows(api, batchId).catch((err: unknown) => {
    notes.push(`the rows could not be read: ${errorText(err)}`);
    return [] as BatchRowStatus[];
  });
  const open = batchRows.filter((row) => !FINISHED_ROW_STATES.includes(row.state));
  const failed = batchRows.filter((row) => FINISHED_ROW_STATES.includes(row.state) && row.state !== 'completed');
  const stuck = await describeStuck(api, [...open, ...failed]);
  const firstStart = batchRows.map((row) => (row.startedAt ? Date.parse(row.startedAt) : Infinity)).reduce((a, b) => Math.min(a, b), Infinity);
  if (Number.isFinite(firstStart)) notes.push(`first row started ${seconds(firstStart - submitMs)} after the POST (validation, start, the plan's tenant reads)`);

  log('reading histories and results from Temporal');
  const temporalFigures = await readTemporal(stack.temporalAddress, batchId, submitted.body.workflowId).catch((err: unknown) => {
    notes.push(`Temporal could not be read: ${errorText(err)}`);
    return undefined;
  });

  let post: PostFigure | undefined;
  if (config.postRows > 0) {
    log(`timing POST /v1/batches with ${config.postRows} rows`);
    post = await timePost(api, config.postRows, config.anyShare);
  }
  return {
    config,
    behaviour,
    workerEnv: workerEnv(config),
    batchId,
    submitMs,
    follow: followed,
    rows: batchRows,
    calls,
    temporal: temporalFigures,
    timings: [],
    missingTimings: [],
    stuck,
    notes,
    ...(post ? { post } : {}),
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(errorText(err));
    process.exit(1);
  },
);
