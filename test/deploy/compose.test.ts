/**
 * The deployment files the product relies on: docker-compose.yml, the Dockerfile, .dockerignore,
 * deploy/ and .env.example. Structure is checked by parsing; Compose's interpolation and the Compose
 * Specification's JSON schema (scripts/check-compose.ts) check that Compose accepts the file, and refuses
 * it without the required secrets, on every machine the tests run on.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { checkCompose, interpolate } from '../../scripts/check-compose';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/provision-resource-account/definitions';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');

/** The custom search attributes the workflows upsert; the Web UI filters on them. */
const EXPECTED_SEARCH_ATTRIBUTES = ALL_SEARCH_ATTRIBUTES.map((key) => key.name);

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string | string[] };
  depends_on?: string[] | Record<string, { condition?: string }>;
  profiles?: string[];
  ports?: (string | number)[];
  volumes?: string[];
}

interface ComposeFile {
  version?: unknown;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const composeText = readFileSync(COMPOSE_FILE, 'utf8');
// `<<` merge keys: the file shares the app's build settings and the Temporal client variables.
const compose = parse(composeText, { merge: true }) as ComposeFile;
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const envExample = readFileSync(path.join(ROOT, '.env.example'), 'utf8');

function service(name: string): ComposeService {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has no service "${name}"`);
  return found;
}

function env(name: string): Record<string, string> {
  const raw = service(name).environment ?? {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map((entry) => {
      const at = entry.indexOf('=');
      return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

function words(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(' ') : (value ?? '');
}

function dependsOn(name: string): Record<string, string | undefined> {
  const raw = service(name).depends_on ?? {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((dep) => [dep, undefined]));
  return Object.fromEntries(Object.entries(raw).map(([dep, spec]) => [dep, spec.condition]));
}

function imageTag(image: string): string | undefined {
  const lastPart = image.slice(image.lastIndexOf('/') + 1).split('@')[0] ?? '';
  const colon = lastPart.indexOf(':');
  return colon < 0 ? undefined : lastPart.slice(colon + 1);
}

/** Names referenced as ${NAME...} in the compose file (`$${...}` is an escaped literal). */
function interpolatedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(match[1] ?? '');
  return names;
}

/** Variables .env.example documents, commented out or not. */
function envExampleNames(): string[] {
  return [...envExample.matchAll(/^#?[ \t]*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? '');
}

const SECRET_NAME = /(PASSWORD|PWD|SECRET|TOKENS?|API_KEY)$/;

void describe('docker-compose.yml', () => {
  void test('uses the Compose specification (no top-level version) and defines every service of the stack', () => {
    assert.equal(compose.version, undefined);
    for (const name of ['postgresql', 'temporal-schema', 'temporal', 'temporal-init', 'temporal-ui', 'worker', 'api', 'simulator']) {
      service(name);
    }
  });

  void test('pins every image to a version tag, never latest', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      assert.ok(svc.image, `${name} names its image`);
      const tag = imageTag(svc.image);
      assert.ok(tag, `${name}: image ${svc.image} has no tag`);
      assert.notEqual(tag, 'latest', `${name}: image ${svc.image} is not pinned`);
      if (svc.build === undefined) {
        assert.match(tag, /^\d+\.\d+(\.\d+)?([-.][\w.-]+)?$/, `${name}: third-party image ${svc.image} is pinned to a release`);
      }
    }
    assert.match(service('postgresql').image ?? '', /^postgres:16\./);
    const server = imageTag(service('temporal').image ?? '');
    assert.match(service('temporal').image ?? '', /^temporalio\/server:/);
    assert.equal(service('temporal-schema').image, `temporalio/admin-tools:${server}`, 'schema tool and server are the same release');
    assert.equal(service('temporal-init').image, `temporalio/admin-tools:${server}`);
    assert.match(service('temporal-ui').image ?? '', /^temporalio\/ui:/);
  });

  void test('PostgreSQL 16 keeps its data on a named volume and reports health', () => {
    const pg = service('postgresql');
    assert.ok(pg.volumes?.some((v) => v.endsWith(':/var/lib/postgresql/data') && !v.startsWith('.') && !v.startsWith('/')));
    assert.match(words(pg.healthcheck?.test), /pg_isready/);
  });

  void test('the Temporal schema is set up by admin-tools before the server starts, for both databases', () => {
    const schema = service('temporal-schema');
    assert.equal(env('temporal-schema').SQL_PLUGIN, 'postgres12');
    assert.equal(dependsOn('temporal-schema').postgresql, 'service_healthy');
    assert.match(words(schema.command) + words(schema.entrypoint), /\/dialtone\/setup-schema\.sh/);
    assert.ok(schema.volumes?.includes('./deploy/temporal:/dialtone:ro'));
    const script = readFileSync(path.join(ROOT, 'deploy/temporal/setup-schema.sh'), 'utf8');
    for (const kind of ['temporal', 'visibility']) {
      assert.ok(script.includes(`$SCHEMA_ROOT/${kind}/versioned`), `updates the ${kind} schema from its versioned folder`);
    }
    assert.ok(script.includes('SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12'));
    assert.match(script, /temporal-sql-tool --db "\$db" create\n/);
    assert.match(script, /temporal-sql-tool --db "\$db" setup-schema -v 0\.0\n/);
    assert.match(script, /temporal-sql-tool --db "\$db" update-schema -d "\$schema_dir"\n/);
    assert.match(script, /setup_database "\$\{TEMPORAL_DB:-temporal\}"/);
    assert.match(script, /setup_database "\$\{TEMPORAL_VISIBILITY_DB:-temporal_visibility\}"/);

    const server = env('temporal');
    assert.equal(dependsOn('temporal')['temporal-schema'], 'service_completed_successfully');
    assert.equal(server.DB, 'postgres12');
    assert.equal(server.POSTGRES_SEEDS, 'postgresql');
    assert.equal(server.DBNAME, 'temporal');
    assert.equal(server.VISIBILITY_DBNAME, 'temporal_visibility');
    assert.ok(service('temporal').healthcheck?.test, 'the Temporal server reports health');
  });

  void test('the dynamic config file the server is pointed at is mounted from deploy/ and parses', () => {
    const file = env('temporal').DYNAMIC_CONFIG_FILE_PATH ?? '';
    const mount = service('temporal').volumes?.map((v) => v.split(':')).find(([, target]) => target && file.startsWith(`${target}/`));
    assert.ok(mount, `a volume provides ${file}`);
    const hostFile = path.join(ROOT, mount[0] ?? '', path.relative(mount[1] ?? '', file));
    assert.ok(hostFile.startsWith(path.join(ROOT, 'deploy') + path.sep));
    const config = parse(readFileSync(hostFile, 'utf8')) as Record<string, unknown>;
    assert.ok(Object.keys(config).length > 0);
  });

  void test('registers exactly the workflows\' custom search attributes, all Keyword, once the server is healthy', () => {
    const init = service('temporal-init');
    assert.equal(dependsOn('temporal-init').temporal, 'service_healthy');
    assert.match(words(init.command) + words(init.entrypoint), /\/dialtone\/init-namespace\.sh/);
    assert.ok(init.volumes?.includes('./deploy/temporal:/dialtone:ro'));
    assert.ok(existsSync(path.join(ROOT, 'deploy/temporal/init-namespace.sh')));

    const registered = (env('temporal-init').DIALTONE_SEARCH_ATTRIBUTES ?? '').split(/\s+/).filter(Boolean).map((pair) => pair.split(':'));
    assert.deepEqual(registered.map(([name]) => name), EXPECTED_SEARCH_ATTRIBUTES);
    assert.deepEqual(registered.map(([, type]) => type), EXPECTED_SEARCH_ATTRIBUTES.map(() => 'Keyword'));

    const defined = ALL_SEARCH_ATTRIBUTES.map((key) => `${key.name}:${key.type}`).sort();
    assert.deepEqual(defined, EXPECTED_SEARCH_ATTRIBUTES.map((name) => `${name}:KEYWORD`).sort(), 'the workflow definitions declare the same keys');
  });

  void test('the Web UI is on host port 8233', () => {
    assert.ok(service('temporal-ui').ports?.some((p) => /(^|:)8233:8080$/.test(String(p))));
    assert.equal(env('temporal-ui').TEMPORAL_ADDRESS, 'temporal:7233');
  });

  void test('worker, API and simulator are built from the Dockerfile and run their entry points', () => {
    const entryPoints: Record<string, string> = { worker: 'worker/main.ts', api: 'api/server.ts', simulator: 'simulator/main.ts' };
    for (const [name, entry] of Object.entries(entryPoints)) {
      const svc = service(name);
      assert.deepEqual(svc.build, { context: '.', dockerfile: 'Dockerfile' }, `${name} is built from the Dockerfile`);
      assert.ok(words(svc.command).includes(`tsx ${entry}`), `${name} runs ${entry}`);
      assert.ok(existsSync(path.join(ROOT, entry)), `${entry} exists`);
    }
    assert.equal(dependsOn('worker')['temporal-init'], 'service_completed_successfully');
    assert.equal(dependsOn('api')['temporal-init'], 'service_completed_successfully');
  });

  void test('the API listens on all interfaces of its container, on 3000, and has a /healthz healthcheck', () => {
    const api = env('api');
    assert.equal(api.API_HOST, '0.0.0.0');
    assert.equal(api.API_PORT, '3000');
    assert.ok(service('api').ports?.some((p) => String(p).endsWith(':3000:3000')));
    const check = words(service('api').healthcheck?.test);
    assert.ok(check.includes('http://127.0.0.1:3000/healthz'), check);
  });

  void test('the API is secure by default: tokens are required, never open', () => {
    const api = env('api');
    assert.match(api.API_AUTH_TOKENS ?? '', /^\$\{API_AUTH_TOKENS:\?[^}]+\}$/);
    assert.equal(api.API_AUTH_DISABLED, 'false');
  });

  void test('holds no literal secrets: every secret comes from the environment with no default', () => {
    for (const name of Object.keys(compose.services)) {
      for (const [key, value] of Object.entries(env(name))) {
        if (!SECRET_NAME.test(key) || /_(FILE|PATH)$/.test(key)) continue;
        assert.match(value, /^\$\{[A-Z0-9_]+(:?\?[^}]*|:-)?\}$/, `${name}.${key} must be \${VAR}, \${VAR:?...} or \${VAR:-}, not a value`);
      }
    }
    assert.ok(!/simulator-only-client-secret/.test(composeText));
    assert.match(env('postgresql').POSTGRES_PASSWORD ?? '', /^\$\{POSTGRES_PASSWORD:\?[^}]+\}$/);
  });

  void test('the simulator runs only under the simulator profile, and the worker trusts its CA through a shared volume', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (name !== 'simulator') assert.equal(svc.profiles, undefined, `${name} runs without a profile`);
    }
    const simulator = service('simulator');
    assert.deepEqual(simulator.profiles, ['simulator']);
    const sim = env('simulator');
    assert.equal(sim.SIMULATOR_HOST, '0.0.0.0');
    assert.ok(simulator.healthcheck?.test, 'the simulator reports health');

    const worker = env('worker');
    assert.equal(worker.DIALTONE_TENANT_MODE, '${DIALTONE_TENANT_MODE:-microsoft}', 'simulator mode is chosen explicitly, with the profile');
    assert.equal(env('api').DIALTONE_TENANT_MODE, worker.DIALTONE_TENANT_MODE, 'the API builds workflow ids for the same tenant');

    const tlsDir = sim.SIMULATOR_TLS_DIR ?? '';
    assert.equal(worker.NODE_EXTRA_CA_CERTS, `${tlsDir}/ca.pem`);
    const simVolume = simulator.volumes?.find((v) => v.split(':')[1] === tlsDir);
    assert.ok(simVolume, 'the simulator keeps its TLS folder on a volume');
    const volumeName = simVolume.split(':')[0] ?? '';
    assert.ok(compose.volumes && volumeName in compose.volumes, `${volumeName} is a named volume`);
    assert.ok(service('worker').volumes?.includes(`${volumeName}:${tlsDir}:ro`), 'the worker mounts it read-only');

    const url = new URL(worker.SIMULATOR_URL ?? '');
    assert.equal(url.protocol, 'https:');
    assert.equal(url.hostname, 'simulator');
    assert.equal(url.port, sim.SIMULATOR_PORT);
    const sanList = /SERVER_DNS_NAMES\s*=\s*\[([^\]]*)\]/.exec(readFileSync(path.join(ROOT, 'simulator/tls.ts'), 'utf8'));
    assert.ok(sanList?.[1]?.includes(`'${url.hostname}'`), `the simulator's certificate names ${url.hostname}`);
  });

  void test('every variable it sets for worker, API and simulator, and every one it reads, is in .env.example', () => {
    const documented = new Set(envExampleNames());
    const used = new Set<string>(interpolatedNames(composeText));
    for (const name of ['worker', 'api', 'simulator']) {
      for (const key of Object.keys(env(name))) used.add(key);
    }
    const missing = [...used].filter((name) => !documented.has(name)).sort();
    assert.deepEqual(missing, [], `.env.example lacks ${missing.join(', ')}`);
  });
});

