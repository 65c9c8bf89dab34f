// Container lifecycle core shared by `tsrun` (foreground: tsrun supervises) and the detached
// monitor: create (record, name, rootfs layout, /etc files), start (cgroup, network, helper),
// finish (exit status, OOM report, cleanup, --rm). Everything on the start path is synchronous
// file work or a single spawn, to keep start latency low.
import { spawn, type ChildProcess, type StdioOptions, type IOType } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { buildSpec, type ImageRunConfig, type RunFlags } from './spec.js';
import { sandboxArgs, waitForPidFile, type SandboxRequest } from './sandbox.js';

export { waitForPidFile };
import {
  bootId,
  claimContainer,
  containerDir,
  reconcileAtStart,
  containerPid,
  findContainer,
  reserveName,
  saveState,
  removeContainer,
  removeTree,
  runtimeDir,
  runtimeRoot,
  tsdockRoot,
  type ContainerState,
} from './containers.js';
import { cgroupDriver } from './cgroup-driver.js';
import { containerResolvConf, hostsFile, parseExtraHost } from './resolv-conf.js';
import { prepareOverlay, ensureLayers } from './rootfs.js';
import { nativeBinary } from '../shared/native.js';
import { securePrivateDir, secureStateDirs } from '../shared/state-dirs.js';
import { InvalidInputError, TsdockError } from '../shared/errors.js';
import { isRootless } from '../shared/rootless-env.js';

export interface CreateOptions {
  image: string;
  /** podman's --rootfs: run a directory (kept read-only: it becomes the single lower layer) */
  rootfsDir?: string;
  name?: string;
  /** `os/arch[/variant]` (tsrun --platform) */
  platform?: string;
  flags: RunFlags;
  detached: boolean;
  autoRemove: boolean;
}

const NAME_WORDS = ['brisk', 'calm', 'eager', 'keen', 'lucid', 'quiet', 'swift', 'tidy'];
const NAME_NOUNS = ['otter', 'heron', 'lynx', 'wren', 'ibex', 'finch', 'orca', 'yak'];

/** 64 hex chars from the kernel's CSPRNG (cheaper to load than node:crypto on the hot path). */
function randomId(): string {
  const buf = Buffer.alloc(32);
  const fd = openSync('/dev/urandom', 'r');
  readSync(fd, buf, 0, 32, null);
  closeSync(fd);
  return buf.toString('hex');
}

function randomName(id: string): string {
  const b = Buffer.from(id.slice(0, 4), 'hex');
  return `${NAME_WORDS[b[0]! % 8]}_${NAME_NOUNS[b[1]! % 8]}_${id.slice(4, 8)}`;
}

async function imageInputs(opts: CreateOptions): Promise<{
  imageId: string;
  config: ImageRunConfig;
  layers: string[];
  doc?: Record<string, unknown>;
}> {
  if (opts.rootfsDir) {
    if (!existsSync(opts.rootfsDir))
      throw new InvalidInputError(`no such directory: ${opts.rootfsDir}`);
    return { imageId: `rootfs:${opts.rootfsDir}`, config: {}, layers: [opts.rootfsDir] };
  }
  const { loadRunnableImage, fastRunnableImage, fastRefName, requireRunnablePlatform } =
    await import('./image.js');
  const { layersRoot, storeRoot } = await import('../shared/paths.js');
  const refName = fastRefName(opts.image);
  const fast =
    refName && !opts.platform && fastRunnableImage(opts.image, storeRoot(), layersRoot(), refName);
  if (fast) {
    await requireRunnablePlatform(fast.configDocument);
    return { imageId: fast.id, config: fast.config, layers: fast.dirs, doc: fast.configDocument };
  }
  // rootless hook: unpacking layers (their owners) needs root of the user's namespace
  if (process.getuid?.() !== 0) await (await import('./rootless/userns.js')).reexecInUserns();
  const image = await loadRunnableImage(opts.image, opts.platform);
  await requireRunnablePlatform(image.configDocument);
  const layers = await ensureLayers(layersRoot(), image.layers);
  return { imageId: image.id, config: image.config, layers, doc: image.configDocument };
}

