// Starts the reference registry (CNCF distribution 2.8, Debian's `docker-registry`) on a free
// 127.0.0.1 port with a temp storage dir, without auth, with htpasswd, or with token auth backed
// by test/helpers/token-issuer.ts. close() kills it by PID and removes everything it made.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand } from './peers.js';
import { startTokenIssuer, type TokenIssuer } from './token-issuer.js';

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; users: Record<string, string> }
  | { kind: 'token'; users: Record<string, string>; anonymousPull?: boolean };

export interface ReferenceRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, as used in image references. */
  host: string;
  /** The storage root directory. */
  root: string;
  /** The token service, for token auth. */
  tokenIssuer?: TokenIssuer;
  close(): Promise<void>;
}

export function referenceRegistryAvailable(): boolean {
  return hasCommand('docker-registry');
}

export async function startReferenceRegistry(
  opts: {
    auth?: RegistryAuth;
    /** More top-level config (e.g. `proxy:\n  remoteurl: http://...`). */
    extraYaml?: string;
    /** YAML of the `storage` driver block (indented 2), instead of filesystem under the temp dir. */
    storageYaml?: string;
  } = {},
): Promise<ReferenceRegistry> {
  const auth = opts.auth ?? { kind: 'none' };
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-refreg-'));
  let tokenIssuer: TokenIssuer | undefined;
  let authYaml = '';
  if (auth.kind === 'htpasswd') {
    const lines = Object.entries(auth.users).map(([u, p]) => {
      const r = spawnSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
      return r.stdout.trim();
    });
    writeFileSync(join(dir, 'htpasswd'), lines.join('\n') + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth.kind === 'token') {
    tokenIssuer = await startTokenIssuer({ users: auth.users, anonymousPull: auth.anonymousPull });
    authYaml =
      `auth:\n  token:\n    realm: ${tokenIssuer.realm}\n    service: ${tokenIssuer.service}\n` +
      `    issuer: ${tokenIssuer.issuer}\n    rootcertbundle: ${tokenIssuer.certFile}\n`;
  }
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
${opts.storageYaml ?? `  filesystem:\n    rootdirectory: ${join(dir, 'data')}`}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: tsdock-test-secret
${authYaml}${opts.extraYaml ?? ''}`,
  );
  // An AWS_CA_BUNDLE in the environment makes its S3 driver panic at start (distribution 2.8).
  const { AWS_CA_BUNDLE: _caBundle, ...env } = process.env;
  const child = spawn('docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString('utf8');
    if (log.length > 64 * 1024) log = log.slice(-32 * 1024);
  });
  const host = `127.0.0.1:${port}`;
  const cleanup = async (): Promise<void> => {
    await stop(child);
    await tokenIssuer?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => log);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { url: `http://${host}`, host, root: join(dir, 'data'), tokenIssuer, close: cleanup };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log().slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start on port ${port}: ${log().slice(-2000)}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
}

/** Reads a file under the registry's storage (for assertions on what it stored). */
export function readRegistryFile(reg: ReferenceRegistry, path: string): Buffer {
  return readFileSync(join(reg.root, path));
}
