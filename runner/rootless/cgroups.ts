// cgroups for a rootless user. With cgroup v2 and a delegated subtree (systemd's
// user@UID.service: the directory above our own cgroup is ours to write, with memory and pids
// controllers) containers get `tsdock/<id>` below it and limits work as for root. Otherwise (cgroup
// v1, as on these machines, or no delegation) there is nothing a user may limit: containers run
// in the caller's cgroup, and -m/--cpus/--pids-limit are dropped with a one-line warning
// (podman's behaviour) instead of failing.
import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CgroupV2Driver, detectCgroupVersion, type Cgroup, type CgroupDriver } from '../cgroups.js';
import type { Limits } from '../spec.js';

/** A driver that limits nothing (no cgroup of our own: the caller's is kept). */
class NoCgroupDriver implements CgroupDriver {
  readonly version = 1 as const;
  readonly enforcesLimits = false;
  create(): Cgroup {
    return this.open();
  }
  open(): Cgroup {
    return {
      version: 1,
      dirs: [],
      oomKilled: () => false,
      pids: () => [],
      remove: () => {},
      freeze: () => Promise.resolve(),
      thaw: () => {},
    };
  }
}

/** The delegated v2 directory a user may make cgroups in, if any. */
export function delegatedCgroupDir(root: string): string | undefined {
  if (detectCgroupVersion(root) !== 2) return undefined;
  let own: string | undefined;
  try {
    own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
  if (!own || own === '/') return undefined;
  const dir = dirname(join(root, own));
  try {
    accessSync(join(dir, 'cgroup.subtree_control'), constants.W_OK);
    const controllers = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (!controllers.includes('memory') || !controllers.includes('pids')) return undefined;
  } catch {
    return undefined;
  }
  return dir;
}

export function rootlessCgroupDriver(root: string): CgroupDriver & { enforcesLimits: boolean } {
  const dir = delegatedCgroupDir(root);
  if (dir) return Object.assign(new CgroupV2Driver(dir), { enforcesLimits: true });
  return new NoCgroupDriver();
}

/** The one-line warning for limits a rootless run cannot enforce ('' when none were asked). */
export function unenforcedLimitsWarning(limits: Limits, tool: string): string {
  const flags = [
    limits.memory ? '--memory' : '',
    limits.cpuQuota || limits.cpuPeriod ? '--cpus/--cpu-quota' : '',
    limits.cpuShares ? '--cpu-shares' : '',
    limits.pids ? '--pids-limit' : '',
  ].filter(Boolean);
  if (!flags.length) return '';
  return (
    `${tool}: warning: ${flags.join(', ')} ignored: rootless containers get resource limits only ` +
    'with cgroup v2 and a delegated cgroup (systemd user session); running without limits\n'
  );
}
