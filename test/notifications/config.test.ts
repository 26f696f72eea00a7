/** The notification settings of the worker and the API: validated at boot, naming the variable and the fix. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadApiConfig } from '../../api/config';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNotificationActivities, retryAfterMs } from '../../activities/notifications';
import { ConfigError } from '../../lib/config';
import { validateNotifyUrl } from '../../lib/notify-url';
import { describeWorkerConfig, loadWorkerConfig } from '../../worker/config';
import { LOCAL_NOTIFY_SIGNING_SECRET } from '../../worker/notify-config';

const SIMULATOR = { NODE_EXTRA_CA_CERTS: '/x/ca.pem' };
const MICROSOFT = {
  DIALTONE_TENANT_MODE: 'microsoft',
  AZURE_TENANT_ID: '11111111-2222-3333-4444-555555555555',
  AZURE_CLIENT_ID: '66666666-7777-8888-9999-000000000000',
  AZURE_CLIENT_SECRET: 's',
};
const SECRET = 'a'.repeat(64);

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return assert.fail('expected a ConfigError');
}

describe('worker notification settings', () => {
  test('by default: no receivers of the operator\'s, 10 s a POST, retried for 3 days; simulator mode signs with its fixed local secret', () => {
    const { notifications } = loadWorkerConfig(SIMULATOR);
    assert.deepEqual(notifications, { urls: [], callerRules: { allowHttp: false }, signingSecret: LOCAL_NOTIFY_SIGNING_SECRET, timeoutMs: 10_000, retryWindowMs: 3 * 24 * 3_600_000 });
    const real = loadWorkerConfig(MICROSOFT).notifications;
    assert.equal(real.signingSecret, undefined, 'against a real tenant there is no default secret: nothing is sent until one is set');
  });

  test('the operator\'s URLs, secret and timings are read; the log copy shows neither the secret nor a URL\'s query', () => {
    const config = loadWorkerConfig({
      ...MICROSOFT,
      DIALTONE_NOTIFY_URLS: ' https://ops.example.com/hook?token=t0ps3cret , http://127.0.0.1:9000/local',
      DIALTONE_NOTIFY_SIGNING_SECRET: SECRET,
      DIALTONE_NOTIFY_TIMEOUT_MS: '5000',
      DIALTONE_NOTIFY_RETRY_WINDOW_MS: '3600000',
    });
    assert.deepEqual(config.notifications, {
      callerRules: { allowHttp: false },
      urls: ['https://ops.example.com/hook?token=t0ps3cret', 'http://127.0.0.1:9000/local'],
      signingSecret: SECRET,
      timeoutMs: 5000,
      retryWindowMs: 3_600_000,
    });
    const logged = JSON.stringify(describeWorkerConfig(config));
    assert.ok(!logged.includes(SECRET), 'the secret is never logged');
    assert.ok(!logged.includes('t0ps3cret'), "a URL's query is never logged");
    assert.match(logged, /"signingSecret":"\(set\)"/);
  });

  test('bad settings are refused at boot, each naming the variable and the fix, never echoing a URL', () => {
    const found = problems(() => loadWorkerConfig({
      ...MICROSOFT,
      DIALTONE_NOTIFY_URLS: 'http://ops.example.com/hook?token=t0ps3cret,https://u:p@ops.example.com/,not a url',
      DIALTONE_NOTIFY_TIMEOUT_MS: '10',
      DIALTONE_NOTIFY_RETRY_WINDOW_MS: 'forever',
    }));
    assert.ok(found.some((p) => /^DIALTONE_NOTIFY_URLS \(URL 1\) must be an https URL: .*DIALTONE_NOTIFY_ALLOW_HTTP=true/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /^DIALTONE_NOTIFY_URLS \(URL 2\) must not carry user:password/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /^DIALTONE_NOTIFY_URLS \(URL 3\) is not an absolute URL/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /^DIALTONE_NOTIFY_URLS is set but DIALTONE_NOTIFY_SIGNING_SECRET is not: events are never sent unsigned/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /^DIALTONE_NOTIFY_TIMEOUT_MS="10" is not a whole number from 1000 to 120000/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /^DIALTONE_NOTIFY_RETRY_WINDOW_MS="forever"/.test(p)), found.join('\n'));
    assert.ok(!found.join('\n').includes('t0ps3cret'));
  });

  test('a short signing secret is refused without being echoed; http to any host only when allowed', () => {
    const found = problems(() => loadWorkerConfig({ ...SIMULATOR, DIALTONE_NOTIFY_SIGNING_SECRET: 'short-secret-xyz' }));
    assert.deepEqual(found, ['DIALTONE_NOTIFY_SIGNING_SECRET is shorter than 32 characters: use a long random one, e.g. from `openssl rand -hex 32`']);
    const allowed = loadWorkerConfig({ ...SIMULATOR, DIALTONE_NOTIFY_URLS: 'http://ops.internal/hook', DIALTONE_NOTIFY_ALLOW_HTTP: 'true' });
    assert.deepEqual(allowed.notifications.urls, ['http://ops.internal/hook']);
  });
});

describe('API notification settings and the URL rule', () => {
  test('DIALTONE_NOTIFY_ALLOW_HTTP is a boolean, off by default', () => {
    const base = { API_AUTH_TOKENS: 'test-token-0123456789abcdef' };
    assert.deepEqual(loadApiConfig(base).notifyRules, { allowHttp: false });
    assert.deepEqual(loadApiConfig({ ...base, DIALTONE_NOTIFY_ALLOW_HTTP: 'true' }).notifyRules, { allowHttp: true });
    assert.deepEqual(problems(() => loadApiConfig({ ...base, DIALTONE_NOTIFY_ALLOW_HTTP: 'maybe' })), ['DIALTONE_NOTIFY_ALLOW_HTTP="maybe" must be true or false']);
  });

  test('http is accepted for loopback hosts only, unless allowed', () => {
    const strict = { allowHttp: false };
    for (const url of ['http://127.0.0.1:8080/x', 'http://localhost/x', 'http://[::1]:9000/x', 'https://hooks.example.com/x?token=abc']) {
      assert.equal(validateNotifyUrl(url, 'notify.url', strict), undefined, url);
    }
    for (const url of ['http://10.0.0.1/x', 'http://127.0.0.1.example.com/x', 'http://localhost.example.com/x']) {
      assert.match(validateNotifyUrl(url, 'notify.url', strict)?.message ?? '', /must be an https URL/, url);
    }
    assert.equal(validateNotifyUrl('http://10.0.0.1/x', 'notify.url', { allowHttp: true }), undefined);
  });

  test('link-local addresses (where clouds serve instance metadata) are refused whatever else is allowed', () => {
    for (const url of ['http://169.254.169.254/metadata/instance', 'https://169.254.0.1/x', 'http://[fe80::1]/x']) {
      assert.match(validateNotifyUrl(url, 'notify.url', { allowHttp: true })?.message ?? '', /^notify\.url names a link-local address/, url);
    }
  });

  test('DIALTONE_NOTIFY_ALLOWED_HOSTS: a caller may name only the hosts listed, exactly or under a .domain entry', () => {
    const base = { API_AUTH_TOKENS: 'test-token-0123456789abcdef' };
    const rules = loadApiConfig({ ...base, DIALTONE_NOTIFY_ALLOWED_HOSTS: 'hooks.contoso.com, .fabrikam.net,127.0.0.1' }).notifyRules;
    assert.deepEqual(rules, { allowHttp: false, allowedHosts: ['hooks.contoso.com', '.fabrikam.net', '127.0.0.1'] });
    for (const url of ['https://hooks.contoso.com/x', 'https://HOOKS.contoso.com./x', 'https://a.b.fabrikam.net/x', 'https://fabrikam.net/x', 'http://127.0.0.1:9000/x']) {
      assert.equal(validateNotifyUrl(url, 'notify.url', rules), undefined, url);
    }
    for (const url of ['https://contoso.com/x', 'https://hooks.contoso.com.evil.example/x', 'https://evilfabrikam.net/x', 'http://localhost:9000/x']) {
      assert.match(validateNotifyUrl(url, 'notify.url', rules)?.message ?? '', /is not one this Dialtone sends events to \(DIALTONE_NOTIFY_ALLOWED_HOSTS lists hooks\.contoso\.com, \.fabrikam\.net, 127\.0\.0\.1\)/, url);
    }
    assert.deepEqual(problems(() => loadApiConfig({ ...base, DIALTONE_NOTIFY_ALLOWED_HOSTS: 'https://hooks.contoso.com/x' })), [
      'DIALTONE_NOTIFY_ALLOWED_HOSTS must list host names, comma-separated: hooks.contoso.com for that host, .example.com for any host under it (not a host name: "https://hooks.contoso.com/x")'.replace('hooks.contoso.com for that host', 'hooks.example.com for that host'),
    ]);
    // The worker reads the same variable, checks callers' URLs again when it sends, and logs the list.
    const worker = loadWorkerConfig({ ...SIMULATOR, DIALTONE_NOTIFY_ALLOWED_HOSTS: '.contoso.com' });
    assert.deepEqual(worker.notifications.callerRules, { allowHttp: false, allowedHosts: ['.contoso.com'] });
    assert.match(JSON.stringify(describeWorkerConfig(worker)), /"allowedHosts":\[".contoso.com"\]/);
  });

  test("the worker checks a caller's URL again when it sends: one the operator no longer allows gets nothing, the operator's own still do", async () => {
    const settings = { urls: ['https://ops.example.com/hook'], callerRules: { allowHttp: false, allowedHosts: ['.contoso.com'] }, timeoutMs: 10_000, retryWindowMs: 60_000 };
    const { notificationTargets } = createNotificationActivities(settings);
    const { targets } = await new MockActivityEnvironment().run<[Parameters<typeof notificationTargets>[0]], Awaited<ReturnType<typeof notificationTargets>>, typeof notificationTargets>(notificationTargets, {
      callers: [{ url: 'https://hooks.contoso.com/x', origin: 'request' as const }, { url: 'https://hooks.fabrikam.net/x', origin: 'batch' as const }],
    });
    assert.deepEqual(targets, [{ url: 'https://hooks.contoso.com/x', origin: 'request' }, { url: 'https://ops.example.com/hook', origin: 'operator' }]);
  });

  test("a receiver's Retry-After is honoured as seconds or a date, within a second and an hour", () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterMs('30', now), 30_000);
    assert.equal(retryAfterMs('0', now), 1000);
    assert.equal(retryAfterMs('999999', now), 3_600_000);
    assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:02:00 GMT', now), 120_000);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });
});
