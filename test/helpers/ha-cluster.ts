// tsregistry replicas behind HAProxy (Debian's `haproxy`), as a team runs them: each replica a
// `tsregistry --workers N` child process with its own local directory, all sharing the metadata
// (one PostgreSQL database) and the blobs (an S3 bucket, or one filesystem directory), in front
// one HAProxy on 127.0.0.1 balancing round-robin with a test-written haproxy.cfg. Everything is
// stopped by PID (HAProxy runs in the foreground, `-db`).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tsregistryBin, type RegistryProcess } from './registry-server.js';

export interface Replica extends RegistryProcess {
  name: string;
  /** The replica's own directory (config.yml, local data). */
  root: string;
}

export interface ReplicaOptions {
  /** The replica's own directory. */
  root: string;
  dsn: string;
  /** Worker processes (`--workers`). */
  workers: number;
  /** YAML lines inside `storage:` besides `filesystem` (e.g. an `s3:` block), indented by 2. */
  storageYaml?: string;
  /** Where blobs live when there is no `s3` (default: under root). */
  blobRoot?: string;
  /** Top-level YAML added as is (e.g. an `auth:` block). */
  extraYaml?: string;
  /** Port (default: a free one). */
  port?: number;
}

/** Starts one replica and waits for its /healthz. */
export async function startReplica(name: string, opts: ReplicaOptions): Promise<Replica> {
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.root, { recursive: true });
  const configFile = join(opts.root, 'config.yml');
  writeFileSync(
    configFile,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${opts.blobRoot ?? opts.root}`,
      opts.storageYaml ?? '',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  draintimeout: 2',
      'metadata:',
      '  postgres:',
      `    dsn: ${opts.dsn}`,
      '    poolsize: 4',
      opts.extraYaml ?? '',
    ]
      .filter((l) => l !== '')
      .join('\n') + '\n',
  );
  const child = spawn(
    process.execPath,
    [tsregistryBin(), '--config', configFile, '--workers', String(opts.workers)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/healthz`, () =>
    child.exitCode !== null ? `replica ${name} exited: ${stderr}` : undefined,
  );
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  return {
    name,
    url,
    host: `127.0.0.1:${port}`,
    port,
    root: opts.root,
    child,
    kill9: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}

export interface Balancer {
  url: string;
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * HAProxy on 127.0.0.1 in front of `backends`: round-robin per request, health checks on
 * /healthz every second (a dead replica is out after 3 failures), and a request whose
 * connection to a replica is refused is sent to another (`retry-on conn-failure`, redispatch).
 */
export async function startHaproxy(
  dir: string,
  backends: Array<{ port: number }>,
  /** The health check's path (the reference registry answers /v2/, not /healthz). */
  checkPath = '/healthz',
): Promise<Balancer> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 2000',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 300s',
      '  timeout server 300s',
      '  timeout http-request 60s',
      '  retries 3',
      '  option redispatch 1',
      '  retry-on conn-failure empty-response',
      'frontend registry',
      `  bind 127.0.0.1:${port}`,
      '  default_backend replicas',
      'backend replicas',
      '  balance roundrobin',
      `  option httpchk GET ${checkPath}`,
      '  http-check expect status 200',
      // Lenient: on a loaded host /healthz can take seconds; a dead replica is found at once
      // anyway (its connections are refused, and such requests go to another replica).
      '  timeout check 5s',
      '  default-server inter 1s fall 3 rise 2',
      ...backends.map((b, i) => `  server r${i} 127.0.0.1:${b.port} check`),
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}${checkPath}`, () =>
    child.exitCode !== null ? `haproxy exited: ${stderr}` : undefined,
  );
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

/** Polls `url` until it answers 200; `failed` returns a reason to give up (a process exited). */
async function waitFor(url: string, failed: () => string | undefined): Promise<void> {
  for (const deadline = Date.now() + 60_000; ;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    const reason = failed();
    if (reason) throw new Error(reason);
    if (Date.now() > deadline) throw new Error(`${url} did not answer within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
