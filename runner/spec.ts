// The container spec as plain data: image config + `tsrun` flags -> ContainerSpec (argv from
// entrypoint/cmd, env merge, user, workdir, mounts, limits, hostname, network, ports), with
// docker's semantics. Pure: no file system, no Linux calls, so unit tests check it anywhere.
import { InvalidInputError } from '../shared/errors.js';
import { parseExtraHost } from './resolv-conf.js';

/** The parts of an OCI image config (`config` object) that running uses. */
export interface ImageRunConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
}

export interface Mount {
  /** bind: a host path; volume: a named volume (resolved to a host dir by the caller); tmpfs */
  type: 'bind' | 'volume' | 'tmpfs';
  source: string;
  /**
   * bind: `source` is a path inside this directory, resolved there as if it were `/` right
   * before the mount (symlinks cannot lead out, even one swapped in after the caller looked).
   */
  sourceRoot?: string;
  /** absolute path inside the container (resolved inside the rootfs, never outside) */
  target: string;
  readOnly: boolean;
  /**
   * How far read-only reaches into the source's submounts (binds are recursive). Absent: all
   * the way down, refused on a kernel without mount_setattr (< 5.12) when there are submounts
   * (`:ro`); 'required': all the way down or refused (`:rro`); 'disabled': the top mount only
   * (`:ro-non-recursive`).
   */
  recursiveReadOnly?: 'required' | 'disabled';
  /** tmpfs mount options, e.g. "size=64m,mode=1777" */
  options?: string;
}

export interface Limits {
  /** bytes */
  memory?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpuShares?: number;
  pids?: number;
}

export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp';
}

export type NetworkMode =
  | { mode: 'none' }
  | { mode: 'host' }
  | { mode: 'bridge' }
  | { mode: 'container'; container: string };

export interface ContainerSpec {
  argv: string[];
  env: string[];
  cwd: string;
  user: string;
  hostname: string;
  mounts: Mount[];
  limits: Limits;
  network: NetworkMode;
  ports: PortMapping[];
  /** --add-host entries as given (validated; host-gateway is resolved at start) */
  extraHosts?: string[];
  init: boolean;
  tty: boolean;
  readOnly: boolean;
}

