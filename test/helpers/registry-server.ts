// Test helpers for the registry: start a real tsregistry on port 0 with a temp dir (in-process,
// or as a child process that tests may kill -9), OCI error assertions, and small clients that
// push blobs and images over HTTP or write an OCI layout for skopeo.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { defaultConfig, defaultTokenAuth, type RegistryConfig } from '../../registry/config.js';
import { startServer, type RunningRegistry } from '../../registry/server.js';
import { UsersFile } from '../../registry/auth/users.js';
import type { ErrorCode } from '../../registry/errors.js';
import { buildTar } from './hostile-tar.js';
import { waitFor } from './wait.js';

export interface TestUser {
  password: string;
  /** Grant patterns (default: everything). */
  access?: string[];
}

export interface StartRegistryOptions {
  /** Token auth with these users. */
  auth?: { users: Record<string, TestUser>; anonymousPull?: boolean; expiration?: number };
  /** Data directory (default: a new temp dir, removed by close()). */
  root?: string;
  /** Adjust the config before start. */
  configure?: (config: RegistryConfig) => void;
}

export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` (for image references) */
  host: string;
  port: number;
  root: string;
  running: RunningRegistry;
  close(): Promise<void>;
}

/** Builds the config a test registry runs with. */
export function testConfig(root: string, opts: StartRegistryOptions = {}): RegistryConfig {
  const config = defaultConfig();
  config.storage.filesystem.rootdirectory = root;
  config.http.addr = '127.0.0.1:0';
  config.http.draintimeout = 2;
  config.log.level = process.env.TSREGISTRY_TEST_LOG ?? 'silent';
  // Any in-process test registry on PostgreSQL metadata (registry-postgres-server.test.ts).
  const dsn = process.env.TSREGISTRY_TEST_POSTGRES_DSN;
  if (dsn)
    config.metadata = { postgres: { dsn, poolsize: 4, connecttimeout: 5, querytimeout: 30 } };
  if (opts.auth) {
    config.auth = {
      token: {
        ...defaultTokenAuth(),
        anonymouspull: opts.auth.anonymousPull ?? false,
        expiration: opts.auth.expiration ?? 300,
      },
    };
    const users = new UsersFile(join(root, 'auth', 'users.json'));
    for (const [name, u] of Object.entries(opts.auth.users)) users.add(name, u.password, u.access);
  }
  opts.configure?.(config);
  return config;
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const ownRoot = opts.root === undefined;
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'tsreg-'));
  const config = testConfig(root, opts);
  const running = await startServer(config, { logger: pino({ level: config.log.level }) });
  return {
    url: running.url,
    host: `127.0.0.1:${running.port}`,
    port: running.port,
    root,
    running,
    close: async () => {
      await running.close();
      if (ownRoot) rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface RegistryProcess {
  url: string;
  host: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
}

/** The compiled bin/tsregistry.js next to this compiled helper. */
export function tsregistryBin(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tsregistry.js');
}

/** Runs `tsregistry --config` as a child process on a free port (for kill -9 tests). */
export async function spawnRegistry(
  root: string,
  extraYaml = '',
  args: string[] = [],
): Promise<RegistryProcess> {
  const port = await freePort();
  const configFile = join(root, 'config.yml');
  mkdirSync(root, { recursive: true });
  writeFileSync(
    configFile,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  addr: 127.0.0.1:${port}\n${extraYaml}`,
  );
  const child = spawn(process.execPath, [tsregistryBin(), '--config', configFile, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    // A generous deadline (workers and PostgreSQL start slowly on a loaded machine).
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
        return await fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      'tsregistry to answer /healthz',
      60_000,
    );
  } catch (err) {
    child.kill('SIGKILL'); // never leave a registry behind a failed start
    await exited;
    throw new Error(`tsregistry did not start (${(err as Error).message}): ${stderr}`);
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    child,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command without blocking the event loop (an in-process registry must keep serving). */
export async function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A command that exits without reading its input (sh -c 'command -v x') makes this write fail
  // with EPIPE, asynchronously: not an error of the command's.
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const status = await new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  clearTimeout(timer);
  return { status, stdout, stderr };
}

