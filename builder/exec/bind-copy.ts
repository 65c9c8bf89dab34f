// `RUN --mount=type=bind,rw`: the command may write to the mount, but never to the host path
// behind it (the build context, a stage's or image's view shared by the whole build). As in
// BuildKit, where the bind is over a copy-on-write snapshot and writes are discarded, the
// source is copied (reflinked where the filesystem can) into a temp dir the RUN owns; the
// copy goes when the RUN ends. Read-only binds (the default) need no copy.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { trackTemp } from './interrupt.js';

const run = promisify(execFile);

/** A private copy of `source` (a file or a directory tree, owners, modes and links kept). */
export async function writableCopy(source: string, tmpRoot: string, temps: string[]) {
  const dir = trackTemp(await mkdtemp(join(tmpRoot, 'bind-')));
  temps.push(dir);
  const copy = join(dir, 'src');
  // -a: no symlink is followed, owners/modes/times/hard links kept; never writes to source.
  await run('cp', ['-a', '--reflink=auto', '--', source, copy]);
  return copy;
}
