// The Executor of namespaces, an overlay and cgroups: makes the overlay layout (rootfs.ts), the
// cgroup with its limits (cgroups.ts), the bridge endpoint when asked (network.ts: an address,
// then a veth moved into the new network namespace while the helper waits on its sync pipe),
// and spawns the native helper (sandbox.ts builds its argv) that does every Linux call in one
// exec (rootless: in the user's namespace, with pasta instead of the bridge). After the exit:
// OOM noted, cgroup removed, a transient address freed. exec() starts a process in a running
// one's namespaces and cgroup (`sandbox exec`).
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Cgroup } from './cgroups.js';
import { cgroupDriver } from './cgroup-driver.js';
import type { Executor, NetworkSpec, Running, RunOptions } from './executor.js';
import { prepareOverlay } from './rootfs.js';
import { sandboxArgs, sandboxExecArgs, waitForPidFile, type SandboxRequest } from './sandbox.js';
import { nativeBinary } from '../shared/native.js';
import { isRootless } from '../shared/rootless-env.js';

type Network = typeof import('./network.js');

/** An address on the bridge for one run, and how to plug the veth in. */
interface BridgeEndpoint {
  ip: string;
  request: Pick<SandboxRequest, 'ip' | 'syncFd'>;
  attach(child: ChildProcess, pidFile: string): Promise<void>;
  /** frees a transient reservation (not a caller's) */
  release(): void;
}

/**
 * The caller's reservation, or a transient one (owner `build-<pid>-<random>`, stale once this
 * process is gone; network.ts knows the form).
 */
function bridgeEndpoint(net: Network, spec: Extract<NetworkSpec, { mode: 'bridge' }>) {
  const subnet = net.parseSubnet();
  net.ensureBridge(subnet);
  const token = randomBytes(6).toString('hex');
  const owner = spec.reservation?.owner ?? `build-${process.pid}-${token}`;
  const ip = spec.reservation?.ip ?? net.allocateAddress(owner, subnet);
  const veth = spec.reservation ? net.vethName(owner) : `tsb${token.slice(0, 11)}`;
  const endpoint: BridgeEndpoint = {
    ip,
    request: { ip: { address: ip, prefix: subnet.prefix, gateway: net.gatewayOf(subnet) } },
    attach: async (child, pidFile) => {
      const pid = await waitForPidFile(pidFile, child);
      net.attachVeth(owner, pid, veth);
      const sync = child.stdio[3] as Writable;
      sync.write('g');
      sync.end();
    },
    release: () => {
      if (!spec.reservation) net.releaseAddress(ip, owner);
    },
  };
  return endpoint;
}

/** rootless hook (the `bridge` needs root): user-mode networking by pasta (rootless/pasta.ts),
 * which also publishes the ports; stopped by release(). */
async function pastaEndpoint(
  spec: Extract<NetworkSpec, { mode: 'bridge' }>,
  runDir: string,
): Promise<BridgeEndpoint> {
  const { attachPasta } = await import('./rootless/pasta.js');
  let pasta: { close(): void } | undefined;
  return {
    ip: '',
    request: {},
    attach: async (child, pidFile) => {
      const pid = await waitForPidFile(pidFile, child);
      pasta = await attachPasta(pid, spec.ports ?? [], runDir);
      const sync = child.stdio[3] as Writable;
      sync.write('g');
      sync.end();
    },
    release: () => pasta?.close(),
  };
}

/** rootless hook: the user namespace the helper joins first, when not already root in it. */
async function helperUserns(): Promise<string | undefined> {
  if (!isRootless()) return undefined;
  return (await import('./rootless/userns.js')).helperUserns();
}

/** The helper's --net (and --uts) for a network spec. */
function helperNetwork(spec: NetworkSpec): Pick<SandboxRequest, 'network' | 'uts'> {
  if (spec.mode === 'host') return { network: 'host' };
  if (spec.mode === 'join') return { network: spec.netns, uts: spec.uts };
  return { network: 'new' };
}

/** The cgroup, made with its limits; a half-made one is removed before the error goes up. */
function createCgroup(opts: RunOptions): { cgroup: Cgroup; v2: boolean } {
  const driver = cgroupDriver();
  try {
    return { cgroup: driver.create(opts.cgroup.id, opts.cgroup.limits), v2: driver.version === 2 };
  } catch (err) {
    driver.open(opts.cgroup.id).remove();
    throw err;
  }
}

