/**
 * Microsoft's answers named for what they are: 429 is throttling; 503 Service Unavailable and 504 Gateway
 * Timeout are transient service errors named by their status (Graph's HTTP status codes,
 * https://learn.microsoft.com/graph/errors), each keeping Retry-After as the next retry delay.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { toActivityFailure } from '../../activities/graph/errors';
import { ErrorType } from '../../lib/error-types';
import { createTenantActivities } from '../../worker/worker';
import { TEST_POLLING, startTestSimulator } from '../helpers/simulator';
import { run, upn } from './harness';

const ctx = { action: 'read the tenant\'s subscribed SKUs', permission: 'Organization.Read.All' };

function answer(statusCode: number, code: string, retryAfter?: string) {
  return { statusCode, code, message: 'Try again later.', requestId: 'r-1', headers: new Headers(retryAfter ? { 'retry-after': retryAfter } : {}) };
}

describe('service errors by status', () => {
  test('429 is Throttled; 503 and 504 are TransientServiceError named by their status; Retry-After is kept', () => {
    const throttled = toActivityFailure(answer(429, 'TooManyRequests', '3'), ctx);
    assert.equal(throttled.type, ErrorType.Throttled);
    assert.equal(throttled.nextRetryDelay, 3000);

    const unavailable = toActivityFailure(answer(503, 'serviceNotAvailable', '7'), ctx);
    assert.equal(unavailable.type, ErrorType.TransientServiceError);
    assert.equal(unavailable.nonRetryable, false);
    assert.equal(unavailable.nextRetryDelay, 7000);
    assert.equal(unavailable.message, '503 Service Unavailable while trying to read the tenant\'s subscribed SKUs: serviceNotAvailable: Try again later. (request-id r-1)');

    const timeout = toActivityFailure(answer(504, 'UnknownError'), ctx);
    assert.equal(timeout.type, ErrorType.TransientServiceError);
    assert.equal(timeout.nonRetryable, false);
    assert.equal(timeout.nextRetryDelay, undefined, 'no Retry-After: the retry policy decides');
    assert.match(timeout.message, /^504 Gateway Timeout while trying to read the tenant's subscribed SKUs: UnknownError/);

    assert.match(toActivityFailure(answer(500, 'UnknownError'), ctx).message, /^500 Internal Server Error while trying/);
    assert.match(toActivityFailure(answer(599, 'UnknownError'), ctx).message, /^HTTP 599 while trying/);
    assert.match(toActivityFailure(Object.assign(new Error('fetch failed'), { statusCode: -1 }), ctx).message, /^No answer while trying/);
  });

  test('the simulator\'s transient faults reach the activity as Throttled, 503 Service Unavailable and 504 Gateway Timeout', async () => {
    const sim = await startTestSimulator({ faultRate: 1, retryAfterOmissionRate: 0 });
    try {
      const acts = createTenantActivities(sim.tenant, TEST_POLLING);
      const seen = new Map<string, ApplicationFailure>();
      for (let i = 0; i < 60 && seen.size < 3; i++) {
        await run(acts, 'checkLicenseAvailability', { upn: upn(), needed: 1 }).then(
          () => assert.fail('every request fails at faultRate 1'),
          (err: unknown) => {
            assert.ok(err instanceof ApplicationFailure, String(err));
            seen.set(err.type === ErrorType.Throttled ? '429' : err.message.slice(0, 3), err);
          },
        );
      }
      assert.deepEqual([...seen.keys()].sort(), ['429', '503', '504'], [...seen.values()].map((f) => f.message).join('\n'));
      assert.equal(seen.get('429')?.type, ErrorType.Throttled);
      const unavailable = seen.get('503');
      assert.equal(unavailable?.type, ErrorType.TransientServiceError);
      assert.match(unavailable?.message ?? '', /^503 Service Unavailable while trying to .*serviceNotAvailable/);
      assert.ok(typeof unavailable?.nextRetryDelay === 'number' && unavailable.nextRetryDelay >= 1000, 'the 503\'s Retry-After is the next retry delay');
      const lost = seen.get('504');
      assert.equal(lost?.type, ErrorType.TransientServiceError);
      assert.match(lost?.message ?? '', /^504 Gateway Timeout while trying to /);
    } finally {
      await sim.close();
    }
  });
});
