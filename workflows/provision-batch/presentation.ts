/** What a batch shows people: its one-line message and its current details in the Web UI (markdown). */
import type { BatchProgress } from './definitions';

function eta(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

/** One line on what the batch does now, or how it ended. */
export function batchMessage(p: BatchProgress): string {
  const c = p.counts;
  const done = `${c.completed} of ${p.rows} completed`;
  switch (p.state) {
    case 'planning':
      return p.dryRun ? 'Dry run: reading the tenant to plan every row (no changes)' : 'Planning: reading accounts, licenses and numbers (no changes yet)';
    case 'planned': {
      const t = p.totals;
      if (!t) return 'Dry run finished';
      const short = t.licenses.short > 0 ? `; buy ${t.licenses.short} Teams Phone Resource Account license${t.licenses.short === 1 ? '' : 's'} first` : '';
      const numbers = t.numbers.filter((n) => n.short > 0).map((n) => `${n.short} ${n.country} number${n.short === 1 ? '' : 's'}`);
      return `Dry run: ${t.byAction.create} to create, ${t.byAction.adopt} to adopt, ${t.byAction['already-provisioned']} already provisioned, ` +
        `${t.byAction.conflict} in conflict; ${t.rowsWithProblems} row${t.rowsWithProblems === 1 ? '' : 's'} with problems${short}` +
        (numbers.length > 0 ? `; short of ${numbers.join(', ')}` : '') + '. Nothing was changed.';
    }
    case 'waiting-for-licenses': {
      const l = p.licenses;
      if (!l) return 'Waiting for licenses';
      const licenses = `${l.short} Teams Phone Resource Account license${l.short === 1 ? '' : 's'} (${l.needed} needed, ${l.free} free)`;
      const last = l.purchase?.approvals?.at(-1);
      if (last?.state === 'buying') return `Waiting for licenses: buying ${last.units} through Partner Center, approved by ${last.by}; the batch continues by itself once the seats are there`;
      if (last?.state === 'bought') return `Waiting for licenses: ${last.units} bought through Partner Center (approved by ${last.by}); the batch continues by itself once the seats are there`;
      if (l.purchase?.canPurchase) {
        return `Waiting for licenses: short of ${licenses}; approve a purchase through Partner Center (nothing is bought without it), or buy them in the ` +
          'Microsoft 365 admin center > Billing > Purchase services; the batch continues by itself once they are there' +
          (last?.state === 'failed' ? ` (the last purchase failed: ${last.error?.message ?? 'see the controls'})` : '');
      }
      return `Waiting for licenses: buy ${licenses} in the Microsoft 365 admin center > Billing > Purchase services; the batch continues by itself once they are there`;
    }
    case 'paused':
      return `Paused${p.pause?.quarantine ? ' by quarantine' : ` by ${p.pause?.by ?? 'an operator'}`}: ${p.pause?.reason ?? ''}; ${done}`;
    case 'running': {
      const rate = p.ratePerMinute !== undefined ? `, ${p.ratePerMinute} rows/min` : '';
      const left = p.etaSeconds !== undefined ? `, about ${eta(p.etaSeconds)} left` : '';
      const attention = c['needs-attention'] > 0 ? `; ${c['needs-attention']} waiting for a decision` : '';
      return `Running: ${done}, ${c.running} going, ${c.pending} to start${attention}${rate}${left}`;
    }
    case 'cancelling':
      return `Cancelling: no new row starts; waiting for ${c.running + c['needs-attention']} row${c.running + c['needs-attention'] === 1 ? '' : 's'} already going`;
    case 'completed':
      return `Completed: all ${p.rows} rows provisioned`;
    case 'completed-with-failures': {
      const failed = c.failed + c.abandoned + c['rolled-back'] + c.cancelled + c.skipped;
      return `${p.endedAt ? 'Ended' : 'Rows ended'}: ${done}, ${failed} did not (see the report)` + (p.endedAt ? '' : '; retry-failed starts them again');
    }
    case 'cancelled':
      return `Cancelled: ${done}, ${c.skipped} not started`;
  }
}

/** The batch's current details in the Web UI. */
export function batchDetails(p: BatchProgress, batchId: string): string {
  const c = p.counts;
  const counts = ([
    ['pending', c.pending], ['running', c.running], ['needs attention', c['needs-attention']], ['completed', c.completed],
    ['rolled back', c['rolled-back']], ['abandoned', c.abandoned], ['cancelled', c.cancelled], ['failed', c.failed], ['skipped', c.skipped],
  ] as const).filter(([, n], i) => n > 0 || i < 4).map(([name, n]) => `${name} **${n}**`).join(' · ');
  // The first line names the batch: a continued-as-new run has no static summary of its own (the SDK sets one only at start).
  const lines = [
    `${p.dryRun ? 'Dry run of batch' : 'Batch'} \`${batchId}\`: ${p.rows} resource account${p.rows === 1 ? '' : 's'}` +
      `${p.submittedBy ? `, submitted by ${p.submittedBy}` : ''}${p.generation > 1 ? ` (run ${p.generation} of this batch's workflow)` : ''}`,
    '',
    `**${p.state}** — ${p.message}`,
    '',
    `Rows: ${counts}`,
  ];
  if (p.attention.length > 0) {
    lines.push('', `Rows waiting for a decision (${c['needs-attention']}):`);
    for (const row of p.attention.slice(0, 10)) lines.push(`- row ${row.row} \`${row.upn}\`: ${row.error ? `${row.error.type}: ${row.error.message.slice(0, 200)}` : 'needs attention'}`);
    lines.push('', `Decide for all of them at once: \`dialtone batch decide ${batchId} retry --reason "…"\` (or rollback / abandon, optionally --error-type).`);
  }
  if (p.state === 'waiting-for-licenses' && p.licenses?.purchase?.canPurchase && p.licenses.purchase.approvals?.at(-1)?.state !== 'buying') {
    const units = Math.max(p.licenses.short, p.licenses.purchase.offer?.units ?? 0);
    const ceilings = p.licenses.purchase.ceilings;
    lines.push('', `Approve the purchase: \`dialtone approve-purchase ${batchId} --batch --units ${units} --reason "…"\`` +
      (ceilings ? ` (ceilings: ${ceilings.perBatch} a batch, ${ceilings.leftToday} of ${ceilings.perDay} left today)` : '') + '.');
  }
  if (!p.endedAt && !p.dryRun) {
    lines.push('', `Control: \`dialtone batch pause|resume|cancel|retry-failed ${batchId}\`; progress: \`dialtone batch watch ${batchId}\`; ` +
      `results: \`dialtone batch report ${batchId} > results.csv\`.`);
  }
  return lines.join('\n');
}
