/**
 * The batch's rows and what follows from them: which to start next, how many are going, the finish
 * rate, and the quarantine sample. Pure bookkeeping (no Temporal calls), so it is plain to test and
 * deterministic inside the workflow.
 */
import { FINISHED_ROW_STATES, RETRYABLE_ROW_STATES, ROW_STATES } from './definitions';
import type { BatchRowStatus, RowState } from './definitions';
import type { FollowedRun } from '../../activities/batch';

/** How many finish times the rate is taken over. */
const RATE_SAMPLE = 50;

/** What a row's run reported (its signal, its result, or a look at it by the followRuns activity). */
export type RunNews = FollowedRun;

export class RowBook {
  private readonly index = new Map<string, number>();
  private readonly tally: Record<RowState, number>;
  /** Rows are started in order: everything before this index has left `pending` at least once. */
  private cursor = 0;

  constructor(
    readonly rows: BatchRowStatus[],
    /** Finish times (ms), newest last, at most RATE_SAMPLE. */
    readonly recentFinishes: number[],
    /** Recent outcomes for quarantine (true = failed), newest last. */
    public recentFailures: boolean[],
  ) {
    rows.forEach((row, i) => this.index.set(row.workflowId, i));
    this.tally = Object.fromEntries(ROW_STATES.map((state) => [state, 0])) as Record<RowState, number>;
    for (const row of rows) this.tally[row.state] += 1;
  }

  /** Every change of a row's state goes through here, so the counts stay right without a scan. */
  set(row: BatchRowStatus, state: RowState): void {
    this.tally[row.state] -= 1;
    this.tally[state] += 1;
    row.state = state;
  }

  get(workflowId: string): BatchRowStatus | undefined {
    const at = this.index.get(workflowId);
    return at === undefined ? undefined : this.rows[at];
  }

  count(state: RowState): number {
    return this.tally[state];
  }

  counts(): Record<RowState, number> {
    return { ...this.tally };
  }

  /** The next row to start, if any. */
  nextPending(): BatchRowStatus | undefined {
    while (this.cursor < this.rows.length && this.rows[this.cursor]?.state !== 'pending') this.cursor += 1;
    const found = this.rows[this.cursor];
    if (found) return found;
    // retry-failed puts earlier rows back: look again from the start once.
    const again = this.rows.findIndex((row) => row.state === 'pending');
    if (again < 0) return undefined;
    this.cursor = again;
    return this.rows[again];
  }

  allFinished(): boolean {
    return this.tally.pending + this.tally.running + this.tally['needs-attention'] === 0;
  }

  retryableCount(): number {
    return RETRYABLE_ROW_STATES.reduce((sum, state) => sum + this.tally[state], 0);
  }

  retryable(): BatchRowStatus[] {
    return this.retryableCount() === 0 ? [] : this.rows.filter((row) => RETRYABLE_ROW_STATES.includes(row.state));
  }

  /**
   * Applies what a row's run reported. A report from an older run of the row (before retry-failed
   * started another) and a report after the row has ended are ignored. Returns whether the row
   * changed, and the outcome to sample for quarantine (true = failed) when there is one: each attempt
   * counts once, at its first stop (a decision it waits for, or its end).
   */
  apply(news: RunNews, now: number): { changed: boolean; sample?: boolean } {
    const row = this.get(news.workflowId);
    const none = { changed: false };
    if (!row || row.state === 'pending' || FINISHED_ROW_STATES.includes(row.state)) return none;
    if (row.runId && news.runId && row.runId !== news.runId) return none;
    if (news.runId) row.runId = news.runId;
    if (news.accountId) row.accountId = news.accountId;
    if (news.state === 'running' || news.state === 'rolling-back') {
      const changed = row.state !== 'running';
      if (changed) {
        this.set(row, 'running');
        row.error = undefined;
      }
      return { changed };
    }
    if (news.state === 'needs-attention') {
      this.set(row, 'needs-attention');
      if (news.step) row.step = news.step;
      if (news.error) row.error = news.error;
      // One failure per attempt for quarantine, however often the run asks.
      const first = !row.counted;
      row.counted = true;
      return first ? { changed: true, sample: true } : { changed: true };
    }
    if (news.state === 'missing') {
      // A joined run that is gone before it could be seen: start the row again.
      this.set(row, 'pending');
      return { changed: true };
    }
    const state: RowState = news.state;
    this.set(row, state);
    row.endedAt = new Date(now).toISOString();
    if (news.outcome) row.outcome = news.outcome;
    if (state === 'completed') {
      row.error = undefined;
      row.step = undefined;
    } else if (news.error) {
      row.error = news.error;
    }
    this.finished(now);
    const first = !row.counted;
    row.counted = true;
    return first ? { changed: true, sample: state !== 'completed' } : { changed: true };
  }

  /** Records a finish for the rate. */
  finished(now: number): void {
    this.recentFinishes.push(now);
    if (this.recentFinishes.length > RATE_SAMPLE) this.recentFinishes.splice(0, this.recentFinishes.length - RATE_SAMPLE);
  }

  /** Records an outcome for quarantine, keeping the newest `window`. */
  sample(failed: boolean, window: number): void {
    this.recentFailures.push(failed);
    if (this.recentFailures.length > window) this.recentFailures.splice(0, this.recentFailures.length - window);
  }

  /** Rows finished per minute over the recent finishes. */
  ratePerMinute(): number | undefined {
    const f = this.recentFinishes;
    if (f.length < 2) return undefined;
    const span = (f[f.length - 1] as number) - (f[0] as number);
    return span > 0 ? ((f.length - 1) * 60_000) / span : undefined;
  }
}
