// Container lifecycle core shared by `tsrun` (foreground: tsrun supervises) and the detached
// monitor: create (record, name, rootfs layout, /etc files), start (an address on the bridge,
// the /etc files, then the executor: cgroup, network, helper; see executor.ts), finish (exit
// status, OOM report, cleanup, --rm). Everything on the start path is synchronous
// file work or a single spawn, to keep start latency low.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSpec, type ImageRunConfig, type Mount, type RunFlags } from './spec.js';
import { waitForPidFile } from './sandbox.js';
import type { ExitResult, NetworkSpec, Running, RunOptions } from './executor.js';
import { namespaceExecutor } from './namespace-executor.js';

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
import { containerResolvConf, hostsFile, parseExtraHost } from './resolv-conf.js';
import { prepareOverlay, ensureLayers } from './rootfs.js';
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

/** The network as the executor takes it (another container's namespaces resolved). */
async function containerNetwork(st: ContainerState): Promise<NetworkSpec> {
  const n = st.spec.network;
  if (n.mode === 'host') return { mode: 'host' };
  if (n.mode === 'bridge')
    return st.ip
      ? { mode: 'bridge', reservation: { ip: st.ip, owner: st.id } }
      : { mode: 'bridge', ports: st.spec.ports }; // rootless: pasta publishes them
  if (n.mode !== 'container') return { mode: 'none' };
  const other = await findContainer(n.container);
  const pid = containerPid(other);
  if (!pid) throw new TsdockError(`cannot join the network of ${n.container}: it is not running`);
  return { mode: 'join', netns: `/proc/${pid}/ns/net`, uts: `/proc/${pid}/ns/uts` };
}

/** /etc files (not when joining another container's network: it has its own) and volumes. */
function containerMounts(st: ContainerState): Mount[] {
  const dir = runtimeDir(st.id);
  const etc = ['hosts', 'hostname', 'resolv.conf'].map((f) => ({
    type: 'bind' as const,
    source: join(dir, f),
    target: `/etc/${f}`,
    readOnly: false,
  }));
  const volumes = st.spec.mounts.map((m) => {
    if (m.type !== 'volume') return m;
    const source = join(tsdockRoot(), 'volumes', m.source, '_data');
    mkdirSync(source, { recursive: true });
    return { ...m, source };
  });
  return st.spec.network.mode === 'container' ? volumes : [...etc, ...volumes];
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
  const s = st.spec;
  const bridge = s.network.mode === 'bridge';
  // rootless hook: user-mode networking (pasta, runner/rootless/pasta.ts) instead of the bridge
  const userMode = bridge && isRootless();
  let net: typeof import('./network.js') | undefined;
  let running: Running | undefined;
  let proxies: { close(): void } | undefined;
  try {
    if ((bridge && !userMode) || s.extraHosts?.some((h) => h.endsWith('host-gateway')))
      net = await import('./network.js');
    if (bridge && !userMode) st.ip = net!.allocateAddress(st.id, net!.parseSubnet());
    const gw = net ? net.gatewayOf(net.parseSubnet()) : '';
    writeEtcFiles(st, () => gw);
    const network = await containerNetwork(st);
    if (isRootless()) await rootlessWarning(st); // rootless hook (runner/rootless/)
    running = await namespaceExecutor.run(
      {
        argv: s.argv,
        env: s.env,
        cwd: s.cwd,
        user: s.user || undefined,
        hostname: network.mode === 'join' ? undefined : s.hostname || undefined,
        tty: s.tty,
        init: s.init,
      },
      {
        layers: st.layers,
        dir: containerDir(st.id),
        runDir: runtimeDir(st.id),
        readOnly: s.readOnly,
      },
      containerMounts(st),
      {
        cgroup: { id: st.id, limits: s.limits },
        network,
        stdio: (Array.isArray(stdio) ? stdio : [stdio, stdio, stdio]) as RunOptions['stdio'],
        execStatus: opts.execStatus,
        spawned: () => {
          st.status = 'running';
          st.monitorPid = process.pid;
          st.startedAt = new Date().toISOString();
          saveState(st);
        },
      },
    );
    if (bridge && !userMode && s.ports.length) proxies = await net!.publishPorts(s.ports, st.ip!);
    const started = running;
    return {
      child: started.child,
      execStatus: () => started.execStatus(),
      wait: async () => {
        const exit = await started.wait();
        proxies?.close();
        return finishContainer(st, exit);
      },
    };
  } catch (err) {
    proxies?.close();
    running?.child.kill('SIGKILL');
    running?.release();
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

/** Records the exit (OOM says so), removes the container with --rm. */
async function finishContainer(st: ContainerState, exit: ExitResult): Promise<number> {
  const code = exit.exitCode;
  st.oomKilled = exit.oomKilled;
  if (st.oomKilled) {
    const mb = Math.round((st.spec.limits.memory ?? 0) / 1048576);
    process.stderr.write(
      `tsrun: container ${st.name} was killed: out of memory (memory limit ${mb}m)\n`,
    );
  }
  removeTree(runtimeDir(st.id)); // the run's scaffolding is useless once PID 1 is gone
  st.status = 'exited';
  st.exitCode = code;
  st.finishedAt = new Date().toISOString();
  if (st.autoRemove) await removeContainer(st);
  else saveState(st);
  return code;
}

/** Rootless: the warning for limits that cannot be enforced (no delegated cgroup). */
async function rootlessWarning(st: ContainerState): Promise<void> {
  const { cgroupDriver } = await import('./cgroup-driver.js');
  const driver = cgroupDriver();
  if ('enforcesLimits' in driver && !driver.enforcesLimits) {
    const { unenforcedLimitsWarning } = await import('./rootless/cgroups.js');
    process.stderr.write(unenforcedLimitsWarning(st.spec.limits, 'tsrun'));
  }
}
