// Starts Docker's daemon (dockerd from Debian's docker.io) in a private data root for interop tests:
// no iptables, no bridge, a unix socket of its own. Returns undefined with a reason
// when dockerd is not installed or cannot start, so callers can skip with a clear message.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand } from './peers.js';

export interface Dockerd {
  /** The docker CLI this daemon is driven with (docker.io's, whose BuildKit needs no buildx). */
  cli: string;
  /** Environment for the docker CLI (DOCKER_HOST, DOCKER_CONFIG). */
  env: NodeJS.ProcessEnv;
  /** Runs the docker CLI synchronously against this daemon. */
  docker(args: string[], opts?: { input?: string; timeoutMs?: number }): SpawnSyncReturns<string>;
  close(): Promise<void>;
}

export type DockerdResult = { ok: true; dockerd: Dockerd } | { ok: false; reason: string };

function dockerCli(): string | undefined {
  for (const p of ['/usr/bin/docker', '/usr/local/bin/docker']) if (existsSync(p)) return p;
  return undefined;
}

export async function startDockerd(
  opts: {
    insecureRegistries?: string[];
    /** daemon.json `registry-mirrors` (`http://127.0.0.1:PORT`). */
    registryMirrors?: string[];
    /** Send every non-loopback request to a dead loopback proxy (no fallback to the internet). */
    offline?: boolean;
  } = {},
): Promise<DockerdResult> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'dockerd needs root' };
  const cli = dockerCli();
  if (!hasCommand('dockerd') || !cli)
    return { ok: false, reason: 'dockerd/docker not installed (apt-get install docker.io)' };
  // Short base path: the unix socket path must stay under 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'dkd-'));
  const sock = join(dir, 'sock');
  const configDir = join(dir, 'config');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'config.json'), '{}');
  const daemonJson = join(dir, 'daemon.json');
  writeFileSync(
    daemonJson,
    JSON.stringify({
      'insecure-registries': opts.insecureRegistries ?? [],
      ...(opts.registryMirrors ? { 'registry-mirrors': opts.registryMirrors } : {}),
    }),
  );
  const log = join(dir, 'dockerd.log');
  const logFd = openSync(log, 'w');
  const child = spawn(
    'dockerd',
    [
      '--config-file',
      daemonJson,
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '--host',
      `unix://${sock}`,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--ip-masq=false',
      '--storage-driver',
      'overlay2',
    ],
    {
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        ...(opts.offline
          ? {
              HTTP_PROXY: 'http://127.0.0.1:9',
              HTTPS_PROXY: 'http://127.0.0.1:9',
              NO_PROXY: '127.0.0.1,localhost',
            }
          : {}),
      },
    },
  );
  closeSync(logFd);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: `unix://${sock}`,
    DOCKER_CONFIG: configDir,
  };
  const docker = (args: string[], o: { input?: string; timeoutMs?: number } = {}) =>
    spawnSync(cli, args, {
      env,
      encoding: 'utf8',
      input: o.input,
      timeout: o.timeoutMs ?? 120_000,
    });

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  let ready = false;
  while (Date.now() < deadline && child.exitCode === null) {
    if (
      existsSync(sock) &&
      docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 }).status === 0
    ) {
      ready = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    // Unmount anything dockerd left under its private roots, then remove them.
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(dir))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  };
  if (!ready) {
    const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
    await close();
    return { ok: false, reason: `dockerd did not start within 30 s: ${tail}` };
  }
  return { ok: true, dockerd: { cli, env, docker, close } };
}