/** The first line the helper writes on --status-fd: `CODE [message]`. */
function readStatus(pipe: Readable): Promise<{ code: number; message: string }> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      const line = text.split('\n')[0] ?? '';
      const sp = line.indexOf(' ');
      const head = sp < 0 ? line : line.slice(0, sp);
      const code = /^\d+$/.test(head) ? Number(head) : 125; // no line at all: the helper died
      resolve({ code, message: sp < 0 ? '' : line.slice(sp + 1) });
    };
    pipe.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n')) done();
    });
    pipe.on('end', done);
    pipe.on('error', done);
  });
}

/** The helper's exit code (128+n when a signal n ended it); rejects when it could not start. */
function helperExit(child: ChildProcess): Promise<number> {
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 0)),
    );
  });
  exited.catch(() => undefined); // awaited by wait(); a spawn error also fails the attach
  return exited;
}

export const namespaceExecutor: Executor = {
  async run(proc, rootfs, mounts, opts): Promise<Running> {
    const runDir = rootfs.runDir ?? rootfs.dir;
    const overlay = prepareOverlay(rootfs.dir, rootfs.layers, runDir);
    const pidFile = join(runDir, 'ctr.pid');
    const userns = await helperUserns();
    let endpoint: BridgeEndpoint | undefined;
    if (opts.network.mode === 'bridge')
      endpoint = isRootless()
        ? await pastaEndpoint(opts.network, runDir)
        : bridgeEndpoint(await import('./network.js'), opts.network);
    let cgroup: Cgroup | undefined;
    let child: ChildProcess | undefined;
    const release = () => {
      cgroup?.remove();
      endpoint?.release();
    };
    try {
      const made = createCgroup(opts);
      cgroup = made.cgroup;
      const args = sandboxArgs({
        userns,
        rootfs: overlay.rootfs,
        overlay,
        argv: proc.argv,
        env: proc.env,
        cwd: proc.cwd,
        user: proc.user,
        hostname: proc.hostname,
        ...helperNetwork(opts.network),
        mounts,
        cgroups: cgroup.dirs,
        init: proc.init,
        tty: proc.tty,
        readOnly: rootfs.readOnly,
        pidFile,
        noMknod: made.v2,
        ...(endpoint ? { ...endpoint.request, syncFd: 3 } : {}),
      });
      const statusFd = opts.execStatus ? (endpoint ? 4 : 3) : undefined;
      if (statusFd) args.splice(args.indexOf('--'), 0, '--status-fd', String(statusFd));
      const extra: IOType[] = [
        ...(endpoint ? ['pipe' as const] : []),
        ...(statusFd ? ['pipe' as const] : []),
      ];
      child = spawn(nativeBinary('sandbox'), args, { stdio: [...opts.stdio, ...extra] });
      const exited = helperExit(child);
      const status = statusFd ? readStatus(child.stdio[statusFd] as Readable) : undefined;
      const held = cgroup;
      const running: Running = {
        child,
        ip: endpoint?.ip,
        execStatus: () => status ?? Promise.resolve({ code: 0, message: '' }),
        wait: async () => {
          try {
            const exitCode = await exited;
            return { exitCode, oomKilled: exitCode === 137 && held.oomKilled() };
          } finally {
            release();
          }
        },
        release,
      };
      opts.spawned?.(running);
      await endpoint?.attach(child, pidFile);
      return running;
    } catch (err) {
      child?.kill('SIGKILL');
      release();
      throw err;
    }
  },

  async exec(target, proc, opts): Promise<Running> {
    const driver = cgroupDriver();
    const args = sandboxExecArgs({
      target: target.pid,
      argv: proc.argv,
      env: proc.env,
      cwd: proc.cwd,
      user: proc.user,
      cgroups: driver.open(target.id).dirs,
      tty: proc.tty,
      noMknod: driver.version === 2,
      userns: await helperUserns(),
    });
    const child = spawn(nativeBinary('sandbox'), args, { stdio: opts.stdio });
    const exited = helperExit(child);
    return {
      child,
      execStatus: () => Promise.resolve({ code: 0, message: '' }),
      wait: async () => ({ exitCode: await exited, oomKilled: false }),
      release: () => undefined, // the cgroup is the target's
    };
  },
};
