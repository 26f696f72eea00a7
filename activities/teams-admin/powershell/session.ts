/**
 * The Node half of the `powershell` TeamsAdmin adapter: one long-lived child process (pwsh running
 * dialtone-teams.ps1, or the simulator's stand-in), spawned on the first command, spoken to with the
 * line protocol of protocol.ts. A worker runs several of them (pool.ts); each runs one cmdlet at a time.
 *
 * - One command at a time: commands wait in a queue, and the next is written only after the previous
 *   answer (or the child's death) — the module's session is not safe for concurrent cmdlets.
 * - Connects once with two app-only access tokens (Graph and the Skype and Teams Tenant Admin API, as
 *   Microsoft documents for `Connect-MicrosoftTeams -AccessTokens`), again a few minutes before the
 *   earlier token expires, and once more with fresh tokens when a command answers `unauthenticated`.
 * - A child that dies is replaced on the next command; the command it was running fails `transient`
 *   (its effect is unknown). A command without an answer within the timeout kills the child likewise.
 * - The child answers with the module's raw output and error records; records.ts classifies a failed
 *   cmdlet here, so a throttled or refused cmdlet is paced and renewed the same way whatever the host.
 * - Tokens travel only on the child's stdin; they never enter arguments, the environment, errors or the
 *   stderr buffer (which is scrubbed of anything that looks like a JWT).
 * - With tracing on (lib/telemetry.ts), each command is a client span named after its cmdlet, a child
 *   of the activity's span: the calls the child makes to Teams are not visible to this process, so the
 *   command stands for them in the trace. Its arguments (tokens among them) are never span attributes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { GRAPH_RESOURCE, TEAMS_ADMIN_RESOURCE } from '../../../lib/microsoft';
import { isRenewable } from '../../graph/client';
import type { ServiceCallMetrics } from '../../metrics';
import type { Pacer } from '../../pacing';
import { TeamsAdminError } from '../teams-admin';
import type { TeamsAdminErrorKind } from '../teams-admin';
import { POWERSHELL_SCRIPT_PATH, hideSecrets } from './protocol';
import type { Answer, Cmdlet, CommandMap, InvokeResult, Op, WireError } from './protocol';
import { classifyRecord } from './records';

export interface PowerShellSessionOptions {
  /**
   * Credential of the app registration (certificate, secret or managed identity). When it is a
   * RenewableTokenCredential (the worker's RenewingCredential), a token the session refuses is reported
   * with `tokenRefused` before fresh tokens are fetched.
   */
  credential: TokenCredential;
  /** The tenant's id, passed to `Connect-MicrosoftTeams -TenantId`. */
  tenantId: string;
  /** The program to run. Default `pwsh`. */
  command?: string;
  /** Its arguments. Default `-NoLogo -NoProfile -NonInteractive -File <dialtone-teams.ps1>`. */
  args?: string[];
  /** Its environment. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Its working directory. Default: this process's. */
  cwd?: string;
  /** How long one command may run before the child is killed and the command fails `transient`. Default 120 s. */
  commandTimeoutMs?: number;
  /** The same for starting (module import) and connecting, which take longer. Default 180 s. */
  startTimeoutMs?: number;
  /** Reconnect this long before the earlier of the two tokens expires. Default 5 min. */
  reconnectBeforeExpiryMs?: number;
  /** The tenant's budget: every command (not hello/connect) waits there for its cost first. */
  pacer?: Pacer;
  /** Where throttled commands are counted, by cmdlet (the session hides the HTTP routes behind them). */
  metrics?: ServiceCallMetrics;
}

export interface PowerShellSessionStats {
  /** Child processes started. */
  spawns: number;
  /** `connect` commands answered ok. */
  connects: number;
  /** Commands written, by op. */
  commands: Partial<Record<Op, number>>;
  /** Cmdlets invoked, by name. */
  cmdlets: Partial<Record<Cmdlet, number>>;
  /** The most commands ever written and not yet answered at once (1 when the queue works). */
  maxInFlight: number;
}

const DEFAULT_COMMAND = 'pwsh';
const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_START_TIMEOUT_MS = 180_000;
const DEFAULT_RECONNECT_BEFORE_EXPIRY_MS = 5 * 60_000;
/** How much of the child's stderr is kept for error messages. */
const STDERR_LIMIT = 8192;
const KINDS: readonly TeamsAdminErrorKind[] = [
  'conflict', 'domainNotVerified', 'notFound', 'unauthenticated', 'forbidden', 'throttled', 'transient', 'invalid', 'notInstalled',
];

