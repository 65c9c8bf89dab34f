// RUN: the command executes through the runner's executor (runner/executor.ts: new
// mount/pid/uts/ipc namespaces, cgroup limits) on an overlay of the parent's unpacked layers
// plus a fresh upper directory. Network as
// docker build: default = its own network namespace on the runner's bridge (outbound NAT, no
// inbound), none = lo only, host = the host's. /etc/resolv.conf and /etc/hosts are files of the
// run, bind-mounted read-only (BuildKit's): the host's resolvers (loopback ones replaced, the
// host's file as is with host), localhost + --add-host entries (the host's hosts with host). The overlay is mounted by the sandbox helper inside its private mount
// namespace, so nothing is left mounted on the host whatever happens. The new layer is the upper
// directory turned into an OCI tar (whiteouts, opaque dirs, false copy-ups dropped), leaving out
// mount points the sandbox had to create (/proc, /sys, /dev, mount targets).
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  containerResolvConf,
  hostsFile,
  type ExtraHost,
  type Mount,
} from '../../runner/executor.js';
import { namespaceExecutor } from '../../runner/namespace-executor.js';
import { onInterrupt, sleepSync, trackTemp } from './interrupt.js';

export interface RunRequest {
  /** Unpacked parent layers, bottom first. */
  layerDirs: string[];
  argv: string[];
  env: string[];
  cwd: string;
  user?: string;
  network: RunNetwork;
  /** --add-host entries for /etc/hosts */
  extraHosts?: ExtraHost[];
  mounts: Mount[];
  limits?: { memory?: number; pids?: number };
  /** Where temp dirs go (same filesystem as the layer cache is best). */
  tmpRoot: string;
  stdout: Writable;
  stderr: Writable;
}

export type RunNetwork = 'default' | 'none' | 'host';

export interface RunOutcome {
  exitCode: number;
  /** The overlay upper directory (valid until cleanup()). */
  upper: string;
  /** Paths (relative, no leading slash) the sandbox created as mount points: not part of the layer. */
  mountPoints: Set<string>;
  cleanup(): Promise<void>;
}

const SANDBOX_POINTS = ['proc', 'sys', 'dev'];

export async function runStep(req: RunRequest): Promise<RunOutcome> {
  const dir = trackTemp(await mkdtemp(join(req.tmpRoot, 'run-')));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  let off = () => {};
  try {
    const mounts = [...(await etcMounts(dir, req.network, req.extraHosts ?? [])), ...req.mounts];
    const mountPoints = await madeMountPoints(req.layerDirs, mounts);
    const running = await namespaceExecutor.run(
      { argv: req.argv, env: req.env, cwd: req.cwd, user: req.user, hostname: 'tsbuild' },
      { layers: req.layerDirs, dir },
      mounts,
      {
        cgroup: {
          id: `tsbuild-${dir.slice(-6)}-${process.pid}`,
          limits: { memory: req.limits?.memory, pids: req.limits?.pids ?? 4096 },
        },
        network: { mode: req.network === 'default' ? 'bridge' : req.network },
        stdio: ['ignore', 'pipe', 'pipe'],
        spawned: (r) => {
          off = onInterrupt(() => {
            r.child.kill('SIGKILL');
            sleepSync(200);
            r.release();
          });
        },
      },
    );
    running.child.stdout!.pipe(req.stdout, { end: false });
    running.child.stderr!.pipe(req.stderr, { end: false });
    const { exitCode } = await running.wait();
    return { exitCode, upper: join(dir, 'upper'), mountPoints, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  } finally {
    off();
  }
}

/** Mount points (and their parents) the sandbox will have to create: not part of the layer. */
async function madeMountPoints(layerDirs: string[], mounts: Mount[]): Promise<Set<string>> {
  const candidates = [...SANDBOX_POINTS, ...mounts.map((m) => m.target.replace(/^\/+/, ''))];
  const mountPoints = new Set<string>();
  for (const p of candidates) {
    if (!(await existsInLowers(layerDirs, p))) {
      mountPoints.add(p);
      for (let q = p; q.includes('/');) {
        q = q.slice(0, q.lastIndexOf('/'));
        if (!(await existsInLowers(layerDirs, q))) mountPoints.add(q);
      }
    }
  }
  return mountPoints;
}

/** The run's /etc/resolv.conf and /etc/hosts, written in its temp dir; read-only binds. */
async function etcMounts(dir: string, network: RunNetwork, extra: ExtraHost[]): Promise<Mount[]> {
  const resolv = join(dir, 'resolv.conf');
  const hosts = join(dir, 'hosts');
  await writeFile(resolv, containerResolvConf(network === 'host' ? 'host' : 'bridge'));
  const base =
    network === 'host'
      ? await readFile('/etc/hosts', 'utf8').catch(() => hostsFile(undefined, []))
      : hostsFile({ name: 'tsbuild', ip: '127.0.0.1' }, []);
  const lines = extra.map((h) => `${h.ip}\t${h.name}\n`).join('');
  await writeFile(hosts, `${base}${base === '' || base.endsWith('\n') ? '' : '\n'}${lines}`);
  return [
    { type: 'bind', source: resolv, target: '/etc/resolv.conf', readOnly: true },
    { type: 'bind', source: hosts, target: '/etc/hosts', readOnly: true },
  ];
}

async function existsInLowers(layerDirs: string[], rel: string): Promise<boolean> {
  for (const d of layerDirs) {
    if (
      await stat(join(d, rel)).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

/** A layer-writer filter dropping sandbox-made mount points that stayed empty. */
export async function mountPointFilter(
  upper: string,
  points: Set<string>,
): Promise<(rel: string) => boolean> {
  const drop = new Set<string>();
  for (const p of points) {
    const st = await stat(join(upper, p)).catch(() => undefined);
    if (!st) continue;
    if (
      st.isDirectory()
        ? (await readdir(join(upper, p))).every((c) => points.has(`${p}/${c}`))
        : st.size === 0
    )
      drop.add(p);
  }
  return (rel: string) => !drop.has(rel.replace(/^\/+|\/+$/g, ''));
}