void describe('.env.example', () => {
  void test('lists each variable once and holds no secret values', () => {
    const names = envExampleNames();
    const duplicates = names.filter((name, i) => names.indexOf(name) !== i);
    assert.deepEqual(duplicates, []);
    for (const line of envExample.split('\n')) {
      const match = /^#?[ \t]*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (match && SECRET_NAME.test(match[1] ?? '')) assert.equal(match[2], '', `${match[1]} has no example value`);
    }
  });

  void test('documents the variables the brief names for each process', () => {
    const documented = new Set(envExampleNames());
    const expected = [
      'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS',
      'TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'TEMPORAL_TLS_SERVER_NAME',
      'DIALTONE_TENANT_MODE', 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_SECRET_FILE',
      'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_CLIENT_CERTIFICATE_PASSWORD', 'DIALTONE_USE_MANAGED_IDENTITY',
      'AZURE_AUTHORITY_HOST', 'GRAPH_BASE_URL', 'TEAMS_ADMIN_BASE_URL', 'SIMULATOR_URL', 'NODE_EXTRA_CA_CERTS',
      'API_HOST', 'API_PORT', 'API_AUTH_TOKENS', 'API_AUTH_TOKENS_FILE', 'API_AUTH_DISABLED', 'LOG_LEVEL',
      'SIMULATOR_HOST', 'SIMULATOR_PORT', 'SIMULATOR_TLS_DIR', 'SIMULATOR_PROFILE', 'SIMULATOR_TIME_SCALE',
      'SIMULATOR_FAULT_RATE', 'SIMULATOR_SEED', 'SIMULATOR_LICENSES', 'WORKER_MAX_CONCURRENT_ACTIVITIES',
    ];
    assert.deepEqual(expected.filter((name) => !documented.has(name)), []);
  });
});

