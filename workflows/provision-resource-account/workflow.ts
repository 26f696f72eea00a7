import { ApplicationFailure } from '@temporalio/workflow';
import { validateProvisionOptions, validateResourceAccountRequest } from '../../lib/validation';
import type { ProvisionResourceAccountInput, ProvisionResourceAccountOutput } from './definitions';
import { ProvisioningRun, settingsFor } from './run';

export { DEFAULT_ATTENTION_TIMEOUT_MS, DEFAULT_LICENSE_RECHECK_INTERVAL_MS, DEFAULT_PROPAGATION_TIMEOUT_MS } from './run';

/**
 * Provisions one Teams Phone resource account end to end: pre-flight, account, usage location and
 * license, propagation wait, service number. Idempotent: re-running it adopts what already exists.
 * Every outcome an operator chose (rolled back, abandoned) or the run reached is a result, not a
 * failure; only a cancellation ends the execution as cancelled. State and handlers: ./run.ts.
 */
export async function provisionResourceAccount(input: ProvisionResourceAccountInput): Promise<ProvisionResourceAccountOutput> {
  // Checked before anything else, so no input can make a workflow task fail (e.g. a deadline past year 275760).
  const problems = [...validateResourceAccountRequest(input), ...validateProvisionOptions(input.options, 'options.', 'workflow')];
  if (problems.length > 0) {
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: problems.map((p) => p.message).join('; '),
      details: problems,
    });
  }
  return new ProvisioningRun(input, settingsFor(input)).execute();
}
