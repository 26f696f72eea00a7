import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generate } from 'selfsigned';
import { ensureSimulatorTls } from '../../simulator/tls';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'simulator-tls-'));
});
after(() => rm(root, { recursive: true, force: true }));

async function certificates(dir: string) {
  return {
    ca: new X509Certificate(await readFile(join(dir, 'ca.pem'))),
    leaf: new X509Certificate(await readFile(join(dir, 'cert.pem'))),
  };
}

test('creates a CA and a server certificate it signed, for every name the simulator is reached by, with private keys 0600', async () => {
  const dir = join(root, 'fresh');
  const files = await ensureSimulatorTls(dir);
  assert.deepEqual(files, { caPath: join(dir, 'ca.pem'), certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') });
  const { ca, leaf } = await certificates(dir);
  assert.equal(ca.ca, true);
  assert.equal(leaf.ca, false);
  assert.ok(leaf.verify(ca.publicKey), 'the leaf is signed by the CA');
  for (const name of ['DNS:localhost', 'DNS:simulator', 'DNS:host.docker.internal', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']) {
    assert.ok(leaf.subjectAltName?.includes(name), name);
  }
  for (const key of ['key.pem', 'ca-key.pem']) assert.equal((await stat(join(dir, key))).mode & 0o777, 0o600, key);
});

test('reuses valid certificates', async () => {
  const dir = join(root, 'reuse');
  await ensureSimulatorTls(dir);
  const first = await readFile(join(dir, 'cert.pem'), 'utf8');
  await ensureSimulatorTls(dir);
  assert.equal(await readFile(join(dir, 'cert.pem'), 'utf8'), first);
});

test('renews a server certificate that expires within 30 days and keeps the CA that clients already trust', async () => {
  const dir = join(root, 'renew');
  await ensureSimulatorTls(dir);
  const caBefore = await readFile(join(dir, 'ca.pem'), 'utf8');
  const expiring = await generate([{ name: 'commonName', value: 'localhost' }], {
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 10 * 24 * 60 * 60 * 1000),
    ca: { cert: caBefore, key: await readFile(join(dir, 'ca-key.pem'), 'utf8') },
  });
  await writeFile(join(dir, 'cert.pem'), expiring.cert);
  await writeFile(join(dir, 'key.pem'), expiring.private);

  await ensureSimulatorTls(dir);
  const { ca, leaf } = await certificates(dir);
  assert.equal(await readFile(join(dir, 'ca.pem'), 'utf8'), caBefore);
  assert.ok(Date.parse(leaf.validTo) > Date.now() + 300 * 24 * 60 * 60 * 1000);
  assert.ok(leaf.verify(ca.publicKey));
});

test('replaces a damaged CA together with its server certificate, and concurrent callers agree on one result', async () => {
  const dir = join(root, 'damaged');
  await ensureSimulatorTls(dir);
  await writeFile(join(dir, 'ca.pem'), 'not a certificate');
  await Promise.all([ensureSimulatorTls(dir), ensureSimulatorTls(dir), ensureSimulatorTls(dir)]);
  const { ca, leaf } = await certificates(dir);
  assert.ok(leaf.verify(ca.publicKey));
});
