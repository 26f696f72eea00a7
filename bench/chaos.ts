/**
 * bench:chaos — what a batch of BENCH_CHAOS_ACCOUNTS resource accounts (default 40) comes to when the
 * tenant misbehaves or a process dies under it. Each scenario runs on a fresh local stack of real
 * processes (Temporal dev server on SQLite, tenant simulator with a state file, worker, API; see
 * ./services.ts) on free ports and a fresh temporary data folder, submits every account at once through
 * the REST API and follows each run until all have ended or wait for a decision, or the deadline passes.
 * Then it reads the simulator's tenant and request log and prints one row per scenario. Figures only:
 * nothing is asserted, and a scenario that loses runs still exits 0; only a bench that cannot run
 * (a stack that does not start, a simulator that refuses set-up) exits non-zero.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { mapConcurrently } from '../lib/concurrency';
import { EnvReader } from '../lib/config';
import { DEFAULT_SIMULATOR_TLS_DIR } from '../lib/paths';
import { ensureSimulatorTls } from '../simulator/tls';
import { TERMINAL_STATES } from '../workflows/provision-resource-account/definitions';
import type { ProvisioningState } from '../workflows/provision-resource-account/definitions';
import { ChaosStack, ProcessRegistry, stopOnSignals, freePorts, simulatorRequest } from './services';
import type { ServiceName } from './services';

const RESOURCE_ACCOUNT_SKU = 'PHONESYSTEM_VIRTUALUSER';
const DOMAIN = 'contoso.onmicrosoft.com';
/** Large enough that no batch here comes near it: the baseline measures the product, not the budget. */
const GENEROUS = { throttle: { resourceUnits: 1_000_000, windowMs: 10_000 }, writeQuota: { requests: 1_000_000, windowMs: 150_000 } };
const TIGHT_THROTTLE = { resourceUnits: 300, windowMs: 10_000 };

interface Disruption {
  service: Extract<ServiceName, 'worker' | 'simulator' | 'temporal'>;
  times: number;
  /** How long the service stays down before it is started again. */
  downMs: number;
}

interface Scenario {
  key: string;
  title: string;
  /** PUT /_simulator/config, applied again after every simulator restart (behaviour is not kept in its state file). */
  behaviour: Record<string, unknown>;
  disruption?: Disruption;
  /** Resource units per second the budget allows, for the budget-implied lower bound on wall time. */
  budgetRuPerSecond?: number;
  /** Extra variables for the worker. */
  workerEnv?: Record<string, string>;
}

const SCENARIOS: Scenario[] = [
  { key: 'baseline', title: 'baseline', behaviour: { faultRate: 0, ...GENEROUS } },
  { key: 'faults', title: 'faults 30%', behaviour: { faultRate: 0.3, ...GENEROUS } },
  // The worker is told the tenant's budget, less 10 % for the error in its estimate of each call's cost.
  {
    key: 'throttle',
    title: '300 RU/10 s + faults',
    behaviour: { faultRate: 0.3, ...GENEROUS, throttle: TIGHT_THROTTLE },
    budgetRuPerSecond: TIGHT_THROTTLE.resourceUnits / (TIGHT_THROTTLE.windowMs / 1000),
    workerEnv: { DIALTONE_PACING_RESOURCE_UNITS: String(Math.floor(TIGHT_THROTTLE.resourceUnits * 0.9)) },
  },
  { key: 'worker-killed', title: 'worker killed x3', behaviour: { faultRate: 0, ...GENEROUS }, disruption: { service: 'worker', times: 3, downMs: 500 } },
  { key: 'simulator-killed', title: 'simulator killed x2', behaviour: { faultRate: 0, ...GENEROUS }, disruption: { service: 'simulator', times: 2, downMs: 1000 } },
  { key: 'temporal-killed', title: 'Temporal killed x1', behaviour: { faultRate: 0, ...GENEROUS }, disruption: { service: 'temporal', times: 1, downMs: 2000 } },
];

