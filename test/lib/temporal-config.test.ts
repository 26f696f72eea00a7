/**
 * How the worker and the API resolve their Temporal connection: @temporalio/envconfig's TOML profiles
 * and TEMPORAL_* variables, with Dialtone's checks on top (every problem named, nothing secret shown).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadApiConfig } from '../../api/config';
import { ConfigError, EnvReader, describeTemporalConfig, readTemporalConfig, temporalConnectionOptions } from '../../lib/config';
import { loadWorkerConfig } from '../../worker/config';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dialtone-temporal-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const full = path.join(dir, name);
  writeFileSync(full, text);
  return full;
}

function read(env: Record<string, string>) {
  const r = new EnvReader(env);
  const config = readTemporalConfig(r, 'q');
  return { config, problems: r.problems };
}

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n';

const PROFILES = file(
  'temporal.toml',
  `[profile.default]
address = "localhost:7233"
namespace = "default"

[profile.cloud]
address = "dialtone.a1b2c.tmprl.cloud:7233"
namespace = "dialtone.a1b2c"
api_key = "cloud-api-key-123"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "provisioning"
[profile.mtls.tls]
server_name = "temporal.internal"
server_ca_cert_data = """${CA}"""
client_cert_data = """${CA}"""
client_key_data = """${KEY}"""
[profile.mtls.grpc_meta]
x-tenant = "contoso"
`,
);

describe('Temporal connection settings from a profile and TEMPORAL_* variables', () => {
  test('with nothing set: the local dev server, namespace default, no TLS', () => {
    const { config, problems } = read({});
    assert.deepEqual(problems, []);
    assert.deepEqual(config, { address: 'localhost:7233', namespace: 'default', taskQueue: 'q' });
    assert.deepEqual(temporalConnectionOptions(config), { address: 'localhost:7233' });
  });

  test('a named profile of TEMPORAL_CONFIG_FILE: a Temporal Cloud API key turns TLS on', () => {
    const { config, problems } = read({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'cloud' });
    assert.deepEqual(problems, []);
    assert.equal(config.address, 'dialtone.a1b2c.tmprl.cloud:7233');
    assert.equal(config.namespace, 'dialtone.a1b2c');
    assert.equal(config.apiKey, 'cloud-api-key-123');
    assert.equal(config.tls, true);
    assert.deepEqual(config.profile, { name: 'cloud', file: PROFILES });
  });

  test('mTLS, a private CA, a server name and gRPC headers from the profile', () => {
    const { config, problems } = read({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'mtls' });
    assert.deepEqual(problems, []);
    assert.ok(typeof config.tls === 'object');
    assert.equal(config.tls.serverNameOverride, 'temporal.internal');
    assert.equal(Buffer.from(config.tls.serverRootCACertificate ?? []).toString(), CA);
    assert.equal(Buffer.from(config.tls.clientCertPair?.key ?? []).toString(), KEY);
    assert.deepEqual(config.metadata, { 'x-tenant': 'contoso' });
    const logged = JSON.stringify(describeTemporalConfig(config));
    assert.ok(!logged.includes('secret-key-material'), 'the logged config never shows a key');
    assert.match(logged, /"clientCert":"\(set\)"/);
  });

  test('each TEMPORAL_* variable overrides its field of the profile, as the Temporal CLI does', () => {
    const { config } = read({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'other.a1b2c', TEMPORAL_TASK_QUEUE: 'mine' });
    assert.equal(config.address, 'dialtone.a1b2c.tmprl.cloud:7233');
    assert.equal(config.namespace, 'other.a1b2c');
    assert.equal(config.taskQueue, 'mine');
  });

  test('an empty variable (compose passes ${X:-}) is unset: it neither blanks the key nor switches TLS off', () => {
    const { config, problems } = read({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'cloud', TEMPORAL_API_KEY: '', TEMPORAL_TLS: '', TEMPORAL_ADDRESS: '' });
    assert.deepEqual(problems, []);
    assert.equal(config.apiKey, 'cloud-api-key-123');
    assert.equal(config.tls, true);
    assert.equal(config.address, 'dialtone.a1b2c.tmprl.cloud:7233');
  });

  test('the profile file in the default place (~/.config/temporalio/temporal.toml) is found without any variable', () => {
    const home = mkdtempSync(path.join(dir, 'home-'));
    const config = loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x/ca.pem', XDG_CONFIG_HOME: path.join(home, 'cfg') });
    assert.equal(config.temporal.address, 'localhost:7233', 'no file there: the defaults');
    const cfg = path.join(home, 'cfg', 'temporalio');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(path.join(cfg, 'temporal.toml'), '[profile.default]\naddress = "temporal.example:7233"\nnamespace = "dialtone"\n');
    const found = loadApiConfig({ API_AUTH_DISABLED: 'true', XDG_CONFIG_HOME: path.join(home, 'cfg') });
    assert.equal(found.temporal.address, 'temporal.example:7233');
    assert.equal(found.temporal.namespace, 'dialtone');
  });

  test('TEMPORAL_API_KEY_FILE (a Docker or Kubernetes secret) gives the key', () => {
    const { config, problems } = read({ TEMPORAL_API_KEY_FILE: file('key', 'from-a-file-456\n'), TEMPORAL_ADDRESS: 'x.tmprl.cloud:7233' });
    assert.deepEqual(problems, []);
    assert.equal(config.apiKey, 'from-a-file-456');
    assert.equal(config.tls, true);
    assert.ok(!JSON.stringify(describeTemporalConfig(config)).includes('from-a-file-456'));
  });

  test('mistakes are named with the fix, all at once', () => {
    assert.deepEqual(read({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'staging' }).problems, [
      `TEMPORAL_PROFILE="staging" is not a profile in ${PROFILES}: add [profile.staging] to it, or set TEMPORAL_PROFILE to one it has`,
    ]);
    const [broken] = read({ TEMPORAL_CONFIG_FILE: file('broken.toml', '[profile.default\naddress = 1') }).problems;
    assert.match(broken ?? '', /^the Temporal config file .*broken\.toml cannot be used \(.+\): fix it, or point TEMPORAL_CONFIG_FILE at a valid TOML file/);
    const [unknown] = read({ TEMPORAL_CONFIG_FILE: file('typo.toml', '[profile.default]\nadress = "x:1"\n') }).problems;
    assert.match(unknown ?? '', /key\(s\) unrecognized in profile\.default: adress/, 'a misspelt key is not silently ignored');
    assert.deepEqual(read({ TEMPORAL_TLS: 'yes', TEMPORAL_ADDRESS: 'nohostport', TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem' }).problems, [
      'TEMPORAL_TLS="yes" must be true or false',
      'TEMPORAL_ADDRESS="nohostport" must be host:port, e.g. localhost:7233',
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or client_cert_path and client_key_path in the profile) go together: set both or neither',
    ]);
    const [missing] = read({ TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'none.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'none.key') }).problems;
    assert.match(missing ?? '', /^a Temporal TLS file cannot be read \(ENOENT\): check TEMPORAL_TLS_\*_PATH/);
  });

  test('the worker and the API refuse to boot on a missing profile', () => {
    for (const load of [() => loadWorkerConfig({ NODE_EXTRA_CA_CERTS: '/x', TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'nope' }), () => loadApiConfig({ API_AUTH_DISABLED: 'true', TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'nope' })]) {
      assert.throws(load, (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('TEMPORAL_PROFILE="nope"')));
    }
  });
});