/** What `tsrun` flags say, already split into lists. */
export interface RunFlags {
  entrypoint?: string;
  cmd: string[];
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  volumes: string[];
  tmpfs: string[];
  publish: string[];
  memory?: string;
  cpus?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuShares?: string;
  pidsLimit?: string;
  network?: string;
  /** --add-host name:ip (ip may be host-gateway) */
  addHost?: string[];
  init?: boolean;
  tty?: boolean;
  readOnly?: boolean;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** "32m" / "1g" / "512k" / "1048576" -> bytes (docker's units, binary). */
export function parseMemory(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(value.trim());
  if (!m) throw new InvalidInputError(`invalid memory size "${value}"`, 'use e.g. 32m, 1g');
  const mult: Record<string, number> = {
    '': 1,
    b: 1,
    k: 1024,
    m: 1024 ** 2,
    g: 1024 ** 3,
    t: 1024 ** 4,
  };
  const bytes = Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
  if (bytes < 6 * 1024 * 1024) {
    throw new InvalidInputError(`memory limit ${value} is too small`, 'the minimum is 6m');
  }
  return bytes;
}

function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidInputError(`invalid ${what} "${value}"`);
  return n;
}

/** Docker's limit flags -> Limits (--cpus becomes quota over a 100 ms period). */
export function parseLimits(flags: RunFlags): Limits {
  const limits: Limits = {};
  if (flags.memory) limits.memory = parseMemory(flags.memory);
  if (flags.cpus) {
    const cpus = Number(flags.cpus);
    if (!(cpus > 0)) throw new InvalidInputError(`invalid --cpus "${flags.cpus}"`);
    if (flags.cpuQuota || flags.cpuPeriod) {
      throw new InvalidInputError('--cpus conflicts with --cpu-period/--cpu-quota');
    }
    limits.cpuPeriod = 100000;
    limits.cpuQuota = Math.round(cpus * 100000);
  }
  if (flags.cpuPeriod) limits.cpuPeriod = positiveInt(flags.cpuPeriod, '--cpu-period');
  if (flags.cpuQuota) limits.cpuQuota = positiveInt(flags.cpuQuota, '--cpu-quota');
  if (flags.cpuShares) limits.cpuShares = positiveInt(flags.cpuShares, '--cpu-shares');
  if (flags.pidsLimit) limits.pids = positiveInt(flags.pidsLimit, '--pids-limit');
  return limits;
}

const VOLUME_MODES = ['ro', 'rw', 'rro', 'ro-non-recursive', 'z', 'Z'];

/**
 * `-v host:ctr[:MODE]` (host is absolute) or `-v name:ctr[:MODE]` (a named volume); MODE is a
 * comma list of rw, ro (read-only, submounts too), rro (the same, never weakened),
 * ro-non-recursive (the top mount only), z/Z (accepted, no SELinux here).
 */
export function parseVolume(value: string): Mount {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new InvalidInputError(`invalid volume "${value}"`, 'use -v /host/path:/ctr/path[:ro]');
  }
  const [source, target, mode = 'rw'] = parts as [string, string, string?];
  if (!target.startsWith('/')) {
    throw new InvalidInputError(`invalid volume "${value}"`, 'the container path must be absolute');
  }
  const modes = mode.split(',');
  if (!modes.every((o) => VOLUME_MODES.includes(o))) {
    throw new InvalidInputError(
      `invalid volume mode "${mode}"`,
      'use rw, ro, rro or ro-non-recursive',
    );
  }
  const readOnlyModes = modes.filter((o) => o !== 'rw' && o !== 'z' && o !== 'Z');
  if (readOnlyModes.length > 1 || (readOnlyModes.length === 1 && modes.includes('rw'))) {
    throw new InvalidInputError(
      `invalid volume mode "${mode}"`,
      'give one of rw, ro, rro or ro-non-recursive',
    );
  }
  const named = !source.startsWith('/') && !source.startsWith('.');
  if (named && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source)) {
    throw new InvalidInputError(`invalid volume name "${source}"`);
  }
  return {
    type: named ? 'volume' : 'bind',
    source,
    target,
    readOnly: readOnlyModes.length === 1,
    ...(modes.includes('rro') ? { recursiveReadOnly: 'required' as const } : {}),
    ...(modes.includes('ro-non-recursive') ? { recursiveReadOnly: 'disabled' as const } : {}),
  };
}

/** `--tmpfs /path[:opts]` */
export function parseTmpfs(value: string): Mount {
  const [target, options = ''] = value.split(/:(.*)/s) as [string, string?];
  if (!target.startsWith('/')) throw new InvalidInputError(`invalid --tmpfs "${value}"`);
  const opts = options ? options : 'mode=1777';
  return { type: 'tmpfs', source: 'tmpfs', target, readOnly: false, options: opts };
}

/** `-p [ip:]hostPort:ctrPort[/tcp]`; bound to 127.0.0.1 unless an address is given. */
export function parsePublish(value: string): PortMapping {
  const [spec, proto = 'tcp'] = value.split('/') as [string, string?];
  if (proto !== 'tcp')
    throw new InvalidInputError(`unsupported protocol in "${value}"`, 'only tcp');
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[0-9.]+):)?(\d+):(\d+)$/.exec(spec);
  if (!m)
    throw new InvalidInputError(`invalid port mapping "${value}"`, 'use [ip:]hostPort:ctrPort');
  const port = (s: string) => {
    const n = Number(s);
    if (!(n > 0 && n < 65536)) throw new InvalidInputError(`invalid port ${s} in "${value}"`);
    return n;
  };
  return {
    hostIp: m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1',
    hostPort: port(m[2]!),
    containerPort: port(m[3]!),
    protocol: 'tcp',
  };
}

