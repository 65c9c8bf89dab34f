// The builder's view of the image being built (unpacked layer dirs) and the parent entries it
// gives layers: symlinks resolve inside the image and never on the host, whiteouts and
// shadowing non-directories hide lower layers, and parents carry the image's own metadata.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootfsView } from '../../builder/exec/rootfs-view.js';
import { withParents } from '../../builder/exec/layer-parents.js';

let dir: string;
let lower: string;
let upper: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'builder-view-'));
  lower = join(dir, 'lower');
  upper = join(dir, 'upper');
  await mkdir(join(lower, 'real/d'), { recursive: true });
  await mkdir(join(lower, 'data'), { recursive: true });
  await writeFile(join(lower, 'real/d/f'), 'f');
  await symlink('/real', join(lower, 'lnk'));
  await symlink('d', join(lower, 'real/rel'));
  await symlink('../../../../..', join(lower, 'real/up'));
  await symlink('/etc', join(lower, 'hostetc')); // a host path if it were followed on the host
  await mkdir(join(lower, 'shadowed'));
  await writeFile(join(lower, 'shadowed/x'), 'x');
  await mkdir(upper);
  await writeFile(join(upper, 'shadowed'), 'now a file');
  await chmod(join(lower, 'data'), 0o700);
  if (process.getuid?.() === 0) await chown(join(lower, 'data'), 65534, 0);
  await utimes(join(lower, 'data'), 1_000_000_000, 1_000_000_000);
  await utimes(join(lower, 'real'), 1_000_000_000, 1_000_000_000);
});
after(() => rm(dir, { recursive: true, force: true }));

test('symlinks resolve inside the image: absolute, relative, never above its root', async () => {
  const view = new RootfsView([lower, upper]);
  assert.equal(await view.resolve('/lnk/sub'), '/real/sub');
  assert.equal(await view.resolve('/lnk/rel/f'), '/real/d/f');
  assert.equal(await view.resolve('/lnk/rel', false), '/real/rel');
  assert.equal(await view.resolve('/real/up/etc'), '/etc');
  assert.equal(await view.resolveDest('/lnk/rel'), '/real/d', 'a link to a dir is followed');
  assert.equal(await view.resolveDest('/lnk/new'), '/real/new');
  assert.equal(await view.isDir('/lnk'), true);
});

test('the host is never reached through a symlink of the image', async () => {
  assert.ok(existsSync('/etc/passwd'));
  const view = new RootfsView([lower, upper]);
  assert.equal(await view.stat('/hostetc/passwd'), undefined);
  assert.equal(await view.readText('/hostetc/passwd'), undefined);
  assert.equal(await view.exists('/hostetc/passwd'), false);
});

test('an upper non-directory hides what the lower layers have beneath it', async () => {
  const view = new RootfsView([lower, upper]);
  assert.equal(await view.exists('/shadowed/x'), false);
  assert.equal((await view.stat('/shadowed'))?.isFile(), true);
  assert.equal(await new RootfsView([lower]).exists('/shadowed/x'), true);
});

test('parents: existing ones keep their metadata, missing ones are made; build time where changed', async () => {
  const view = new RootfsView([lower, upper]);
  const now = 1_700_000_000;
  const file = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 5 };
  const entries = await withParents(
    [
      { ...file, path: 'data/f' },
      { ...file, path: 'real/new/deep/g' },
    ],
    { stat: (p) => view.stat(p), now },
  );
  const by = new Map(entries.map((e) => [e.path, e]));
  const data = by.get('data')!;
  assert.equal(data.mode, 0o700);
  if (process.getuid?.() === 0) assert.equal(data.uid, 65534);
  assert.equal(data.mtime, now, 'data gains an entry');
  assert.equal(by.get('real')?.mtime, now, 'real gains the created dir new');
  assert.deepEqual(
    ['real/new', 'real/new/deep'].map((p) => [by.get(p)?.mode, by.get(p)?.uid, by.get(p)?.mtime]),
    [
      [0o755, 0, now],
      [0o755, 0, now],
    ],
  );
  const through = await withParents([{ ...file, path: 'lnk/x' }], {
    stat: (p) => view.stat(p),
    now,
  });
  assert.deepEqual(
    through.map((e) => e.path),
    ['lnk/x'],
    'a symlink on the way is never replaced by a dir entry',
  );
});
