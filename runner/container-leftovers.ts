// What a container holds on the host besides its record, and how to let all of it go when its
// supervisor died without doing so (kill -9 of a foreground tsrun, a crashed monitor): the
// cgroup directories in every hierarchy (v1 controllers and any v2 tree, whichever driver made
// them), the runtime dir on tmpfs, the bridge address reservation and the name link.
//
// Ownership: the process that creates a container writes `<runtime dir>/owner` ("pid
// starttime", tmpfs: cheap) before anything else exists; the detached monitor takes it over.
// The owner is always the container's creator or supervisor, so a dead owner means nobody will
// ever finish or clean up that container. Likewise tscommit writes `frozen-by` while it holds a
// container frozen: if it dies there, the next command thaws the container.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** "pid starttime" of a live process (starttime tells a reused pid apart), else undefined. */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return `${pid} ${fields[19]}`; // field 22 of proc(5): starttime
  } catch {
    return undefined;
  }
}

/**
 * Records this process as the owner of container `runDir` (made 0700 if missing); `file` is
 * 'owner', or 'frozen-by' while tscommit holds the container frozen.
 */
export function claimOwnership(runDir: string, file = 'owner'): void {
  const me = processIdentity(process.pid) ?? String(process.pid);
  if (existsSync(runDir)) {
    writeFileSync(join(runDir, file), me);
    return;
  }
  // the dir appears with its owner file in it (a kill in between leaves `.new-<id>-<pid>`)
  const cut = runDir.lastIndexOf('/');
  const fresh = `${runDir.slice(0, cut)}/.new-${runDir.slice(cut + 1)}-${process.pid}`;
  mkdirSync(fresh, { recursive: true, mode: 0o700 });
  writeFileSync(join(fresh, file), me);
  renameSync(fresh, runDir);
}

/** For a `.new-<id>-<pid>` entry of the runtime root: whether its creator is gone. */
export function abandonedClaim(name: string): boolean {
  const m = /^\.new-[0-9a-f]+-(\d+)$/.exec(name);
  return !!m && processIdentity(Number(m[1])) === undefined;
}

/** 'alive', 'dead', or 'unknown' (no such file: made by an older tsdock, or already gone). */
export function ownerState(runDir: string, file = 'owner'): 'alive' | 'dead' | 'unknown' {
  let owner: string;
  try {
    owner = readFileSync(join(runDir, file), 'utf8').trim();
  } catch {
    return 'unknown';
  }
  const pid = Number(owner.split(' ')[0]);
  return Number.isInteger(pid) && pid > 0 && processIdentity(pid) === owner ? 'alive' : 'dead';
}

/** Symlinks in `dir` pointing at `id` (name and address reservations) are removed. */
export function unlinkReservations(dir: string, id: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    try {
      if (readlinkSync(join(dir, n)) === id) unlinkSync(join(dir, n));
    } catch {
      /* gone meanwhile, or not a link */
    }
  }
}

/** Every cgroup directory `tsdock/<id>` under any v1 hierarchy or v2 tree on this host. */
export function cgroupDirsEverywhere(id: string): string[] {
  const roots = new Set(
    [process.env.TSDOCK_CGROUP_ROOT, '/sys/fs/cgroup', '/sys/fs/cgroup/unified'].filter(
      (r): r is string => !!r,
    ),
  );
  const dirs = new Set<string>();
  for (const root of roots) {
    dirs.add(join(root, 'tsdock', id)); // a v2 tree
    if (existsSync(join(root, 'cgroup.controllers'))) continue;
    let hierarchies: string[] = [];
    try {
      hierarchies = readdirSync(root);
    } catch {
      continue;
    }
    for (const h of hierarchies) dirs.add(join(root, h, 'tsdock', id));
  }
  return [...dirs].filter((d) => existsSync(d));
}

/** Thaws container `id` in every freezer (v1 freezer.state, v2 cgroup.freeze). */
export function thawEverywhere(id: string): void {
  for (const dir of cgroupDirsEverywhere(id)) {
    for (const [file, value] of [
      ['freezer.state', 'THAWED'],
      ['cgroup.freeze', '0'],
    ] as const) {
      if (existsSync(join(dir, file))) writeFileSync(join(dir, file), value);
    }
  }
}