/** Creates the record and the rootfs layout; nothing runs yet. */
export async function createContainer(opts: CreateOptions): Promise<ContainerState> {
  const id = randomId();
  await reconcileAtStart();
  const { imageId, config, layers, doc } = await imageInputs(opts);
  // `-e NODE_EXTRA_CA_CERTS` (no value) still sees it when tsrun's shebang set it aside
  const callerEnv = {
    NODE_EXTRA_CA_CERTS: process.env.TSDOCK_EXTRA_CA_CERTS || undefined,
    ...process.env,
  };
  const spec = buildSpec(config, opts.flags, id, callerEnv);
  const name = opts.name ?? randomName(id);
  const dir = containerDir(id);
  secureStateDirs();
  securePrivateDir(runtimeRoot());
  claimContainer(id); // before the record dir: a kill from here on leaves it to reconcileAll
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    reserveName(name, id);
  } catch (err) {
    removeTree(dir);
    throw err;
  }
  const st: ContainerState = {
    id,
    name,
    image: opts.image,
    imageId,
    created: new Date().toISOString(),
    spec,
    status: 'created',
    bootId: bootId(),
    autoRemove: opts.autoRemove,
    detached: opts.detached,
    layers,
    imageConfig: doc,
  };
  if (opts.detached || !opts.autoRemove) saveState(st); // a foreground --rm run saves once, on start
  prepareOverlay(dir, layers, runtimeDir(id));
  return st;
}

function writeEtcFiles(st: ContainerState, gateway: () => string): void {
  const dir = runtimeDir(st.id);
  const host = st.spec.hostname;
  const own = host ? { name: host, ip: st.ip ?? '127.0.1.1' } : undefined;
  const extra = (st.spec.extraHosts ?? []).map((h) => parseExtraHost(h, gateway));
  writeFileSync(join(dir, 'hosts'), hostsFile(own, extra));
  writeFileSync(join(dir, 'hostname'), `${host}\n`);
  const mode = st.spec.network.mode;
  writeFileSync(join(dir, 'resolv.conf'), containerResolvConf(mode === 'host' ? 'host' : 'bridge'));
}

/** The helper request for a created container (network joins resolved). */
async function buildRequest(
  st: ContainerState,
  cgroups: string[],
  v2: boolean,
): Promise<SandboxRequest> {
  const dir = runtimeDir(st.id);
  const s = st.spec;
  const req: SandboxRequest = {
    rootfs: join(dir, 'rootfs'),
    overlay: {
      base: dir,
      lowers: [],
      upper: join(containerDir(st.id), 'upper'),
      work: join(containerDir(st.id), 'work'),
    },
    argv: s.argv,
    env: s.env,
    cwd: s.cwd,
    user: s.user || undefined,
    hostname: s.hostname || undefined,
    network: s.network.mode === 'host' ? 'host' : 'new',
    mounts: [],
    cgroups,
    init: s.init,
    tty: s.tty,
    readOnly: s.readOnly,
    pidFile: join(dir, 'ctr.pid'),
    noMknod: v2,
  };
  req.overlay!.lowers = st.layers.map((_, i) => `l/${i}`).reverse();
  if (s.network.mode === 'container') {
    const other = await findContainer(s.network.container);
    const pid = containerPid(other);
    if (!pid)
      throw new TsdockError(`cannot join the network of ${s.network.container}: it is not running`);
    req.network = `/proc/${pid}/ns/net`;
    req.uts = `/proc/${pid}/ns/uts`;
    req.hostname = undefined;
  }
  const etc = ['hosts', 'hostname', 'resolv.conf'].map((f) => ({
    type: 'bind' as const,
    source: join(dir, f),
    target: `/etc/${f}`,
    readOnly: false,
  }));
  const volumes = s.mounts.map((m) => {
    if (m.type !== 'volume') return m;
    const source = join(tsdockRoot(), 'volumes', m.source, '_data');
    mkdirSync(source, { recursive: true });
    return { ...m, source };
  });
  req.mounts = s.network.mode === 'container' ? volumes : [...etc, ...volumes];
  return req;
}

export interface Started {
  child: ChildProcess;
  /** with execStatus: resolves once the command was exec'd (code 0) or failed (126/127/125) */
  execStatus(): Promise<{ code: number; message: string }>;
  /** resolves with the container's exit code once it exited and everything is settled */
  wait(): Promise<number>;
}

