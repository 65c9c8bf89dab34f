// Rootless mode's user namespace: one per user, kept by a pause process (podman's design),
// joined by every sandbox helper (`--userns /proc/PID/ns/user`) and by commands that must act
// as root over the user's files (`reexecInUserns`: tsbuild, tscommit, tsrm, first runs that
// unpack layers). The pause process is made on first use: `sandbox pause` unshares, tsdock
// writes the mapping with newuidmap/newgidmap (Debian `uidmap`; the user as root, its
// /etc/subuid and /etc/subgid ranges as 1..N) or, with no ranges, a single-id mapping itself,
// then lets it detach. Its identity (pid and start time) is kept in $TSDOCK_ROOT/rootless-pause;
// two commands racing to make it keep whichever recorded itself first.
import { spawn, spawnSync } from 'node:child_process';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { TsdockError } from '../../shared/errors.js';
import { nativeBinary } from '../../shared/native.js';
import { configDir, runtimeRoot, tsdockRoot } from '../../shared/paths.js';
import { inRootlessNamespace, isRootless } from '../../shared/rootless-env.js';
import { processIdentity } from '../container-leftovers.js';
import { mapArgs, namespaceMap, subordinateRanges, type IdRange } from './id-maps.js';

export { inRootlessNamespace, isRootless };

function pauseFile(): string {
  return join(tsdockRoot(), 'rootless-pause');
}

/** The pause process's user namespace when it is alive (same pid and start time). */
function livePause(): string | undefined {
  let recorded: string;
  try {
    recorded = readFileSync(pauseFile(), 'utf8').trim();
  } catch {
    return undefined;
  }
  const pid = Number(recorded.split(' ')[0]);
  if (!(pid > 0) || processIdentity(pid) !== recorded) return undefined;
  return `/proc/${pid}/ns/user`;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The uid and gid mappings this user gets. */
export function userMaps(): { uid: IdRange[]; gid: IdRange[] } {
  const { uid, gid, username } = userInfo();
  return {
    uid: namespaceMap(uid, subordinateRanges(readText('/etc/subuid'), username, uid)),
    gid: namespaceMap(gid, subordinateRanges(readText('/etc/subgid'), username, uid)),
  };
}

function writeMaps(pid: number): void {
  const maps = userMaps();
  if (maps.uid.length === 1 || maps.gid.length === 1) {
    // no ranges: the user alone (an unprivileged process may map its own id, setgroups denied)
    writeFileSync(`/proc/${pid}/uid_map`, `0 ${maps.uid[0]!.outside} 1\n`);
    writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    writeFileSync(`/proc/${pid}/gid_map`, `0 ${maps.gid[0]!.outside} 1\n`);
    return;
  }
  for (const [tool, map] of [
    ['newuidmap', maps.uid],
    ['newgidmap', maps.gid],
  ] as const) {
    const r = spawnSync(tool, [String(pid), ...mapArgs(map)], { encoding: 'utf8' });
    if (r.error)
      throw new TsdockError(
        `rootless mode needs ${tool} for the /etc/subuid ranges of ${userInfo().username}`,
        'apt-get install uidmap',
      );
    if (r.status !== 0)
      throw new TsdockError(
        `${tool} failed: ${r.stderr.trim().split('\n')[0]}`,
        'check /etc/subuid and /etc/subgid for this user, or remove its ranges for a single-id mapping',
      );
  }
}

/** Starts a pause process and maps it; returns its identity ("pid starttime"). */
async function startPause(): Promise<string> {
  const child = spawn(nativeBinary('sandbox'), ['pause'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const ready = await new Promise<boolean>((resolve) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready\n')) resolve(true);
    });
    child.once('close', () => resolve(false));
    child.once('error', () => resolve(false));
  });
  if (!ready)
    throw new TsdockError(err.trim().replace(/^sandbox: /, '') || 'rootless: pause failed');
  try {
    writeMaps(child.pid!);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  child.stdin!.end('go');
  child.stdout!.destroy();
  child.stderr!.destroy();
  child.unref();
  const identity = processIdentity(child.pid!);
  if (!identity) throw new TsdockError(`rootless: the pause process died: ${err.trim()}`);
  return identity;
}

/** The user's namespace (made when missing): the path the helper's --userns takes. */
export async function rootlessUserns(): Promise<string> {
  const live = livePause();
  if (live) return live;
  const { secureStateDirs } = await import('../../shared/state-dirs.js');
  secureStateDirs();
  const identity = await startPause();
  const file = pauseFile();
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, identity);
  try {
    linkSync(tmp, file); // first to record itself wins
  } catch {
    const other = livePause();
    if (other) {
      rmSync(tmp, { force: true });
      process.kill(Number(identity.split(' ')[0]), 'SIGKILL');
      return other;
    }
    renameSync(tmp, file); // the recorded one is gone
    return `/proc/${identity.split(' ')[0]}/ns/user`;
  }
  rmSync(tmp, { force: true });
  return `/proc/${identity.split(' ')[0]}/ns/user`;
}

/** --userns for a sandbox helper started from this process (none for root, in the ns too). */
export async function helperUserns(): Promise<string | undefined> {
  return process.getuid?.() === 0 ? undefined : rootlessUserns();
}

/**
 * Runs this very command again as root of the user's namespace, with the same state
 * directories, and exits with its code (signals forwarded). For root, or when already there,
 * returns at once.
 */
export async function reexecInUserns(): Promise<void> {
  if (process.getuid?.() === 0) return;
  const ns = await rootlessUserns();
  const env = {
    ...process.env,
    TSDOCK_ROOT: tsdockRoot(),
    TSDOCK_RUNTIME: runtimeRoot(),
    TSDOCK_CONFIG: configDir(),
    TSDOCK_ROOTLESS_UID: String(process.getuid?.()),
  };
  const argv = [...process.execArgv, ...process.argv.slice(1)];
  const child = spawn(
    nativeBinary('sandbox'),
    ['userns-exec', '--userns', ns, '--', process.execPath, ...argv],
    { stdio: 'inherit', env },
  );
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const)
    process.on(sig, () => child.kill(sig));
  const code = await new Promise<number>((resolve) => {
    child.once('error', () => resolve(125));
    child.once('close', (c, s) => resolve(c ?? (s === 'SIGKILL' ? 137 : 143)));
  });
  process.exit(code);
}

/** Removes a tree whose files may belong to the user's subordinate ids (rm -rf as ns root). */
export async function removeAsNamespaceRoot(path: string): Promise<void> {
  const ns = await rootlessUserns();
  const r = spawnSync(
    nativeBinary('sandbox'),
    ['userns-exec', '--userns', ns, '--', 'rm', '-rf', '--', path],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new TsdockError(`cannot remove ${path}: ${r.stderr.trim()}`);
}