void describe('Dockerfile', () => {
  void test('runs on a pinned Debian slim Node 20 image, installs production dependencies from the lockfile, as non-root', () => {
    const from = [...dockerfile.matchAll(/^ARG NODE_IMAGE=(\S+)$/gm)].map((m) => m[1]);
    assert.equal(from.length, 1);
    assert.match(from[0] ?? '', /^node:20\.\d+\.\d+-bookworm-slim$/);
    assert.match(dockerfile, /^RUN npm ci --omit=dev\b/m);
    assert.match(dockerfile, /^COPY package\.json package-lock\.json \.\/$/m);
    assert.match(dockerfile, /NODE_ENV=production/);
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
    assert.ok(users.length > 0 && users.at(-1) !== 'root' && users.at(-1) !== '0', 'the image ends as a non-root user');
    assert.match(dockerfile, /PATH=\/app\/node_modules\/\.bin:\$PATH/, 'compose commands find tsx');
    assert.match(dockerfile, /^CMD \["tsx", "worker\/main\.ts"\]$/m, 'the default process is the worker');
  });

  void test('copies every source folder, and they exist', () => {
    for (const folder of ['workflows', 'activities', 'worker', 'api', 'simulator', 'lib', 'cli']) {
      assert.match(dockerfile, new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'), `copies ${folder}/`);
      assert.ok(statSync(path.join(ROOT, folder)).isDirectory(), `${folder}/ exists`);
    }
    assert.match(dockerfile, /^COPY package\.json package-lock\.json tsconfig\.json \.\/$/m);
  });

  void test('.dockerignore keeps local state and secrets out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', '.git', '.env', '.data', 'deploy/secrets']) assert.ok(ignored.includes(entry), `ignores ${entry}`);
  });
});