/** Starts a created container; stdio is the helper's (inherit for foreground, pipes for logs). */
export async function startContainer(
  st: ContainerState,
  stdio: StdioOptions,
  opts: { execStatus?: boolean } = {},
): Promise<Started> {
  const driver = cgroupDriver();
  let cgroup;
  try {
    cgroup = driver.create(st.id, st.spec.limits);
  } catch (err) {
    driver.open(st.id).remove();
    await settleFailedStart(st);
    throw err;
  }
  const bridge = st.spec.network.mode === 'bridge';
  // rootless hook: user-mode networking (pasta, runner/rootless/pasta.ts) instead of the bridge
  const userMode = bridge && isRootless();
  let net: typeof import('./network.js') | undefined;
  let proxies: { close(): void } | undefined;
  try {
    if (bridge && !userMode) {
      net = await import('./network.js');
      const subnet = net.parseSubnet();
      net.ensureBridge(subnet);
      st.ip = net.allocateAddress(st.id, subnet);
    }
    if (!net && st.spec.extraHosts?.some((h) => h.endsWith('host-gateway')))
      net = await import('./network.js');
    const gw = net ? net.gatewayOf(net.parseSubnet()) : '';
    writeEtcFiles(st, () => gw);
    const req = await buildRequest(st, cgroup.dirs, driver.version === 2);
    if (isRootless()) await rootlessStart(st, req, driver); // rootless hook (runner/rootless/)
    if (userMode) req.syncFd = 3;
    if (bridge && !userMode && net) {
      const sub = net.parseSubnet();
      req.syncFd = 3;
      req.ip = { address: st.ip!, prefix: sub.prefix, gateway: net.gatewayOf(sub) };
    }
    const args = sandboxArgs(req);
    const statusFd = opts.execStatus ? (bridge ? 4 : 3) : undefined;
    if (statusFd) args.splice(args.indexOf('--'), 0, '--status-fd', String(statusFd));
    const fds = (Array.isArray(stdio) ? stdio : [stdio, stdio, stdio]) as IOType[];
    const child: ChildProcess = spawn(nativeBinary('sandbox'), args, {
      stdio: [...fds, ...(bridge ? ['pipe' as const] : []), ...(statusFd ? ['pipe' as const] : [])],
    });
    const exited = new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? (signal ? 137 : 125)));
    });
    st.status = 'running';
    st.monitorPid = process.pid;
    st.startedAt = new Date().toISOString();
    saveState(st);
    if (userMode) {
      const pid = await waitForPidFile(join(runtimeDir(st.id), 'ctr.pid'), child);
      const { attachPasta } = await import('./rootless/pasta.js');
      proxies = await attachPasta(pid, st.spec.ports, runtimeDir(st.id));
      const sync = child.stdio[3] as NodeJS.WritableStream;
      sync.write('g');
      sync.end();
    } else if (bridge && net) {
      const pid = await waitForPidFile(join(runtimeDir(st.id), 'ctr.pid'), child);
      net.attachVeth(st.id, pid);
      const sync = child.stdio[3] as NodeJS.WritableStream;
      sync.write('g');
      sync.end();
      if (st.spec.ports.length) proxies = await net.publishPorts(st.spec.ports, st.ip!);
    }
    const status = statusFd ? readStatus(child.stdio[statusFd] as Readable) : undefined;
    return {
      child,
      execStatus: () => status ?? Promise.resolve({ code: 0, message: '' }),
      wait: async () => {
        const code = await exited;
        proxies?.close();
        return finishContainer(st, code, cgroup);
      },
    };
  } catch (err) {
    proxies?.close();
    cgroup.remove();
    await settleFailedStart(st);
    throw err;
  }
}

async function settleFailedStart(st: ContainerState): Promise<void> {
  st.status = 'exited';
  st.exitCode = 125;
  st.finishedAt = new Date().toISOString();
  if (st.autoRemove) await removeContainer(st);
  else saveState(st);
}

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

/** Records the exit (OOM says so), frees the cgroup, removes the container with --rm. */
async function finishContainer(
  st: ContainerState,
  code: number,
  cgroup: { oomKilled(): boolean; remove(): void },
): Promise<number> {
  st.oomKilled = code === 137 && cgroup.oomKilled();
  if (st.oomKilled) {
    const mb = Math.round((st.spec.limits.memory ?? 0) / 1048576);
    process.stderr.write(
      `tsrun: container ${st.name} was killed: out of memory (memory limit ${mb}m)\n`,
    );
  }
  cgroup.remove();
  removeTree(runtimeDir(st.id)); // the run's scaffolding is useless once PID 1 is gone
  st.status = 'exited';
  st.exitCode = code;
  st.finishedAt = new Date().toISOString();
  if (st.autoRemove) await removeContainer(st);
  else saveState(st);
  return code;
}

/** Rootless: the user namespace to join, and the warning for limits that cannot be enforced. */
async function rootlessStart(
  st: ContainerState,
  req: SandboxRequest,
  driver: ReturnType<typeof cgroupDriver>,
): Promise<void> {
  const { helperUserns } = await import('./rootless/userns.js');
  req.userns = await helperUserns();
  if ('enforcesLimits' in driver && !driver.enforcesLimits) {
    const { unenforcedLimitsWarning } = await import('./rootless/cgroups.js');
    process.stderr.write(unenforcedLimitsWarning(st.spec.limits, 'tsrun'));
  }
}
