/** The pacer on a fake clock: costs, the budget over a window, and the pause after a 429. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Pacer, resourceUnits } from '../../activities/pacing';

const SCOPE = 'Tenant_Application/ReadWrite/app/tenant';

function fakeClock() {
  let now = 1_000_000;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

describe('pacing to the tenant budget', () => {
  test('costs follow Microsoft\'s identity and access table', () => {
    assert.equal(resourceUnits('GET', 'https://graph.microsoft.com/v1.0/users?$filter=x'), 1);
    assert.equal(resourceUnits('GET', 'https://graph.microsoft.com/v1.0/subscribedSkus'), 3);
    assert.equal(resourceUnits('GET', 'https://graph.microsoft.com/v1.0/subscribedSkus?$select=skuId'), 2);
    assert.equal(resourceUnits('GET', 'https://graph.microsoft.com/v1.0/users/1/licenseDetails'), 2);
    assert.equal(resourceUnits('GET', 'https://graph.microsoft.com/v1.0/users?$select=id&$top=5'), 1, 'never under 1');
    assert.equal(resourceUnits('POST', 'https://graph.microsoft.com/v1.0/users/1/assignLicense'), 1);
  });

  test('requests never use more than the budget over any window', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ resourceUnits: 300, windowMs: 10_000 }, clock.now, clock.sleep);
    const start = clock.now();
    const times: number[] = [];
    for (let i = 0; i < 900; i++) {
      await pacer.acquire('GET', 'https://graph.microsoft.com/v1.0/users?$filter=x');
      times.push(clock.now() - start);
    }
    for (let i = 0; i + 300 < times.length; i++) {
      assert.ok((times[i + 300] ?? 0) - (times[i] ?? 0) >= 9_900, `request ${i + 300} came within one window of request ${i}`);
    }
    const seconds = (times[times.length - 1] ?? 0) / 1000;
    // A tenth of the budget at once, the rest at 27 units a second.
    assert.ok(seconds >= 31 && seconds <= 33, `900 units take about 32 s (${seconds} s)`);
  });

  test('a worker that shares the tenant with another takes half the budget', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ resourceUnits: 300, windowMs: 10_000 }, clock.now, clock.sleep);
    pacer.setShare(0.5);
    const start = clock.now();
    for (let i = 0; i < 450; i++) await pacer.acquire('GET', 'https://graph.microsoft.com/v1.0/users?$filter=x');
    const seconds = (clock.now() - start) / 1000;
    assert.ok(seconds >= 31 && seconds <= 33, `450 units at half of 300 per 10 s take about 32 s (${seconds} s)`);
    assert.throws(() => pacer.setShare(0), /pacing share/);
  });

  test('a 429 pauses every request until Retry-After has passed, with jitter, and pauses grow while no Retry-After comes', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ resourceUnits: 3000, windowMs: 10_000 }, clock.now, clock.sleep);
    await pacer.acquire('GET', 'https://graph.microsoft.com/v1.0/users');
    pacer.throttled(5000, SCOPE, () => 0.5);
    const before = clock.now();
    await pacer.acquire('GET', 'https://graph.microsoft.com/v1.0/users');
    assert.equal(clock.now() - before, 5625, 'Retry-After plus a quarter of it at most');
    pacer.throttled(undefined, SCOPE, () => 0);
    pacer.throttled(undefined, SCOPE, () => 0);
    const later = clock.now();
    await pacer.acquire('GET', 'https://graph.microsoft.com/v1.0/users');
    assert.equal(clock.now() - later, 4000, 'the third 429 in a row without Retry-After pauses 4 s');
    pacer.answered();
    pacer.throttled(undefined, SCOPE, () => 0);
    const after = clock.now();
    await pacer.acquire('GET', 'https://graph.microsoft.com/v1.0/users');
    assert.equal(clock.now() - after, 1000, 'an answer in between starts the pauses over');
    pacer.throttled(5000, null, () => 0);
    const busy = clock.now();
    await pacer.acquire('GET', 'https://graph.microsoft.com/v1.0/users');
    assert.equal(clock.now() - busy, 0, 'a 429 that does not name the app\'s limit in the tenant pauses only its own request');
    assert.equal(pacer.stats.throttled, 5);
  });
});
