// Cgroup drivers for the Sandbox: v1 (one directory per controller hierarchy) and v2 (one
// unified directory), detected at run time. Each container gets `tsdock/<id>`; limits are
// written before the process starts (the native helper joins the directories before exec).
//
//   v1: /sys/fs/cgroup/{memory,cpu,cpuacct,pids,devices,freezer}/tsdock/<id>/
//   v2: /sys/fs/cgroup/tsdock/<id>/   (controllers enabled in cgroup.subtree_control on the way)
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Limits } from './spec.js';
import { TsdockError } from '../shared/errors.js';

/** One container's cgroup, whatever the version. */
export interface Cgroup {
  readonly version: 1 | 2;
  /** directories the process joins (writes 0 to <dir>/cgroup.procs) */
  readonly dirs: string[];
  /** true when the memory limit's OOM killer fired in this cgroup */
  oomKilled(): boolean;
  /** pids currently in the cgroup */
  pids(): number[];
  /** removes the directories, killing leftover processes first */
  remove(): void;
  /** stops every process in the cgroup and waits until all are stopped (docker pause) */
  freeze(): Promise<void>;
  /** lets them run again */
  thaw(): void;
}

export interface CgroupDriver {
  readonly version: 1 | 2;
  /** creates `<parent>/<id>` and applies the limits */
  create(id: string, limits: Limits): Cgroup;
  /** the existing cgroup of a container (for exec, stats, removal) */
  open(id: string): Cgroup;
}

const PARENT = 'tsdock';
// docker's default device allow-list (v1 devices cgroup): null zero full random urandom tty
// console ptmx pts/*, plus mknod of any char/block node (access still denied).
const DEVICE_ALLOW = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm',
  'c 1:5 rwm',
  'c 1:7 rwm',
  'c 1:8 rwm',
  'c 1:9 rwm',
  'c 5:0 rwm',
  'c 5:1 rwm',
  'c 5:2 rwm',
  'c 136:* rwm',
  'c 10:200 rwm',
];