/** When the first kill comes after the last account was submitted, and the gap after a restarted service is back. */
const FIRST_KILL_AFTER_MS = 1_000;
const KILL_GAP_MS = 2_000;
const POLL_INTERVAL_MS = 1_000;
const POLL_CONCURRENCY = 8;

interface BenchConfig {
  accounts: number;
  deadlineMs: number;
  scenarios: Scenario[];
}

function readBenchConfig(env: NodeJS.ProcessEnv): BenchConfig {
  const r = new EnvReader(env);
  const accounts = r.int('BENCH_CHAOS_ACCOUNTS', 40, 1, 1000);
  const deadlineMs = r.int('BENCH_CHAOS_DEADLINE_S', 120, 10, 86_400) * 1000;
  const keys = (r.optional('BENCH_CHAOS_SCENARIOS') ?? SCENARIOS.map((s) => s.key).join(',')).split(',').map((key) => key.trim()).filter(Boolean);
  const unknown = keys.filter((key) => !SCENARIOS.some((s) => s.key === key));
  if (unknown.length > 0) r.problems.push(`BENCH_CHAOS_SCENARIOS names ${unknown.join(', ')}: choose from ${SCENARIOS.map((s) => s.key).join(', ')}`);
  r.done();
  return { accounts, deadlineMs, scenarios: SCENARIOS.filter((s) => keys.includes(s.key)) };
}

// ---- the simulator's control API, as far as the bench reads it

interface SimUser {
  id: string;
  userPrincipalName: string;
  applicationId: string | null;
  deletedDateTime: string | null;
  licenses: { skuPartNumber: string | null }[];
  teams: { telephoneNumbers: { telephoneNumber: string }[] };
}
interface SimNumber {
  telephoneNumber: string;
  numberType: string;
  capabilities: string[];
  assignmentStatus: string;
  assignmentTargetId: string | null;
  isoCountryCode: string;
  stuckDateTime: string | null;
}
interface SimState {
  licenses: { skuPartNumber: string; consumed: number; available: number }[];
  users: SimUser[];
  numbers: SimNumber[];
}
interface RequestSummary {
  total: number;
  routes: { method: string; route: string; count: number; statuses: Record<string, number> }[];
  /** 429s by the limit they name (the simulator's request log). */
  throttled?: Record<string, number>;
}

class Simulator {
  constructor(private readonly stack: ChaosStack, private readonly ca: Buffer) {}