/** What the pacer charges per cmdlet: a read, a write or a delete of one object at the Teams admin service. */
function pacingMethod(cmdlet: Cmdlet): string {
  if (cmdlet.startsWith('New-')) return 'POST';
  if (cmdlet.startsWith('Remove-')) return 'DELETE';
  return 'GET';
}
const PACING_ORIGIN = 'https://api.interfaces.records.teams.microsoft.com/powershell/';

/** The cmdlets of the commands that run none of their own, for span names. */
const SESSION_CMDLETS: Partial<Record<Op, string>> = { hello: 'Import-Module MicrosoftTeams', connect: 'Connect-MicrosoftTeams' };

const tracer = trace.getTracer('dialtone-teams-powershell');

interface Pending {
  id: number;
  op: Op;
  args: unknown;
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Live {
  process: ChildProcess;
  pending?: Pending;
  /** Set once the child has exited or could not be started. */
  ended?: string;
  failure?: TeamsAdminError;
}

export class PowerShellSession {
  private child: Live | undefined;
  private queue: Promise<void> = Promise.resolve();
  private nextId = 1;
  private connection: { renewAt: number; tokens: string[] } | undefined;
  private closed = false;
  private stderrTail = '';
  private inFlight = 0;
  readonly stats: PowerShellSessionStats = { spawns: 0, connects: 0, commands: {}, cmdlets: {}, maxInFlight: 0 };

  constructor(private readonly options: PowerShellSessionOptions) {}

  /** Runs one command after those queued before it; fails with a TeamsAdminError. */
  run<K extends Op>(op: K, args: CommandMap[K]['args']): Promise<CommandMap[K]['result']> {
    const turn = this.queue.then(() => this.execute(op, args));
    this.queue = turn.then(() => undefined, () => undefined);
    return turn;
  }

  /** The child's last stderr output (bounded, scrubbed of tokens), for diagnostics. */
  diagnostics(): string {
    return this.stderrTail;
  }

  /** The child's process id, while one runs. */
  get pid(): number | undefined {
    return this.child && !this.child.ended ? this.child.process.pid : undefined;
  }