void test('Compose accepts the file (its interpolation and the Compose Specification schema), and refuses it without the required secrets', () => {
  const secrets = { API_AUTH_TOKENS: 'compose-test-token-0123456789abcdef', POSTGRES_PASSWORD: 'compose-test-password' };
  const ok = checkCompose(secrets);
  assert.deepEqual(ok.problems, []);
  assert.equal((ok.config?.services as Record<string, { environment?: Record<string, string> }>).api?.environment?.API_AUTH_TOKENS, secrets.API_AUTH_TOKENS);
  assert.equal((ok.config?.services as Record<string, { environment?: Record<string, string> }>).worker?.environment?.TEMPORAL_NAMESPACE, 'default', 'defaults apply');

  const noTokens = checkCompose({ POSTGRES_PASSWORD: secrets.POSTGRES_PASSWORD });
  assert.deepEqual(noTokens.problems, [
    'services.api.environment.API_AUTH_TOKENS: required variable API_AUTH_TOKENS is missing a value: set API_AUTH_TOKENS (comma-separated bearer tokens the API accepts)',
  ]);
  const noPassword = checkCompose({ API_AUTH_TOKENS: secrets.API_AUTH_TOKENS, POSTGRES_PASSWORD: '' });
  assert.ok(noPassword.problems.length > 0 && noPassword.problems.every((p) => /required variable POSTGRES_PASSWORD is missing a value/.test(p)), noPassword.problems.join('\n'));

  // The schema is really applied: a key Compose does not know, and a port of the wrong shape, are refused.
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'dialtone-compose-'));
  try {
    const broken = path.join(scratch, 'docker-compose.yml');
    writeFileSync(broken, composeText.replace('  api:\n', '  api:\n    restart_policy: always\n').replace('"${API_BIND_ADDRESS:-127.0.0.1}:3000:3000"', '{ port: 3000 }'));
    const refused = checkCompose(secrets, broken);
    assert.ok(refused.problems.some((p) => p.startsWith('/services/api must NOT have additional properties: restart_policy')), refused.problems.join('\n'));
    assert.ok(refused.problems.some((p) => p.startsWith('/services/api/ports/0')), refused.problems.join('\n'));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

void test('Compose interpolation: defaults, required values, alternatives, nesting and $$', () => {
  const problems: string[] = [];
  const env = { SET: 'x', EMPTY: '' };
  assert.equal(interpolate('${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-${SET}} $SET $$SET ${SET:+alt} ${EMPTY:+alt} ${EMPTY+alt}', env, problems, 'f'),
    'x d  d x x $SET alt  alt');
  assert.deepEqual(problems, []);
  interpolate('${UNSET:?say why} ${EMPTY:?} ${EMPTY?fine} ${1BAD}', env, problems, 'f');
  assert.deepEqual(problems, [
    'f: required variable UNSET is missing a value: say why',
    'f: required variable EMPTY is missing a value: set EMPTY',
    'f: "${1BAD}" is not a valid interpolation (invalid variable name or operator)',
  ]);
});
