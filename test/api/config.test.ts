import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadApiConfig } from '../../api/config';
import { ConfigError } from '../../lib/config';
import { LOCAL_TENANT_ID } from '../../lib/local-defaults';
import { TASK_QUEUE } from '../../workflows/provision-resource-account/definitions';

const TOKEN = 'a-long-enough-token-1234';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadApiConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

describe('loadApiConfig', () => {
  test('is secure by default: no tokens and auth not disabled is refused, naming both ways out', () => {
    const problems = problemsOf({});
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^API_AUTH_TOKENS is not set: .*API_AUTH_TOKENS_FILE.*set API_AUTH_DISABLED=true for a local open API/);
  });

  test('defaults: local host and port, info logs, the workflow task queue, the local tenant', () => {
    const config = loadApiConfig({ API_AUTH_TOKENS: TOKEN });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 3000);
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.auth, { tokens: [TOKEN], disabled: false });
    assert.equal(config.temporal.address, 'localhost:7233');
    assert.equal(config.temporal.taskQueue, TASK_QUEUE);
    assert.equal(config.tenantId, LOCAL_TENANT_ID);
    assert.equal(config.temporalUiUrl, undefined);
    assert.equal(config.docsUi, true, 'the interactive OpenAPI page is on outside production');
  });

  test('the interactive OpenAPI page is off in production unless API_DOCS_UI=true', () => {
    assert.equal(loadApiConfig({ API_AUTH_TOKENS: TOKEN, NODE_ENV: 'production' }).docsUi, false);
    assert.equal(loadApiConfig({ API_AUTH_TOKENS: TOKEN, NODE_ENV: 'production', API_DOCS_UI: 'true' }).docsUi, true);
    assert.equal(loadApiConfig({ API_AUTH_TOKENS: TOKEN, API_DOCS_UI: 'false' }).docsUi, false);
  });

  test('several comma-separated tokens, spaces trimmed', () => {
    const config = loadApiConfig({ API_AUTH_TOKENS: ` ${TOKEN} , second-token-abcdefghijkl,` });
    assert.deepEqual(config.auth.tokens, [TOKEN, 'second-token-abcdefghijkl']);
  });

  test('tokens from API_AUTH_TOKENS_FILE', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dialtone-api-'));
    const file = path.join(dir, 'tokens');
    writeFileSync(file, `${TOKEN}\n`);
    assert.deepEqual(loadApiConfig({ API_AUTH_TOKENS_FILE: file }).auth.tokens, [TOKEN]);
  });

  test('an unreadable token file is named', () => {
    const problems = problemsOf({ API_AUTH_TOKENS_FILE: '/nonexistent/tokens' });
    assert.ok(problems.some((p) => p.startsWith('API_AUTH_TOKENS_FILE="/nonexistent/tokens" cannot be read')), problems.join('\n'));
  });

  test('API_AUTH_DISABLED=true opens the API on purpose', () => {
    const config = loadApiConfig({ API_AUTH_DISABLED: 'true' });
    assert.deepEqual(config.auth, { tokens: [], disabled: true });
  });

  test('tokens and API_AUTH_DISABLED=true together are ambiguous and refused', () => {
    const problems = problemsOf({ API_AUTH_DISABLED: 'true', API_AUTH_TOKENS: TOKEN });
    assert.match(problems.join('\n'), /API_AUTH_TOKENS is set but API_AUTH_DISABLED=true/);
  });

  test('a short token is refused without echoing it', () => {
    const problems = problemsOf({ API_AUTH_TOKENS: `${TOKEN},short-secret` });
    assert.match(problems.join('\n'), /1 token is shorter than 16 characters/);
    assert.doesNotMatch(problems.join('\n'), /short-secret/);
  });

  test('every bad variable is reported at once', () => {
    const problems = problemsOf({
      API_AUTH_TOKENS: TOKEN,
      API_PORT: 'eighty',
      API_AUTH_DISABLED: 'maybe',
      LOG_LEVEL: 'loud',
      TEMPORAL_ADDRESS: 'localhost',
      TEMPORAL_UI_URL: 'not a url',
      API_WORKER_TIMEOUT_MS: '5',
      AZURE_TENANT_ID: 'contoso',
    });
    const text = problems.join('\n');
    for (const name of ['API_PORT', 'API_AUTH_DISABLED', 'LOG_LEVEL', 'TEMPORAL_ADDRESS', 'TEMPORAL_UI_URL', 'API_WORKER_TIMEOUT_MS', 'AZURE_TENANT_ID']) {
      assert.match(text, new RegExp(`${name}=`), `${name} should be named in:\n${text}`);
    }
  });

  test('overrides are taken', () => {
    const config = loadApiConfig({
      API_AUTH_TOKENS: TOKEN,
      API_HOST: '0.0.0.0',
      API_PORT: '8080',
      LOG_LEVEL: 'debug',
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'dialtone',
      TEMPORAL_UI_URL: 'http://localhost:8233/',
      API_WORKER_TIMEOUT_MS: '2500',
    });
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 8080);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.temporal.namespace, 'dialtone');
    assert.equal(config.temporalUiUrl, 'http://localhost:8233');
    assert.equal(config.workerTimeoutMs, 2500);
  });
});
