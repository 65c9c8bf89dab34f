// Picks the cgroup driver for this machine once: v1 or v2 (runner/cgroups.ts), or for a rootless
// user a delegated v2 subtree or none (runner/rootless/cgroups.ts).
import {
  CgroupV1Driver,
  CgroupV2Driver,
  detectCgroupVersion,
  type CgroupDriver,
} from './cgroups.js';
import { isRootless } from '../shared/rootless-env.js';
import { rootlessCgroupDriver } from './rootless/cgroups.js';

let cached: CgroupDriver | undefined;
/** The driver for this machine (TSDOCK_CGROUP_VERSION / TSDOCK_CGROUP_ROOT override, e.g. to
 * use the v2 mount of a hybrid host: 2 and /sys/fs/cgroup/unified). */
export function cgroupDriver(): CgroupDriver {
  const root = process.env.TSDOCK_CGROUP_ROOT ?? '/sys/fs/cgroup';
  // rootless hook: a delegated v2 subtree, or no cgroup at all (runner/rootless/cgroups.ts)
  if (!cached && isRootless()) cached = rootlessCgroupDriver(root);
  cached ??= detectCgroupVersion(root) === 2 ? new CgroupV2Driver(root) : new CgroupV1Driver(root);
  return cached;
}
