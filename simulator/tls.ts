/**
 * TLS material for the tenant simulator. MSAL refuses non-https authorities and the Graph client only
 * attaches tokens to https URLs, so the simulator serves HTTPS with a leaf certificate signed by a local
 * CA. Processes trust that CA through `NODE_EXTRA_CA_CERTS=<dir>/ca.pem`, which Node reads only at start:
 * the CA is therefore kept as long as it is valid, and only the leaf is renewed when it nears expiry.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface SimulatorTlsFiles {
  /** PEM of the local CA to trust (`NODE_EXTRA_CA_CERTS`). */
  caPath: string;
  /** PEM of the server certificate the simulator presents. */
  certPath: string;
  /** PEM private key of the server certificate (mode 0600). */
  keyPath: string;
}

/** Names a client may use to reach the simulator: on the host, in Docker Compose, and from a container. */
const SERVER_DNS_NAMES = ['localhost', 'simulator', 'host.docker.internal'];
const SERVER_IPS = ['127.0.0.1', '::1'];
/** How Node's X509Certificate spells those addresses in `subjectAltName`. */
const SERVER_IP_SAN_TEXT = ['IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1'];

const DAY_MS = 24 * 60 * 60 * 1000;
const RENEW_BEFORE_MS = 30 * DAY_MS;
const CA_LIFETIME_MS = 10 * 365 * DAY_MS;
const LEAF_LIFETIME_MS = 365 * DAY_MS;
const LOCK_STALE_MS = 60_000;
const LOCK_WAIT_MS = 30_000;

/**
 * Creates the simulator's CA (`ca.pem`, `ca-key.pem`) and server certificate (`cert.pem`, `key.pem`) in
 * `dir`, or reuses them when present, consistent and not expiring within 30 days. Safe to call from
 * several processes at once (a lock directory serialises generation).
 */
export async function ensureSimulatorTls(dir: string): Promise<SimulatorTlsFiles> {
  const files = {
    caPath: join(dir, 'ca.pem'),
    caKeyPath: join(dir, 'ca-key.pem'),
    certPath: join(dir, 'cert.pem'),
    keyPath: join(dir, 'key.pem'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const result = { caPath: files.caPath, certPath: files.certPath, keyPath: files.keyPath };
  if ((await inspect(files)) === 'valid') return result;

  await withLock(join(dir, '.lock'), async () => {
    // Another process may have finished the job while we waited for the lock.
    const status = await inspect(files);
    if (status === 'valid') return;
    let ca: { cert: string; key: string };
    if (status === 'leaf-needs-renewal') {
      ca = { cert: await readFile(files.caPath, 'utf8'), key: await readFile(files.caKeyPath, 'utf8') };
    } else {
      ca = await generateCa();
      await writeAtomically(files.caKeyPath, ca.key, 0o600);
      await writeAtomically(files.caPath, ca.cert, 0o644);
    }
    const leaf = await generateLeaf(ca);
    await writeAtomically(files.keyPath, leaf.key, 0o600);
    await writeAtomically(files.certPath, leaf.cert, 0o644);
  });
  return result;
}

type TlsStatus = 'valid' | 'leaf-needs-renewal' | 'needs-new-ca';

async function inspect(files: { caPath: string; caKeyPath: string; certPath: string; keyPath: string }): Promise<TlsStatus> {
  const renewBy = Date.now() + RENEW_BEFORE_MS;
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(await readFile(files.caPath));
    const caKey = createPrivateKey(await readFile(files.caKeyPath));
    if (!ca.ca || !ca.checkPrivateKey(caKey) || Date.parse(ca.validTo) < renewBy) return 'needs-new-ca';
  } catch {
    return 'needs-new-ca';
  }
  try {
    const leaf = new X509Certificate(await readFile(files.certPath));
    const key = createPrivateKey(await readFile(files.keyPath));
    const names = leaf.subjectAltName ?? '';
    const coversAllNames =
      SERVER_DNS_NAMES.every((name) => names.includes(`DNS:${name}`)) &&
      SERVER_IP_SAN_TEXT.every((text) => names.includes(text));
    const consistent = leaf.checkIssued(ca) && leaf.verify(ca.publicKey) && leaf.checkPrivateKey(key);
    if (!consistent || !coversAllNames || Date.parse(leaf.validTo) < renewBy) return 'leaf-needs-renewal';
  } catch {
    return 'leaf-needs-renewal';
  }
  return 'valid';
}

async function generateCa(): Promise<{ cert: string; key: string }> {
  const notBeforeDate = new Date(Date.now() - DAY_MS);
  const pems = await generate([
    { name: 'commonName', value: 'Dialtone tenant simulator local CA' },
    { name: 'organizationName', value: 'Dialtone (local development only)' },
  ], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + CA_LIFETIME_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function generateLeaf(ca: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const notBeforeDate = new Date(Date.now() - DAY_MS);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + LEAF_LIFETIME_MS),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...SERVER_DNS_NAMES.map((value) => ({ type: 2 as const, value })),
          ...SERVER_IPS.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** Readers never see a half-written PEM: write beside the target, then rename over it. */
async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, path);
}

async function withLock(lockPath: string, action: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await mkdir(lockPath);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lockPath).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > LOCK_STALE_MS) {
        await rm(lockPath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${lockPath}; if no other process is generating simulator certificates, delete it`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    await action();
  } finally {
    await rm(lockPath, { recursive: true, force: true });
  }
}