  async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await simulatorRequest(this.stack.simulatorUrl, this.ca, method, route, body);
    if (response.status >= 300) throw new Error(`simulator ${method} ${route} answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body as T;
  }

  state(): Promise<SimState> {
    return this.call<SimState>('GET', '/_simulator/state');
  }
}

/** Graph and Teams calls: the control API and Entra's token and discovery routes are not the tenant's work. */
function tenantCalls(summary: RequestSummary): { calls: number; throttled: number } {
  const routes = summary.routes.filter((r) => !r.route.startsWith('/_simulator') && !r.route.startsWith('/:tenant/'));
  return {
    calls: routes.reduce((sum, r) => sum + r.count, 0),
    // The budget's own 429s (resource units, write quota): what pacing is for. An injected fault's 429 is a fault.
    throttled: (summary.throttled?.ResourceUnitLimitExceeded ?? 0) + (summary.throttled?.WriteLimitExceeded ?? 0),
  };
}

// ---- one scenario

interface Account {
  upn: string;
  displayName: string;
  kind: 'autoAttendant' | 'callQueue';
  usageLocation: string;
  phoneNumber: string;
}

interface RunView {
  state?: ProvisioningState;
  accountId?: string;
  attention?: string;
  attentionMessage?: string;
  /** Where a run that has not ended stands: its step, and the last failure of the activity it runs or waits to retry. */
  step?: string;
  lastFailure?: string;
  missing?: boolean;
}

interface ScenarioResult {
  scenario: Scenario;
  submitted: number;
  completed: number;
  lost: number;
  duplicated: number;
  orphans: { accounts: number; licenses: number; numbers: number; heldByOpenRuns: number };
  needsAttention: Map<string, number>;
  otherEnded: Map<string, number>;
  wallMs: number;
  calls: number;
  throttled: number;
  /** When each kill came, and how many runs had completed by then. */
  kills: string[];
  notes: string[];
}

/** Scenario data folders in use, removed even when the bench is interrupted. */
const dataDirs = new Set<string>();

const isSettled = (view: RunView | undefined): boolean =>
  view?.state !== undefined && (TERMINAL_STATES.includes(view.state) || view.state === 'needs-attention');

async function prepareTenant(simulator: Simulator, scenario: Scenario, count: number): Promise<{ accounts: Account[]; userIdsBefore: Set<string> }> {
  await simulator.call('PUT', '/_simulator/config', scenario.behaviour);
  let state = await simulator.state();
  const license = state.licenses.find((l) => l.skuPartNumber === RESOURCE_ACCOUNT_SKU);
  if (!license) throw new Error(`the simulator's tenant has no ${RESOURCE_ACCOUNT_SKU} subscription`);
  if (license.available < count) {
    await simulator.call('PUT', `/_simulator/licenses/${RESOURCE_ACCOUNT_SKU}`, { units: license.consumed + count });
  }
  const free = (numbers: SimNumber[]) => numbers.filter((n) =>
    n.capabilities.includes('voiceApplicationAssignment') && n.numberType === 'callingPlan' && n.assignmentStatus === 'unassigned' && n.stuckDateTime === null);
  const missing = count - free(state.numbers).length;
  if (missing > 0) {
    const taken = new Set(state.numbers.map((n) => n.telephoneNumber));
    const extra: string[] = [];
    for (let i = 2000; extra.length < missing; i++) {
      const telephoneNumber = `+1206555${i}`;
      if (!taken.has(telephoneNumber)) extra.push(telephoneNumber);
    }
    await simulator.call('POST', '/_simulator/seed', { numbers: extra.map((telephoneNumber) => ({ telephoneNumber, isoCountryCode: 'US', city: 'Seattle' })) });
    state = await simulator.state();
  }
  const accounts = free(state.numbers).slice(0, count).map((number, i): Account => ({
    upn: `chaos-${i + 1}@${DOMAIN}`,
    displayName: `Chaos ${i + 1}`,
    kind: i % 2 === 0 ? 'autoAttendant' : 'callQueue',
    usageLocation: number.isoCountryCode,
    phoneNumber: number.telephoneNumber,
  }));
  return { accounts, userIdsBefore: new Set(state.users.map((u) => u.id)) };
}

/** POST until the API answers; the same request again joins the same run, so a retry is safe. */
async function submit(apiUrl: string, account: Account): Promise<string | undefined> {
  let last = '';
  for (let attempt = 1; attempt <= 10; attempt++) {
    try {
      const response = await fetch(`${apiUrl}/v1/resource-accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(account),
        signal: AbortSignal.timeout(15_000),
      });
      if (response.status === 200 || response.status === 202) return undefined;
      last = `${response.status} ${await response.text()}`;
      if (response.status < 500 && response.status !== 429) return last;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await delay(1000 * attempt);
  }
  return last;
}

async function readRun(apiUrl: string, upn: string): Promise<RunView | undefined> {
  try {
    const response = await fetch(`${apiUrl}/v1/resource-accounts/${encodeURIComponent(upn)}`, { signal: AbortSignal.timeout(15_000) });
    if (response.status === 404) return { missing: true };
    if (!response.ok) return undefined;
    const body = (await response.json()) as {
      state: ProvisioningState;
      currentStep?: string;
      accountId?: string;
      attention?: { error: { type: string; message: string; problems?: { type: string }[] } };
      pendingActivities?: { lastFailure?: { type: string } }[];
    };
    const error = body.attention?.error;
    const problems = [...new Set(error?.problems?.map((p) => p.type) ?? [])];
    return {
      state: body.state,
      accountId: body.accountId,
      attention: error && (problems.length > 0 ? `${error.type}[${problems.join('+')}]` : error.type),
      attentionMessage: error?.message,
      step: body.currentStep,
      lastFailure: body.pendingActivities?.[0]?.lastFailure?.type,
    };
  } catch {
    // The API or Temporal is down for a moment: ask again next round.
    return undefined;
  }
}

const log = (line: string): void => console.error(`[chaos] ${line}`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Ports are chosen free but bound a moment later; another program may take one meanwhile. */
const START_ATTEMPTS = 3;

/** A fresh stack on free ports and a fresh data folder; a failed start keeps its folder (logs) and tries other ports. */
async function startStack(scenario: Scenario, registry: ProcessRegistry, tls: { dir: string; caPath: string; ca: Buffer }): Promise<{ stack: ChaosStack; dataDir: string }> {
  for (let attempt = 1; ; attempt++) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), `dialtone-chaos-${scenario.key}-`));
    dataDirs.add(dataDir);
    const [temporal, temporalUi, simulator, api] = await freePorts(4) as [number, number, number, number];
    const stack = new ChaosStack({ dataDir, ports: { temporal, temporalUi, simulator, api }, tlsDir: tls.dir, caPath: tls.caPath, ca: tls.ca, registry, logLevel: 'warn', ...(scenario.workerEnv ? { workerEnv: scenario.workerEnv } : {}) });
    const bootStarted = performance.now();
    try {
      await stack.start();
      log(`${scenario.title}: stack up in ${seconds(performance.now() - bootStarted)}`);
      return { stack, dataDir };
    } catch (err) {
      await stack.stop();
      dataDirs.delete(dataDir);
      const why = err instanceof Error ? err.message : String(err);
      if (attempt >= START_ATTEMPTS) throw new Error(`the stack did not start ${START_ATTEMPTS} times; last: ${why}`);
      log(`${scenario.title}: start-up failed (${why}); trying again on other ports`);
    }
  }
}

async function runScenario(scenario: Scenario, config: BenchConfig, registry: ProcessRegistry, tls: { dir: string; caPath: string; ca: Buffer }): Promise<ScenarioResult> {
  const { stack, dataDir } = await startStack(scenario, registry, tls);
  let ok = false;
  try {
    const simulator = new Simulator(stack, tls.ca);
    const { accounts, userIdsBefore } = await prepareTenant(simulator, scenario, config.accounts);
    const result = await drive(scenario, config, stack, simulator, accounts, userIdsBefore);
    ok = true;
    return result;
  } finally {
    await stack.stop();
    dataDirs.delete(dataDir);
    if (ok) await rm(dataDir, { recursive: true, force: true });
    else log(`${scenario.title}: logs and data kept in ${dataDir}`);
  }
}

async function drive(
  scenario: Scenario,
  config: BenchConfig,
  stack: ChaosStack,
  simulator: Simulator,
  accounts: Account[],
  userIdsBefore: Set<string>,
): Promise<ScenarioResult> {
  const notes: string[] = [];
  const views = new Map<string, RunView>();
  const earlierLogs: RequestSummary[] = [];
  let settled = false;

  const started = performance.now();
  const deadline = started + config.deadlineMs;
  const refusals = await Promise.all(accounts.map((account) => submit(stack.apiUrl, account)));
  const submittedUpns = accounts.filter((_, i) => refusals[i] === undefined).map((a) => a.upn);
  const refused = refusals.filter((r): r is string => r !== undefined);
  if (refused.length > 0) notes.push(`${refused.length} not accepted by the API (first: ${refused[0]})`);
  log(`${scenario.title}: ${submittedUpns.length}/${accounts.length} submitted in ${seconds(performance.now() - started)}`);

  // The kills run beside the polling, each only while some run is still going.
  const kills: string[] = [];
  let disruptionError: Error | undefined;
  const disruption = (async () => {
    const plan = scenario.disruption;
    if (!plan) return;
    let waitMs = FIRST_KILL_AFTER_MS;
    for (let k = 1; k <= plan.times; k++) {
      await delay(waitMs);
      if (settled || performance.now() > deadline) {
        notes.push(`only ${kills.length} of ${plan.times} kills: the batch had ended before the next one`);
        return;
      }
      // The request log dies with the simulator: keep what it counted so far.
      if (plan.service === 'simulator') earlierLogs.push(await simulator.call<RequestSummary>('GET', '/_simulator/requests'));
      const at = performance.now() - started;
      const done = [...views.values()].filter((v) => v.state === 'completed').length;
      await stack.kill(plan.service);
      kills.push(`${seconds(at)} (${done} completed)`);
      await delay(plan.downMs);
      const restarting = performance.now();
      await stack.restart(plan.service);
      if (plan.service === 'simulator') await simulator.call('PUT', '/_simulator/config', scenario.behaviour);
      log(`${scenario.title}: ${plan.service} SIGKILLed (${k}/${plan.times}) at ${seconds(at)} with ${done} completed; back after ${seconds(plan.downMs + performance.now() - restarting)}`);
      waitMs = KILL_GAP_MS;
    }
  })().then(
    () => undefined,
    // Kept, not thrown here: the polling stops at once and the scenario fails with it afterwards.
    (err: unknown) => (disruptionError = err instanceof Error ? err : new Error(String(err))),
  );

  let settledAt = performance.now();
  while (performance.now() < deadline && !disruptionError) {
    const open = submittedUpns.filter((upn) => !TERMINAL_STATES.includes(views.get(upn)?.state as ProvisioningState));
    await mapConcurrently(open, POLL_CONCURRENCY, async (upn) => {
      const view = await readRun(stack.apiUrl, upn);
      if (view) views.set(upn, view);
    });
    if (submittedUpns.every((upn) => isSettled(views.get(upn)))) {
      settledAt = performance.now();
      settled = true;
      break;
    }
    await delay(POLL_INTERVAL_MS);
  }
  if (!settled) {
    settledAt = performance.now();
    settled = true;
  }
  await disruption;
  if (disruptionError) throw disruptionError;
  const wallMs = settledAt - started;
  log(`${scenario.title}: ${submittedUpns.filter((upn) => isSettled(views.get(upn))).length}/${submittedUpns.length} ended or waiting after ${seconds(wallMs)}`);

  const tenant = await simulator.state();
  const finalLog = await simulator.call<RequestSummary>('GET', '/_simulator/requests');
  const counted = [...earlierLogs, finalLog].map(tenantCalls);
  if (earlierLogs.length > 0) notes.push('calls counted up to a moment before each simulator kill');
  if (stack.unexpectedExits.length > 0) notes.push(`exited unexpectedly and restarted: ${stack.unexpectedExits.join(', ')}`);

  const needsAttention = new Map<string, number>();
  const otherEnded = new Map<string, number>();
  let completed = 0;
  let lost = 0;
  const lostAt = new Map<string, number>();
  const lostAfter = new Map<string, number>();
  const count = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const upn of submittedUpns) {
    const view = views.get(upn);
    if (view?.state === 'completed') completed++;
    else if (view?.state === 'needs-attention') count(needsAttention, view.attention ?? 'unknown');
    else if (view?.state !== undefined && TERMINAL_STATES.includes(view.state)) count(otherEnded, view.state);
    else {
      lost++;
      count(lostAt, view?.missing ? 'run missing' : view?.state === undefined ? 'never read' : `${view.state} at ${view.step ?? '?'}`);
      if (view?.lastFailure) count(lostAfter, view.lastFailure);
    }
  }
  if (lost > 0) {
    notes.push(`not ended: ${formatCounts(lostAt)}` + (lostAfter.size > 0 ? ` (activity's last failure: ${formatCounts(lostAfter)})` : ''));
  }

  const examples = new Map<string, string>();
  for (const view of views.values()) {
    if (view.state === 'needs-attention' && view.attention && !examples.has(view.attention)) examples.set(view.attention, oneLine(view.attentionMessage ?? ''));
  }
  for (const [type, message] of examples) notes.push(`${type} says: ${message}`);
  if (lost > 0) {
    const present = new Set(tenant.users.filter((u) => u.deletedDateTime === null).map((u) => u.userPrincipalName.toLowerCase()));
    const absent = submittedUpns.filter((upn) => !isSettled(views.get(upn)) && !present.has(upn.toLowerCase())).length;
    notes.push(`runs not ended whose account is not in the tenant: ${absent}`);
  }
  const { duplicated, orphans, incomplete } = inspectTenant(tenant, submittedUpns, views, userIdsBefore);
  if (incomplete > 0) notes.push(`completed runs whose account lacks its license or number in the tenant: ${incomplete}`);
  return {
    scenario,
    submitted: submittedUpns.length,
    completed,
    lost,
    duplicated,
    orphans,
    needsAttention,
    otherEnded,
    wallMs,
    calls: counted.reduce((sum, c) => sum + c.calls, 0),
    throttled: counted.reduce((sum, c) => sum + c.throttled, 0),
    kills,
    notes,
  };
}

/**
 * The tenant as the simulator holds it, against what the runs say. Duplicated: a UPN with more than one
 * active user, or a number on two accounts. Orphaned: an active resource account of a batch UPN whose
 * run did not complete (or that is not the account its completed run reports), and a license or number
 * on an account that no completed run owns (accounts that existed before the batch are left out).
 */
function inspectTenant(tenant: SimState, upns: string[], views: Map<string, RunView>, userIdsBefore: Set<string>) {
  const batch = new Set(upns.map((upn) => upn.toLowerCase()));
  const owned = new Set<string>();
  const open = new Set<string>();
  for (const upn of upns) {
    const view = views.get(upn);
    if (view?.state === 'completed' && view.accountId) owned.add(view.accountId);
    if (view?.state === undefined || !TERMINAL_STATES.includes(view.state)) open.add(upn.toLowerCase());
  }
  const active = tenant.users.filter((u) => u.deletedDateTime === null);
  const byUpn = new Map<string, number>();
  for (const user of active) byUpn.set(user.userPrincipalName.toLowerCase(), (byUpn.get(user.userPrincipalName.toLowerCase()) ?? 0) + 1);
  const holders = new Map<string, number>();
  for (const user of active) for (const n of user.teams.telephoneNumbers) holders.set(n.telephoneNumber, (holders.get(n.telephoneNumber) ?? 0) + 1);
  const duplicated = [...byUpn.values()].filter((c) => c > 1).length + [...holders.values()].filter((c) => c > 1).length;

  const orphanAccounts = active.filter((u) => u.applicationId !== null && batch.has(u.userPrincipalName.toLowerCase()) && !owned.has(u.id));
  const fresh = (id: string) => !userIdsBefore.has(id) && !owned.has(id);
  const orphanLicenses = active.filter((u) => fresh(u.id) && u.licenses.some((l) => l.skuPartNumber === RESOURCE_ACCOUNT_SKU));
  const orphanNumbers = tenant.numbers.filter((n) => n.assignmentTargetId !== null && fresh(n.assignmentTargetId));
  const usersById = new Map(tenant.users.map((u) => [u.id, u]));
  const held = (id: string | null) => id !== null && open.has(usersById.get(id)?.userPrincipalName.toLowerCase() ?? '');
  const heldByOpenRuns = new Set([...orphanAccounts.map((u) => u.id), ...orphanLicenses.map((u) => u.id), ...orphanNumbers.map((n) => n.assignmentTargetId)].filter(held)).size;

  let incomplete = 0;
  for (const id of owned) {
    const user = usersById.get(id);
    const licensed = user?.licenses.some((l) => l.skuPartNumber === RESOURCE_ACCOUNT_SKU) ?? false;
    if (!user || user.deletedDateTime !== null || !licensed || user.teams.telephoneNumbers.length === 0) incomplete++;
  }
  return {
    duplicated,
    orphans: { accounts: orphanAccounts.length, licenses: orphanLicenses.length, numbers: orphanNumbers.length, heldByOpenRuns },
    incomplete,
  };
}

// ---- the table

const oneLine = (text: string, max = 160): string => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

function formatCounts(counts: Map<string, number>): string {
  return [...counts].map(([what, n]) => `${what} ${n}`).join(', ');
}

function printTable(results: ScenarioResult[], failures: { scenario: Scenario; error: string }[], config: BenchConfig): void {
  const header = ['scenario', 'submitted', 'completed', 'lost', 'duplicated', 'orphaned a/l/n', 'wall time', 'calls/acct', 'throttled', 'needs attention'];
  const rows = results.map((r) => {
    const attention = [...r.needsAttention.values()].reduce((a, b) => a + b, 0);
    const wall = r.scenario.budgetRuPerSecond === undefined
      ? seconds(r.wallMs)
      : `${seconds(r.wallMs)} (budget floor ${seconds((r.calls / r.scenario.budgetRuPerSecond) * 1000)})`;
    return [
      r.scenario.title,
      String(r.submitted),
      String(r.completed),
      String(r.lost),
      String(r.duplicated),
      `${r.orphans.accounts}/${r.orphans.licenses}/${r.orphans.numbers}`,
      wall,
      r.submitted === 0 ? '-' : (r.calls / r.submitted).toFixed(1),
      r.calls === 0 ? '-' : `${((r.throttled / r.calls) * 100).toFixed(1)}%`,
      attention === 0 ? '0' : `${attention} (${formatCounts(r.needsAttention)})`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  console.log(`bench:chaos — ${config.accounts} accounts per scenario, submitted at once; simulator profile fast; deadline ${seconds(config.deadlineMs)} per scenario`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  for (const failure of failures) console.log(`${failure.scenario.title.padEnd(widths[0] ?? 0)}  did not run: ${failure.error}`);
  const notes = results.flatMap((r) => {
    const lines = [...r.notes];
    if (r.otherEnded.size > 0) lines.push(`ended otherwise: ${formatCounts(r.otherEnded)}`);
    if (r.orphans.heldByOpenRuns > 0) lines.push(`orphans on ${r.orphans.heldByOpenRuns} accounts belong to runs not ended (running, or waiting for a decision)`);
    if (r.scenario.disruption) lines.unshift(`${r.scenario.disruption.service} SIGKILLed at ${r.kills.join(', ') || 'no time'}`);
    return lines.length === 0 ? [] : [`  ${r.scenario.title}: ${lines.join('; ')}`];
  });
  if (notes.length > 0) console.log(['notes:', ...notes].join('\n'));
  console.log(
    'lost: no end or pending decision by the deadline, or the run missing. orphaned a/l/n: resource accounts / licenses / numbers no completed run owns.\n' +
    'calls/acct: Graph and Teams calls per submitted account (token and control routes left out). throttled: 429s for the tenant budget (resource units, write quota) / those calls; 429s of injected faults are not counted.\n' +
    'budget floor: all those calls at 1 RU each through the throttle budget.',
  );
}

async function main(): Promise<number> {
  const config = readBenchConfig(process.env);
  const registry = new ProcessRegistry();
  stopOnSignals(registry, dataDirs, log);

  try {
    const files = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
    const tls = { dir: DEFAULT_SIMULATOR_TLS_DIR, caPath: files.caPath, ca: await readFile(files.caPath) };
    const results: ScenarioResult[] = [];
    const failures: { scenario: Scenario; error: string }[] = [];
    const benchStarted = performance.now();
    for (const scenario of config.scenarios) {
      try {
        results.push(await runScenario(scenario, config, registry, tls));
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log(`${scenario.title}: could not run: ${error}`);
        failures.push({ scenario, error });
      }
    }
    printTable(results, failures, config);
    console.log(`total bench time ${seconds(performance.now() - benchStarted)}`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    registry.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
