// `tsrun` argument parsing (pure): docker's flags up to the first positional (IMAGE), then the
// command. Short flags combine (-it, -dit); values as `--flag v`, `--flag=v` or `-e=v`.
import { InvalidInputError } from '../shared/errors.js';
import type { RunFlags } from './spec.js';

export interface RunArgs {
  image: string;
  rootfsDir?: string;
  name?: string;
  detached: boolean;
  autoRemove: boolean;
  interactive: boolean;
  /** --platform os/arch[/variant]: the image's platform (picked from an index, emulated). */
  platform?: string;
  flags: RunFlags;
}

type Key = keyof RunFlags | 'name' | 'platform';
const VALUE_FLAGS: Record<string, Key> = {
  '--name': 'name',
  '-e': 'env',
  '--env': 'env',
  '-w': 'workdir',
  '--workdir': 'workdir',
  '-u': 'user',
  '--user': 'user',
  '-h': 'hostname',
  '--hostname': 'hostname',
  '-v': 'volumes',
  '--volume': 'volumes',
  '--tmpfs': 'tmpfs',
  '-p': 'publish',
  '--publish': 'publish',
  '-m': 'memory',
  '--memory': 'memory',
  '--cpus': 'cpus',
  '--cpu-period': 'cpuPeriod',
  '--cpu-quota': 'cpuQuota',
  '-c': 'cpuShares',
  '--cpu-shares': 'cpuShares',
  '--pids-limit': 'pidsLimit',
  '--network': 'network',
  '--net': 'network',
  '--entrypoint': 'entrypoint',
  '--add-host': 'addHost',
  '--platform': 'platform',
};
const LIST_KEYS = new Set<Key>(['env', 'volumes', 'tmpfs', 'publish', 'addHost']);
const BOOL_FLAGS: Record<string, string> = {
  '-d': 'detach',
  '--detach': 'detach',
  '--rm': 'rm',
  '-i': 'interactive',
  '--interactive': 'interactive',
  '-t': 'tty',
  '--tty': 'tty',
  '--init': 'init',
  '--read-only': 'readOnly',
  '--rootfs': 'rootfs',
};

export const RUN_USAGE = `Usage: tsrun [OPTIONS] IMAGE [COMMAND] [ARG...]
  -d, --detach            run in the background, print the container id
      --rm                remove the container when it exits
  -i, -t                  keep stdin open / allocate a TTY
      --name NAME         -e, --env K=V      -w, --workdir DIR    -u, --user USER[:GROUP]
  -h, --hostname NAME     -v, --volume SRC:DST[:ro|rro|ro-non-recursive]  --tmpfs DST[:OPTS]
  -p, --publish [IP:]HOST:CTR   --network none|host|bridge|container:NAME
  -m, --memory 32m        --cpus 0.5  --cpu-period N --cpu-quota N  -c, --cpu-shares N
      --pids-limit N      --init      --entrypoint CMD   --read-only
      --add-host NAME:IP  an /etc/hosts entry (IP may be host-gateway: the bridge's address)
      --rootfs            IMAGE is a root filesystem directory (as podman)
      --platform OS/ARCH  run that platform's image (from an index; foreign ones under QEMU)`;

export function parseRunArgs(argv: string[]): RunArgs {
  const flags: RunFlags = { cmd: [], env: [], volumes: [], tmpfs: [], publish: [], addHost: [] };
  const bools = new Set<string>();
  const values: Partial<Record<Key, string>> = {};
  let i = 0;
  const setValue = (key: Key, v: string) => {
    if (LIST_KEYS.has(key)) (flags[key as 'env'] as string[]).push(v);
    else values[key] = v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_FLAGS[flag]) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new InvalidInputError(`flag needs an argument: ${flag}`);
      setValue(VALUE_FLAGS[flag], v);
    } else if (BOOL_FLAGS[flag]) {
      if (eq < 0 || a.slice(eq + 1) === 'true') bools.add(BOOL_FLAGS[flag]);
    } else if (/^-[a-zA-Z]{2,}$/.test(a)) {
      // combined short flags: -it, -dit, -itd ...
      for (const ch of a.slice(1)) {
        const name = BOOL_FLAGS[`-${ch}`];
        if (!name)
          throw new InvalidInputError(
            `unknown shorthand flag: '${ch}' in ${a}`,
            'see tsrun --help',
          );
        bools.add(name);
      }
    } else {
      throw new InvalidInputError(`unknown flag: ${flag}`, 'see tsrun --help');
    }
  }
  const image = argv[i];
  if (!image)
    throw new InvalidInputError(
      'tsrun requires at least 1 argument',
      'tsrun [OPTIONS] IMAGE [COMMAND] [ARG...]',
    );
  flags.cmd = argv.slice(i + 1);
  Object.assign(flags, {
    workdir: values.workdir,
    user: values.user,
    hostname: values.hostname,
    memory: values.memory,
    cpus: values.cpus,
    cpuPeriod: values.cpuPeriod,
    cpuQuota: values.cpuQuota,
    cpuShares: values.cpuShares,
    pidsLimit: values.pidsLimit,
    network: values.network,
    entrypoint: values.entrypoint,
    init: bools.has('init'),
    tty: bools.has('tty'),
    readOnly: bools.has('readOnly'),
  });
  return {
    image,
    rootfsDir: bools.has('rootfs') ? image : undefined,
    name: values.name,
    ...(values.platform !== undefined ? { platform: values.platform } : {}),
    detached: bools.has('detach'),
    autoRemove: bools.has('rm'),
    interactive: bools.has('interactive'),
    flags,
  };
}
