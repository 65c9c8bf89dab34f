// Permissions of the state root: nothing a container or a layer made (setuid binaries, device
// nodes) may be reachable by other host users. As /var/lib/docker (0710) and its overlay2
// (0710): the root is 0711 (others may pass through, not list), and every directory that
// holds container or layer trees is 0700. Applied when a command first touches the root, and
// to roots made before this rule (chmod when the mode is looser).
//
//   $TSDOCK_ROOT 0711 ── containers/ layers/ volumes/ tmp/ build-cache/  0700
//   $TSDOCK_RUNTIME (/run/tsdock)  0700
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tsdockRoot } from './paths.js';
import { TsdockError } from './errors.js';

const ROOT_MODE = 0o711;
const PRIVATE_MODE = 0o700;
/** Directories under the root that hold container or layer trees. */
const PRIVATE_DIRS = ['containers', 'layers', 'volumes', 'tmp', 'build-cache'];

const done = new Set<string>();

/** Creates or tightens the state root and its tree-holding directories (once per process). */
export function secureStateDirs(root = tsdockRoot()): void {
  if (done.has(root)) return;
  ensureMode(root, ROOT_MODE);
  for (const d of PRIVATE_DIRS) ensureMode(join(root, d), PRIVATE_MODE);
  done.add(root);
}

/** A private directory (0700) such as the runtime root, created or tightened. */
export function securePrivateDir(dir: string): void {
  if (done.has(dir)) return;
  ensureMode(dir, PRIVATE_MODE);
  done.add(dir);
}

/**
 * mkdir with `mode` (parents as usual), or chmod an existing one with other bits. A directory
 * that is not ours or is sticky (TSDOCK_ROOT=/tmp, say) is left as it is: the 0700 directories
 * below it still fence the trees.
 */
function ensureMode(dir: string, mode: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode });
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new TsdockError(`${dir} is not a directory`, 'move it away');
    const shared = st.mode & 0o1000 || st.uid !== process.getuid?.();
    if ((st.mode & 0o7777) !== mode && !shared) chmodSync(dir, mode); // umask, or older tsdock
  } catch (err) {
    if (err instanceof TsdockError) throw err;
    throw new TsdockError(
      `cannot secure the state directory ${dir}`,
      `${(err as Error).message}; check TSDOCK_ROOT`,
    );
  }
}