  /** Ends the child (stdin EOF, then SIGKILL after 2 s); later commands fail. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = undefined;
    if (!child || child.ended) return;
    const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
    child.process.stdin?.end();
    const timer = setTimeout(() => child.process.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  private async execute<K extends Op>(op: K, args: CommandMap[K]['args']): Promise<CommandMap[K]['result']> {
    if (this.closed) throw new TeamsAdminError('transient', `${cmdletOf(op, args)}: the PowerShell session is closed`);
    await this.ensureReady();
    try {
      return await this.paced(op, args);
    } catch (err) {
      if (!(err instanceof TeamsAdminError) || err.kind !== 'unauthenticated' || !this.connection) throw err;
      // Refused tokens are decided before the cmdlet acts, so repeating it once with new tokens is safe.
      this.refuseTokens();
      await this.ensureReady();
      return this.paced(op, args);
    }
  }

  private async paced<K extends Op>(op: K, args: CommandMap[K]['args']): Promise<CommandMap[K]['result']> {
    const { pacer } = this.options;
    const cmdlet = op === 'invoke' ? (args as CommandMap['invoke']['args']).cmdlet : undefined;
    if (pacer && cmdlet) await pacer.acquire(pacingMethod(cmdlet), `${PACING_ORIGIN}${cmdlet}`);
    try {
      const result = await this.send(op, args, this.options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS);
      if (cmdlet) throwSessionErrors(cmdlet, result as InvokeResult);
      pacer?.answered();
      return result;
    } catch (err) {
      if (err instanceof TeamsAdminError && err.kind === 'throttled') {
        this.options.metrics?.throttled('teams', cmdletOf(op, args));
        pacer?.throttled(err.details.retryAfterMs, undefined);
      }
      throw err;
    }
  }

  private refuseTokens(): void {
    const { credential } = this.options;
    if (isRenewable(credential)) for (const token of this.connection?.tokens ?? []) credential.tokenRefused(token);
    this.connection = undefined;
  }

  private async ensureReady(): Promise<void> {
    const startTimeout = this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    if (!this.child || this.child.ended) {
      this.connection = undefined;
      this.child = this.spawn();
      const hello = await this.send('hello', {}, startTimeout);
      if (!hello.module.importable) {
        this.kill(this.child);
        throw new TeamsAdminError('notInstalled',
          `the ${hello.module.name} PowerShell module ${hello.module.pinned} is not importable ` +
          `(${hello.module.found.length > 0 ? `found ${hello.module.found.join(', ')}` : 'not installed'}): ` +
          `run '${hello.module.fix ?? `Install-Module ${hello.module.name} -RequiredVersion ${hello.module.pinned} -Scope AllUsers`}' ` +
          'in pwsh as an administrator, or use the worker image', { code: 'ModuleNotInstalled' });
      }
    }
    if (this.connection && Date.now() < this.connection.renewAt) return;
    const [graph, teams] = await Promise.all([this.token(`${GRAPH_RESOURCE}/.default`), this.token(`${TEAMS_ADMIN_RESOURCE}/.default`)]);
    await this.send('connect', { graphToken: graph.token, teamsToken: teams.token, tenantId: this.options.tenantId }, startTimeout);
    this.stats.connects += 1;
    const expiresAt = Math.min(graph.expiresOnTimestamp, teams.expiresOnTimestamp);
    this.connection = { renewAt: expiresAt - (this.options.reconnectBeforeExpiryMs ?? DEFAULT_RECONNECT_BEFORE_EXPIRY_MS), tokens: [graph.token, teams.token] };
  }

  private async token(scope: string): Promise<AccessToken> {
    let token: AccessToken | null;
    try {
      token = await this.options.credential.getToken(scope);
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      const kind = name === 'AuthenticationError' || name === 'CredentialUnavailableError' ? 'unauthenticated' : 'transient';
      throw new TeamsAdminError(kind, `could not get a token for ${scope} to connect the Teams PowerShell session: ${hideSecrets(err instanceof Error ? err.message : String(err))}`);
    }
    if (!token) throw new TeamsAdminError('unauthenticated', `the credential returned no token for ${scope}`);
    return token;
  }

  private spawn(): Live {
    const command = this.options.command ?? DEFAULT_COMMAND;
    const args = this.options.args ?? ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', POWERSHELL_SCRIPT_PATH];
    const child = spawn(command, args, { env: this.options.env ?? process.env, cwd: this.options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const live: Live = { process: child };
    this.stats.spawns += 1;
    // The session alone must not keep the process alive: a waiting command holds its timeout timer, which
    // does; an idle child does not. When this process ends, the child reads end of input and exits.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    // A write to a child that is gone fails here; the exit/error handlers settle the command.
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = hideSecrets(this.stderrTail + chunk.toString()).slice(-STDERR_LIMIT);
    });
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(live, line));
    child.on('error', (err: NodeJS.ErrnoException) => {
      const failure = err.code === 'ENOENT'
        ? new TeamsAdminError('notInstalled',
          `PowerShell 7 (${command}) is not installed or not on PATH; install it ` +
          '(https://learn.microsoft.com/powershell/scripting/install/installing-powershell-on-linux) or use the worker image, ' +
          'or set DIALTONE_PWSH_PATH', { code: 'PwshNotFound' })
        : new TeamsAdminError('transient', `the PowerShell session could not be started (${command}): ${hideSecrets(err.message)}`);
      this.end(live, failure.message, failure);
    });
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code ?? 'unknown'}`;
      this.end(live, `the PowerShell session ${how}`);
    });
    return live;
  }

  private end(live: Live, reason: string, failure?: TeamsAdminError): void {
    if (live.ended) return;
    live.ended = reason;
    live.failure = failure;
    if (this.child === live) this.connection = undefined;
    const pending = live.pending;
    if (!pending) return;
    live.pending = undefined;
    clearTimeout(pending.timer);
    this.inFlight -= 1;
    const stderr = this.stderrTail.trim().split('\n').slice(-5).join(' | ');
    pending.reject(failure ?? new TeamsAdminError('transient',
      `${cmdletOf(pending.op, pending.args)}: ${reason} before it answered, so the command's effect is unknown${stderr ? ` (stderr: ${stderr})` : ''}`));
  }

  private kill(live: Live): void {
    if (!live.ended) live.process.kill('SIGKILL');
  }

  private onLine(live: Live, line: string): void {
    if (line.trim() === '') return;
    let answer: Answer;
    try {
      answer = JSON.parse(line) as Answer;
    } catch {
      this.stderrTail = hideSecrets(`${this.stderrTail}\n[stdout, not an answer] ${line.slice(0, 200)}`).slice(-STDERR_LIMIT);
      return;
    }
    const pending = live.pending;
    if (!pending || answer.id !== pending.id) {
      this.stderrTail = hideSecrets(`${this.stderrTail}\n[stdout, answer to no waiting command] id ${String(answer.id)}`).slice(-STDERR_LIMIT);
      return;
    }
    live.pending = undefined;
    clearTimeout(pending.timer);
    this.inFlight -= 1;
    if (answer.ok) pending.resolve(answer.result);
    else pending.reject(wireError(pending.op, pending.args, answer.error));
  }

  /** Writes one command and waits for its answer, as a span when tracing is on (a no-op otherwise). */
  private send<K extends Op>(op: K, args: CommandMap[K]['args'], timeoutMs: number): Promise<CommandMap[K]['result']> {
    return tracer.startActiveSpan(cmdletOf(op, args), { kind: SpanKind.CLIENT, attributes: { 'dialtone.powershell.op': op } }, (span) =>
      this.answer(op, args, timeoutMs).then(
        (result) => {
          span.end();
          return result;
        },
        (err: unknown) => {
          // The message is already scrubbed of tokens (hideSecrets); the kind is what a reader filters on.
          if (err instanceof TeamsAdminError) span.setAttribute('dialtone.teams_admin.error_kind', err.kind);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          span.end();
          throw err;
        },
      ),
    );
  }