/** Asserts an OCI error reply: status (default the code's) and `errors[0].code`. */
export async function expectOciError(
  res: Response,
  code: ErrorCode,
  status?: number,
): Promise<void> {
  const text = await res.text();
  let body: { errors?: Array<{ code: string; message: string }> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    assert.fail(`expected an OCI error ${code}, got ${res.status} ${text.slice(0, 200)}`);
  }
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `no errors array in ${text}`);
  assert.equal(body.errors[0]!.code, code, text);
  assert.equal(typeof body.errors[0]!.message, 'string');
  if (status !== undefined) assert.equal(res.status, status, text);
  else assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}: ${text}`);
}

/** `Authorization: Basic ...` value for a user and password. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Pushes a blob monolithically (POST ?digest=) and returns its digest. */
export async function pushBlob(
  url: string,
  repo: string,
  data: Buffer,
  headers: Record<string, string> = {},
): Promise<string> {
  const digest = sha256(data);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', ...headers },
    body: data,
  });
  assert.equal(res.status, 201, await res.text());
  return digest;
}

export interface TestImage {
  manifest: Buffer;
  digest: string;
  config: Buffer;
  layers: Buffer[];
}

/** An OCI image manifest over layers given as buffers or as sizes of random data (not pushed). */
export function makeImage(
  layerSizes: Array<number | Buffer> = [1024],
  extra: Record<string, unknown> = {},
): TestImage {
  const layers = layerSizes.map((n) => (typeof n === 'number' ? randomBytes(n) : n));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
    }),
  );
  return imageOf(config, layers, 'application/vnd.oci.image.layer.v1.tar', extra);
}

/** The OCI manifest of `config` and `layers` (each layer of `layerMediaType`), with its digest. */
export function imageOf(
  config: Buffer,
  layers: Buffer[],
  layerMediaType: string,
  extra: Record<string, unknown> = {},
): TestImage {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: layers.map((l) => ({ mediaType: layerMediaType, digest: sha256(l), size: l.length })),
      ...extra,
    }),
  );
  return { manifest, digest: sha256(manifest), config, layers };
}

/** Pushes an image's blobs and its manifest under `reference`. */
export async function pushImage(
  url: string,
  repo: string,
  reference: string,
  image: TestImage,
  headers: Record<string, string> = {},
): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(url, repo, blob, headers);
  const res = await fetch(`${url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', ...headers },
    body: image.manifest,
  });
  assert.equal(res.status, 201, await res.text());
}

/** A real (uncompressed) tar layer holding one file, for clients that unpack layers. */
export async function tarLayer(name: string, content: string): Promise<Buffer> {
  return await buildTar([{ name, content, mtime: 0 }]);
}

/** Writes an OCI image layout at `dir` holding `image` under `tag` (for skopeo's `oci:` source). */
export function writeOciLayout(dir: string, tag: string, image: TestImage): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [image.config, ...image.layers, image.manifest])
    writeFileSync(join(dir, 'blobs', 'sha256', sha256(blob).slice(7)), blob);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: image.digest,
          size: image.manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
}

/** Asserts that `repo:tag` serves `img`'s manifest and that each of its blobs is whole. */
export async function expectIntact(url: string, repo: string, tag: string, img: TestImage) {
  const m = await fetch(`${url}/v2/${repo}/manifests/${tag}`);
  assert.equal(m.status, 200, `${repo}:${tag} lost`);
  assert.equal(sha256(Buffer.from(await m.arrayBuffer())), img.digest);
  for (const b of [img.config, ...img.layers]) {
    const res = await fetch(`${url}/v2/${repo}/blobs/${sha256(b)}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(b));
  }
}

/** One HTTP request, retried (as clients do) while the connection fails or the answer is 5xx. */
export async function retrying(url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, init).catch((err: Error) => err);
    if (res instanceof Response && res.status < 500) return res;
    if (res instanceof Response) await res.arrayBuffer();
    if (attempt === 50) throw new Error(`${url}: gave up (${String(res)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function pushRetrying(url: string, repo: string, tag: string, img: TestImage) {
  for (const blob of [img.config, ...img.layers]) {
    const res = await retrying(`${url}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob,
    });
    assert.equal(res.status, 201, await res.text());
  }
  const res = await retrying(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: img.manifest,
  });
  assert.equal(res.status, 201, await res.text());
}

/**
 * Runs one compiled test file in a child `node --test` with extra environment (e.g. REGISTRY_URL
 * or TSREGISTRY_TEST_POSTGRES_DSN); returns its status and TAP output (stdout and stderr).
 */
export async function runTestFile(file: string, env: Record<string, string>) {
  // Without the runner's marker, or the child's node:test would refuse to run files.
  const { NODE_TEST_CONTEXT: _, ...parent } = process.env;
  const child = spawn(process.execPath, ['--test', '--test-reporter=tap', file], {
    env: { ...parent, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { status, stdout };
}