export function parseNetwork(value = 'bridge'): NetworkMode {
  if (value === 'none' || value === 'host' || value === 'bridge') return { mode: value };
  if (value === 'default') return { mode: 'bridge' };
  if (value.startsWith('container:') && value.length > 'container:'.length) {
    return { mode: 'container', container: value.slice('container:'.length) };
  }
  throw new InvalidInputError(
    `invalid network "${value}"`,
    'use none, host, bridge or container:NAME',
  );
}

/** Docker's env merge: image Env, then -e (KEY alone takes the caller's value), PATH default. */
export function mergeEnv(
  imageEnv: readonly string[],
  flagEnv: readonly string[],
  extra: { hostname: string; tty: boolean },
  callerEnv: Record<string, string | undefined> = {},
): string[] {
  const env = new Map<string, string>();
  const put = (kv: string) => {
    const i = kv.indexOf('=');
    if (i === 0) throw new InvalidInputError(`invalid environment variable "${kv}"`);
    if (i < 0) {
      const v = callerEnv[kv];
      if (v !== undefined) env.set(kv, v);
    } else env.set(kv.slice(0, i), kv.slice(i + 1));
  };
  env.set('PATH', DEFAULT_PATH);
  env.set('HOSTNAME', extra.hostname);
  imageEnv.forEach(put);
  flagEnv.forEach(put);
  if (extra.tty && !env.has('TERM')) env.set('TERM', 'xterm');
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** Entrypoint/cmd semantics: --entrypoint resets the image Cmd; CMD args replace the Cmd. */
export function resolveArgv(config: ImageRunConfig, flags: RunFlags): string[] {
  const entrypoint =
    flags.entrypoint !== undefined
      ? flags.entrypoint === ''
        ? []
        : [flags.entrypoint]
      : (config.Entrypoint ?? []);
  const cmd =
    flags.cmd.length > 0 ? flags.cmd : flags.entrypoint !== undefined ? [] : (config.Cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) {
    throw new InvalidInputError(
      'no command specified',
      'the image has no CMD; give one after IMAGE',
    );
  }
  return argv;
}

function validHosts(list: string[]): string[] {
  for (const h of list) parseExtraHost(h, () => '0.0.0.0'); // throws on a bad entry
  return list;
}

/** image config + flags -> the full spec; `id` supplies the default hostname. */
export function buildSpec(
  config: ImageRunConfig,
  flags: RunFlags,
  id: string,
  callerEnv: Record<string, string | undefined> = {},
): ContainerSpec {
  const network = parseNetwork(flags.network);
  const hostname = flags.hostname ?? (network.mode === 'host' ? '' : id.slice(0, 12));
  if (flags.hostname && network.mode === 'container') {
    throw new InvalidInputError('conflicting options: hostname and the network mode container:');
  }
  const ports = flags.publish.map(parsePublish);
  if (ports.length > 0 && network.mode !== 'bridge') {
    throw new InvalidInputError('-p needs the bridge network', `network is ${network.mode}`);
  }
  const workdir = flags.workdir ?? (config.WorkingDir || '/');
  if (!workdir.startsWith('/')) {
    throw new InvalidInputError(`the working directory "${workdir}" is not absolute`);
  }
  return {
    argv: resolveArgv(config, flags),
    env: mergeEnv(config.Env ?? [], flags.env, { hostname, tty: !!flags.tty }, callerEnv),
    cwd: workdir,
    user: flags.user ?? config.User ?? '',
    hostname,
    mounts: [...flags.volumes.map(parseVolume), ...flags.tmpfs.map(parseTmpfs)],
    limits: parseLimits(flags),
    network,
    ports,
    extraHosts: validHosts(flags.addHost ?? []),
    init: !!flags.init,
    tty: !!flags.tty,
    readOnly: !!flags.readOnly,
  };
}
