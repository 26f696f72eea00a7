/**
 * What an operator reads in the Temporal Web UI: the run's "current details" (markdown), rebuilt from
 * the status at every change, and the exact commands that answer a needs-attention run. Pure functions.
 */
import { STEP_TITLES } from './definitions';
import type { Decision, ProvisionResourceAccountStatus } from './definitions';

const DECISION_WORDS: Record<Decision, string> = {
  retry: 'run the step again once the cause is fixed',
  rollback: 'undo what this run did, newest first',
  abandon: 'stop here; anything done so far stays',
};

/** `dialtone decide …` and the REST call, for each allowed decision. */
export function decisionCommands(upn: string, decisions: readonly Decision[]): string[] {
  const id = upn.toLowerCase();
  return decisions.flatMap((decision) => [
    `dialtone decide ${id} ${decision} --reason "…"   # ${DECISION_WORDS[decision]}`,
    `POST /v1/resource-accounts/${encodeURIComponent(id)}/decision {"decision":"${decision}","reason":"…"}`,
  ]);
}

const STATE_HEADLINES: Record<ProvisionResourceAccountStatus['state'], string> = {
  running: 'Running',
  'needs-attention': 'Needs attention: waiting for an operator decision',
  'rolling-back': 'Rolling back',
  completed: 'Completed: the account is provisioned',
  'rolled-back': 'Rolled back (operator decision)',
  abandoned: 'Abandoned',
  cancelled: 'Cancelled',
};

const STEP_MARKS = { pending: '○', running: '▶', succeeded: '✔', failed: '✖', skipped: '–', undone: '↶' } as const;

/** An ISO timestamp as a person reads it: "2026-12-03 15:14 UTC". */
function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** The first sentence of a message, for one-line lists. */
function firstSentence(message: string): string {
  const end = message.search(/\.(\s|$)/);
  const sentence = end >= 0 ? message.slice(0, end + 1) : message;
  return sentence.length > 160 ? `${sentence.slice(0, 157)}…` : sentence;
}

/** Markdown for the Web UI's "current details" of a run. */
export function currentDetails(status: ProvisionResourceAccountStatus): string {
  const { request } = status;
  const lines: string[] = [`## ${STATE_HEADLINES[status.state]}`, ''];
  const attention = status.attention;
  if (attention) {
    lines.push(`**Waiting for:** ${attention.waitingFor}`, '');
    if (attention.error.problems && attention.error.problems.length > 0) {
      lines.push(`**Why** (${attention.error.type}): the pre-flight found these before any change; fix them all, then retry:`, '');
      for (const problem of attention.error.problems) lines.push(`- \`${problem.field}\` (${problem.type}): ${problem.message}`);
      lines.push('');
    } else {
      lines.push(`**Why** (${attention.error.type}): ${attention.error.message}`, '');
    }
    if (attention.autoRetry) {
      const auto = attention.autoRetry;
      lines.push(
        `**Continues by itself** once ${auto.what}: checked every ${Math.round(auto.intervalMs / 60_000 * 10) / 10} min, ` +
          `${auto.checks} check${auto.checks === 1 ? '' : 's'} so far${auto.lastResult ? ` (last: ${auto.lastResult})` : ''}, next at ${when(auto.nextCheckAt)}.`,
        '',
      );
    }
    lines.push(`**Decide** (${attention.allowedDecisions.join(' / ')}) before ${when(attention.deadline)}, or the run abandons itself then:`, '');
    for (const decision of attention.allowedDecisions) {
      const commands = decisionCommands(request.upn, [decision]).map((c) => `\`${c.replace(/ +#.*$/, '')}\``);
      lines.push(`- **${decision}** — ${DECISION_WORDS[decision]}: ${commands.join(' or ')}`);
    }
    lines.push('');
  } else if (status.state === 'running' && status.currentStep) {
    lines.push(`**Now:** ${STEP_TITLES[status.currentStep]}`, '');
  }
  if (status.cancelRequestedAt && status.state === 'rolling-back') {
    lines.push(`**Cancel requested** at ${when(status.cancelRequestedAt)}: the roll-back finishes first, so nothing is left half-undone.`, '');
  }
  if (status.outcome) lines.push(`**Outcome:** ${status.outcome}`, '');
  if (status.leftBehind && status.leftBehind.length > 0) {
    lines.push('**Left in the tenant:**', '', ...status.leftBehind.map((item) => `- ${item}`), '');
  }
  lines.push(`**Account:** ${request.upn.toLowerCase()} (${request.kind}) → ${request.phoneNumber}, usage location ${request.usageLocation}` +
    (status.accountId ? `, object id ${status.accountId}${status.adopted ? ' (adopted)' : ''}` : ''), '');
  lines.push('**Steps:**', '');
  for (const step of status.steps) {
    // The step that waits for a decision has its error said above already.
    const about = step.detail ?? (step.lastError
      ? attention?.step === step.name ? `${step.lastError.type} (see Why above)` : `${step.lastError.type}: ${firstSentence(step.lastError.message)}`
      : '');
    lines.push(`${STEP_MARKS[step.status]} ${step.title}${about ? ` — ${about}` : ''}  `);
  }
  if (status.decisions.length > 0) {
    lines.push('', '**Decisions:**', '');
    for (const d of status.decisions) {
      lines.push(`- ${when(d.at)}: **${d.decision}** by ${d.by}${d.automatic ? ' (automatic)' : ''} at step ${d.step}${d.reason ? `: ${d.reason}` : ''}`);
    }
  }
  return lines.join('\n');
}
