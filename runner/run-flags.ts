// `tsrun`'s command line (pure): docker's flags up to the first positional (IMAGE), then the
// command. Every flag value is checked here, while parsing (sizes, CPU numbers, ports, volumes,
// networks, hosts), so a bad one is refused before anything is pulled or created.
import { defineCommand, parseCommand, type FlagSpecs, type ParsedFlags } from '../shared/cli.js';
import { InvalidInputError } from '../shared/errors.js';
import { parseExtraHost } from './resolv-conf.js';
import {
  parseLimits,
  parseMemory,
  parseNetwork,
  parsePublish,
  parseTmpfs,
  parseVolume,
  type RunFlags,
} from './spec.js';
import { parsePlatform } from '../shared/platform.js';

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

function positiveNumber(v: string): void {
  if (!(Number(v) > 0)) throw new InvalidInputError('expected a number > 0');
}

function positiveInt(v: string): void {
  if (!/^\d+$/.test(v) || !(Number(v) > 0))
    throw new InvalidInputError('expected a whole number > 0');
}

/** The flags of the process in a container, which tsexec shares with tsrun. */
export const PROCESS_FLAGS = {
  interactive: { type: 'boolean', short: 'i', description: 'Keep STDIN open' },
  tty: { type: 'boolean', short: 't', description: 'Allocate a pseudo-TTY' },
  env: {
    type: 'string',
    short: 'e',
    multiple: true,
    description: "Set environment variables (K=V, or K to pass the caller's)",
    complete: 'none',
  },
  workdir: {
    type: 'string',
    short: 'w',
    description: 'Working directory inside the container',
    complete: 'none',
  },
  user: {
    type: 'string',
    short: 'u',
    description: 'Username or UID (format: <name|uid>[:<group|gid>])',
    complete: 'none',
  },
} as const satisfies FlagSpecs;

export const tsrunCommand = defineCommand({
  name: 'tsrun',
  usage: 'IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image.',
  args: { min: 1 },
  stopAtFirstPositional: true,
  flags: {
    detach: {
      type: 'boolean',
      short: 'd',
      description: 'Run in the background, print the container id',
    },
    rm: { type: 'boolean', description: 'Remove the container when it exits' },
    name: { type: 'string', description: 'Assign a name to the container', complete: 'none' },
    ...PROCESS_FLAGS,
    hostname: {
      type: 'string',
      short: 'h',
      description: 'Container host name',
      complete: 'none',
    },
    volume: {
      type: 'string',
      short: 'v',
      multiple: true,
      description: 'Bind mount a volume: SRC:DST[:ro|rro|ro-non-recursive]',
      check: parseVolume,
    },
    tmpfs: {
      type: 'string',
      multiple: true,
      description: 'Mount a tmpfs: DST[:OPTS]',
      complete: 'none',
      check: parseTmpfs,
    },
    publish: {
      type: 'string',
      short: 'p',
      multiple: true,
      description: "Publish a container's port: [IP:]HOST:CTR",
      complete: 'none',
      check: parsePublish,
    },
    memory: {
      type: 'string',
      short: 'm',
      valueName: 'bytes',
      description: 'Memory limit (e.g. 32m, 1g)',
      complete: 'none',
      check: parseMemory,
    },
    cpus: {
      type: 'string',
      valueName: 'decimal',
      description: 'Number of CPUs',
      complete: 'none',
      check: positiveNumber,
    },
    'cpu-period': {
      type: 'string',
      valueName: 'int',
      description: 'CPU CFS period (microseconds)',
      complete: 'none',
      check: positiveInt,
    },
    'cpu-quota': {
      type: 'string',
      valueName: 'int',
      description: 'CPU CFS quota (microseconds)',
      complete: 'none',
      check: positiveInt,
    },
    'cpu-shares': {
      type: 'string',
      short: 'c',
      valueName: 'int',
      description: 'CPU shares (relative weight)',
      complete: 'none',
      check: positiveInt,
    },
    'pids-limit': {
      type: 'string',
      valueName: 'int',
      description: 'Process limit',
      complete: 'none',
      check: positiveInt,
    },
    network: {
      type: 'string',
      aliases: ['net'],
      description: 'none, host, bridge or container:NAME',
      complete: 'none',
      check: parseNetwork,
    },
    init: { type: 'boolean', description: 'Run an init inside the container (reaps zombies)' },
    entrypoint: {
      type: 'string',
      description: "Overwrite the image's ENTRYPOINT",
      complete: 'none',
    },
    'read-only': { type: 'boolean', description: "Mount the container's root read-only" },
    'add-host': {
      type: 'string',
      multiple: true,
      description: 'An /etc/hosts entry NAME:IP (IP may be host-gateway: the bridge address)',
      complete: 'none',
      check: (h) => parseExtraHost(h, () => '0.0.0.0'),
    },
    rootfs: {
      type: 'boolean',
      description: 'IMAGE is a root filesystem directory (as podman)',
    },
    platform: {
      type: 'string',
      valueName: 'os/arch',
      description: "Run that platform's image (from an index; foreign ones under QEMU)",
      complete: 'none',
      check: (p) => void parsePlatform(p),
    },
  },
  // --cpus against --cpu-period/--cpu-quota
  validate: (parsed) => parseLimits(toRunArgs(parsed).flags),
});

type RunParsed = ParsedFlags<(typeof tsrunCommand)['flags']>;

/** Parsed flags -> what runner/run.ts takes. */
export function toRunArgs({ values: v, positionals }: RunParsed): RunArgs {
  const [image, ...cmd] = positionals as [string, ...string[]];
  const flags: RunFlags = {
    cmd,
    env: v.env ?? [],
    volumes: v.volume ?? [],
    tmpfs: v.tmpfs ?? [],
    publish: v.publish ?? [],
    addHost: v['add-host'] ?? [],
    workdir: v.workdir,
    user: v.user,
    hostname: v.hostname,
    memory: v.memory,
    cpus: v.cpus,
    cpuPeriod: v['cpu-period'],
    cpuQuota: v['cpu-quota'],
    cpuShares: v['cpu-shares'],
    pidsLimit: v['pids-limit'],
    network: v.network,
    entrypoint: v.entrypoint,
    init: v.init === true,
    tty: v.tty === true,
    readOnly: v['read-only'] === true,
  };
  return {
    image,
    rootfsDir: v.rootfs ? image : undefined,
    name: v.name,
    ...(v.platform !== undefined ? { platform: v.platform } : {}),
    detached: v.detach === true,
    autoRemove: v.rm === true,
    interactive: v.interactive === true,
    flags,
  };
}

/** Parses and checks a tsrun command line (--help is not a run: it is refused here). */
export function parseRunArgs(argv: readonly string[]): RunArgs {
  const parsed = parseCommand(tsrunCommand, argv);
  if (!parsed) throw new InvalidInputError('--help is not a run');
  return toRunArgs(parsed);
}