function write(path: string, value: string | number): void {
  try {
    writeFileSync(path, String(value));
  } catch (err) {
    throw new TsdockError(`cannot set ${path} to ${value}`, (err as Error).message);
  }
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function readPids(dir: string): number[] {
  return readOr(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
}

/** How long removing a cgroup waits for its killed processes to be gone. */
const REMOVE_TIMEOUT_MS = 10_000;

/** Removes cgroup directories, killing what is left in them first. */
export function removeDirs(dirs: string[]): void {
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    // A killed process leaves its cgroup only once the kernel has reaped it, which on a loaded
    // machine can take well over a second.
    const deadline = Date.now() + REMOVE_TIMEOUT_MS;
    for (;;) {
      for (const pid of readPids(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() > deadline) throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
  }
}

/** Writes the freeze request and waits (polling, as runc does) until the kernel says frozen. */
async function setFrozen(
  dir: string | undefined,
  file: string,
  value: string,
  frozen: () => boolean,
): Promise<void> {
  if (!dir || !existsSync(join(dir, file))) {
    throw new TsdockError(
      'cannot pause the container: it has no freezer cgroup',
      'it was started without one (an older tsdock, or no freezer hierarchy); use --pause=false',
    );
  }
  for (let attempt = 0; ; attempt++) {
    write(join(dir, file), value);
    if (frozen()) return;
    if (attempt > 1000) {
      throw new TsdockError(`the container did not freeze (${join(dir, file)})`, 'retry');
    }
    await new Promise((r) => setTimeout(r, attempt < 10 ? 1 : 10));
  }
}

function thaw(dir: string | undefined, file: string, value: string): void {
  if (dir && existsSync(join(dir, file))) write(join(dir, file), value);
}

/** cgroup v1: a directory per controller. */
export class CgroupV1Driver implements CgroupDriver {
  readonly version = 1 as const;
  constructor(readonly root = '/sys/fs/cgroup') {}

  private controllers(): string[] {
    return ['memory', 'cpu', 'cpuacct', 'pids', 'devices', 'freezer'].filter((c) =>
      existsSync(join(this.root, c)),
    );
  }

  private dirsFor(id: string): Record<string, string> {
    return Object.fromEntries(this.controllers().map((c) => [c, join(this.root, c, PARENT, id)]));
  }

  create(id: string, limits: Limits): Cgroup {
    const dirs = this.dirsFor(id);
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
    const mem = dirs.memory;
    if (mem && limits.memory) {
      write(join(mem, 'memory.limit_in_bytes'), limits.memory);
      const memsw = join(mem, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) write(memsw, limits.memory); // no swap beyond the limit
      write(join(mem, 'memory.swappiness'), 0);
    }
    const cpu = dirs.cpu;
    if (cpu && limits.cpuPeriod) write(join(cpu, 'cpu.cfs_period_us'), limits.cpuPeriod);
    if (cpu && limits.cpuQuota) write(join(cpu, 'cpu.cfs_quota_us'), limits.cpuQuota);
    if (cpu && limits.cpuShares) write(join(cpu, 'cpu.shares'), limits.cpuShares);
    if (dirs.pids && limits.pids) write(join(dirs.pids, 'pids.max'), limits.pids);
    if (dirs.devices) {
      write(join(dirs.devices, 'devices.deny'), 'a');
      for (const rule of DEVICE_ALLOW) write(join(dirs.devices, 'devices.allow'), rule);
    }
    return this.handle(dirs);
  }

  open(id: string): Cgroup {
    return this.handle(this.dirsFor(id));
  }

  private handle(dirs: Record<string, string>): Cgroup {
    const list = Object.values(dirs);
    return {
      version: 1,
      dirs: list,
      oomKilled: () => {
        const m = /oom_kill (\d+)/.exec(
          readOr(join(dirs.memory ?? '/nonexistent', 'memory.oom_control')),
        );
        return !!m && Number(m[1]) > 0;
      },
      pids: () => (dirs.pids ? readPids(dirs.pids) : []),
      remove: () => removeDirs(list),
      freeze: () =>
        setFrozen(
          dirs.freezer,
          'freezer.state',
          'FROZEN',
          () => readOr(join(dirs.freezer!, 'freezer.state')).trim() === 'FROZEN',
        ),
      thaw: () => thaw(dirs.freezer, 'freezer.state', 'THAWED'),
    };
  }
}

/** cgroup v2: one unified directory. */
export class CgroupV2Driver implements CgroupDriver {
  readonly version = 2 as const;
  constructor(readonly root = '/sys/fs/cgroup') {}

  private enable(dir: string): void {
    const available = readOr(join(dir, 'cgroup.controllers')).split(/\s+/);
    const want = ['memory', 'cpu', 'pids'].filter((c) => available.includes(c));
    if (want.length) write(join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
  }

  create(id: string, limits: Limits): Cgroup {
    const parent = join(this.root, PARENT);
    const dir = join(parent, id);
    mkdirSync(parent, { recursive: true });
    this.enable(this.root);
    this.enable(parent);
    const enabled = readOr(join(parent, 'cgroup.subtree_control'))
      .split(/\s+/)
      .map((c) => c.replace(/^\+/, ''));
    const needed = [
      limits.memory ? 'memory' : '',
      limits.cpuQuota || limits.cpuPeriod || limits.cpuShares ? 'cpu' : '',
      limits.pids ? 'pids' : '',
    ].filter((c) => c && !enabled.includes(c));
    if (needed.length) {
      throw new TsdockError(
        `cgroup v2 controller(s) ${needed.join(', ')} not available under ${this.root}`,
        'the limit cannot be enforced; enable the controller or drop the limit flag',
      );
    }
    mkdirSync(dir, { recursive: true });
    if (limits.memory) {
      write(join(dir, 'memory.max'), limits.memory);
      if (existsSync(join(dir, 'memory.swap.max'))) write(join(dir, 'memory.swap.max'), 0);
    }
    if (limits.cpuQuota || limits.cpuPeriod) {
      write(join(dir, 'cpu.max'), `${limits.cpuQuota ?? 'max'} ${limits.cpuPeriod ?? 100000}`);
    }
    if (limits.cpuShares) write(join(dir, 'cpu.weight'), sharesToWeight(limits.cpuShares));
    if (limits.pids) write(join(dir, 'pids.max'), limits.pids);
    return this.open(id);
  }

  open(id: string): Cgroup {
    const dir = join(this.root, PARENT, id);
    return {
      version: 2,
      dirs: [dir],
      oomKilled: () => {
        const m = /oom_kill (\d+)/.exec(readOr(join(dir, 'memory.events')));
        return !!m && Number(m[1]) > 0;
      },
      pids: () => readPids(dir),
      remove: () => removeDirs([dir]),
      freeze: () =>
        setFrozen(dir, 'cgroup.freeze', '1', () =>
          /^frozen 1$/m.test(readOr(join(dir, 'cgroup.events'))),
        ),
      thaw: () => thaw(dir, 'cgroup.freeze', '0'),
    };
  }
}

/** cpu.shares (2..262144) -> cpu.weight (1..10000), the conversion runc uses. */
export function sharesToWeight(shares: number): number {
  return Math.max(1, Math.min(10000, 1 + Math.floor(((shares - 2) * 9999) / 262142)));
}

/** v2 when /sys/fs/cgroup itself is cgroup2 (cgroup.controllers there); v1 otherwise. */
export function detectCgroupVersion(root = '/sys/fs/cgroup'): 1 | 2 {
  const forced = process.env.TSDOCK_CGROUP_VERSION;
  if (forced === '1' || forced === '2') return Number(forced) as 1 | 2;
  return existsSync(join(root, 'cgroup.controllers')) ? 2 : 1;
}
