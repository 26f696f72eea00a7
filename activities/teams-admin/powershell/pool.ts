/**
 * Several PowerShell sessions per worker (`DIALTONE_TEAMS_SESSIONS`), each its own child process running
 * one cmdlet at a time: a real `New-CsOnlineApplicationInstance` takes seconds, so one session would make
 * a thousand accounts hours of creation alone.
 *
 * - Commands wait in one queue and go to whichever session is free first, so a slow cmdlet holds only
 *   its own session. The most recently freed session is taken first: under light load the same few
 *   children stay warm and the others are never started (each pwsh with the module holds hundreds of MB).
 * - Every session paces through the same tenant budget (the pacer passed in), so more sessions never
 *   mean more calls than the budget allows.
 * - A session whose child dies is not taken out: its command in flight fails `transient` (effect
 *   unknown, the activity looks before it writes again), nothing waiting in the queue is lost, and the
 *   session starts a new child for its next command.
 */
import type { CommandMap, Op } from './protocol';
import { PowerShellSession } from './session';
import type { PowerShellSessionOptions, PowerShellSessionStats } from './session';

/** Bounds of `DIALTONE_TEAMS_SESSIONS`. */
export const TEAMS_SESSIONS_RANGE = { min: 1, max: 16 } as const;

export interface PowerShellPoolStats extends PowerShellSessionStats {
  /** Sessions in the pool. */
  sessions: number;
  /** The most sessions ever busy at once. */
  maxBusy: number;
}

export class PowerShellPool {
  private readonly sessions: PowerShellSession[];
  /** Free sessions, the most recently freed last. */
  private readonly free: PowerShellSession[];
  private readonly waiting: Array<(session: PowerShellSession) => void> = [];
  private busy = 0;
  private maxBusy = 0;

  constructor(options: PowerShellSessionOptions, size = 1) {
    if (!Number.isInteger(size) || size < TEAMS_SESSIONS_RANGE.min || size > TEAMS_SESSIONS_RANGE.max) {
      throw new RangeError(`sessions must be a whole number from ${TEAMS_SESSIONS_RANGE.min} to ${TEAMS_SESSIONS_RANGE.max} (got ${String(size)})`);
    }
    this.sessions = Array.from({ length: size }, () => new PowerShellSession(options));
    // The first session is taken first.
    this.free = [...this.sessions].reverse();
  }

  /** Runs one command on the first session free; fails with a TeamsAdminError. */
  async run<K extends Op>(op: K, args: CommandMap[K]['args']): Promise<CommandMap[K]['result']> {
    const session = await this.take();
    try {
      return await session.run(op, args);
    } finally {
      this.give(session);
    }
  }

  private take(): Promise<PowerShellSession> {
    const session = this.free.pop();
    if (session) {
      this.markBusy();
      return Promise.resolve(session);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private give(session: PowerShellSession): void {
    const next = this.waiting.shift();
    if (next) {
      next(session);
      return;
    }
    this.busy -= 1;
    this.free.push(session);
  }

  private markBusy(): void {
    this.busy += 1;
    this.maxBusy = Math.max(this.maxBusy, this.busy);
  }

  /** Counts of every session together. */
  get stats(): PowerShellPoolStats {
    const total: PowerShellPoolStats = { spawns: 0, connects: 0, commands: {}, cmdlets: {}, maxInFlight: 0, sessions: this.sessions.length, maxBusy: this.maxBusy };
    for (const { stats } of this.sessions) {
      total.spawns += stats.spawns;
      total.connects += stats.connects;
      total.maxInFlight = Math.max(total.maxInFlight, stats.maxInFlight);
      for (const [op, n] of Object.entries(stats.commands)) total.commands[op as Op] = (total.commands[op as Op] ?? 0) + (n ?? 0);
      for (const [cmdlet, n] of Object.entries(stats.cmdlets)) {
        const key = cmdlet as keyof PowerShellSessionStats['cmdlets'];
        total.cmdlets[key] = (total.cmdlets[key] ?? 0) + (n ?? 0);
      }
    }
    return total;
  }

  /** Process ids of the children running now. */
  get pids(): number[] {
    return this.sessions.map((session) => session.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** The first running child's process id. */
  get pid(): number | undefined {
    return this.pids[0];
  }

  /** The children's last stderr output (bounded, scrubbed of tokens), for diagnostics. */
  diagnostics(): string {
    return this.sessions.map((session) => session.diagnostics()).filter((text) => text !== '').join('\n');
  }

  /** Ends every child; later commands fail. */
  async close(): Promise<void> {
    await Promise.all(this.sessions.map((session) => session.close()));
  }
}