  private answer<K extends Op>(op: K, args: CommandMap[K]['args'], timeoutMs: number): Promise<CommandMap[K]['result']> {
    const live = this.child;
    if (!live || live.ended) {
      return Promise.reject(live?.failure ?? new TeamsAdminError('transient', `${cmdletOf(op, args)}: the PowerShell session is not running`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (live.pending?.id !== id) return;
        live.pending = undefined;
        this.inFlight -= 1;
        reject(new TeamsAdminError('transient', `${cmdletOf(op, args)}: no answer within ${timeoutMs} ms; the PowerShell session was ended, so the command's effect is unknown`));
        this.kill(live);
      }, timeoutMs);
      live.pending = { id, op, args, resolve: resolve as (result: unknown) => void, reject, timer };
      this.inFlight += 1;
      this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight);
      this.stats.commands[op] = (this.stats.commands[op] ?? 0) + 1;
      if (op === 'invoke') {
        const { cmdlet } = args as CommandMap['invoke']['args'];
        this.stats.cmdlets[cmdlet] = (this.stats.cmdlets[cmdlet] ?? 0) + 1;
      }
      live.process.stdin?.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }
}

function cmdletOf(op: Op, args: unknown): string {
  if (op === 'invoke') return (args as CommandMap['invoke']['args']).cmdlet;
  return SESSION_CMDLETS[op] ?? op;
}

/**
 * A refused token or a throttled call among the errors a cmdlet wrote (with `-ErrorAction
 * SilentlyContinue`) fails the command as a whole: the session renews its tokens or the pacer slows
 * down, and the caller repeats it, as for the same error ending the cmdlet.
 */
function throwSessionErrors(cmdlet: Cmdlet, result: InvokeResult): void {
  for (const record of result.errors ?? []) {
    const classified = classifyRecord(record);
    if (classified.kind !== 'unauthenticated' && classified.kind !== 'throttled') continue;
    throw new TeamsAdminError(classified.kind, `${cmdlet}: ${classified.message}`, {
      ...(classified.code ? { code: classified.code } : {}),
      ...(classified.retryAfterMs !== undefined ? { retryAfterMs: classified.retryAfterMs } : {}),
    });
  }
}

function wireError(op: Op, args: unknown, error: WireError | undefined): TeamsAdminError {
  const what = cmdletOf(op, args);
  if (error?.record) {
    const classified = classifyRecord(error.record);
    return new TeamsAdminError(classified.kind, `${what}: ${classified.message}`, {
      ...(classified.code ? { code: classified.code } : {}),
      ...(classified.retryAfterMs !== undefined ? { retryAfterMs: classified.retryAfterMs } : {}),
      ...(error.requestId ? { requestId: error.requestId } : {}),
      ...(classified.status !== undefined ? { status: classified.status } : {}),
      fullyQualifiedErrorId: error.record.fullyQualifiedErrorId,
    });
  }
  const kind = error?.kind && KINDS.includes(error.kind) ? error.kind : 'transient';
  const message = hideSecrets(error?.message ?? 'the session answered a failure without a message');
  return new TeamsAdminError(kind, `${what}: ${message}`, {
    ...(error?.code ? { code: error.code } : {}),
    ...(typeof error?.retryAfterMs === 'number' ? { retryAfterMs: error.retryAfterMs } : {}),
    ...(error?.requestId ? { requestId: error.requestId } : {}),
  });
}
