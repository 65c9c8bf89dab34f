// Reading a tree that changes under us (tscommit of a running container, build contexts): a
// file or a parent directory swapped for a symlink to a host file between the walk and the
// read must never bring the host file's bytes into the layer; it is an error (ChangedError)
// or, when asked, left out. Deterministic: the swap happens between walkDir and writeEntries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { walkDir } from '../../shared/tar/dir-walk.js';
import { sortEntries, writeEntries } from '../../shared/tar/tar-writer.js';
import { ChangedError, SafeTree } from '../../shared/tar/safe-tree.js';
import { writeLayerFromEntries } from '../../shared/tar/layer-writer.js';

const SECRET = 'HOST-SECRET-7f3a9c';

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-saferead-'));
  const host = join(dir, 'host');
  const tree = join(dir, 'tree');
  await mkdir(host);
  await writeFile(join(host, 'f'), SECRET);
  await mkdir(join(tree, 'a'), { recursive: true });
  await writeFile(join(tree, 'a/f'), 'container data');
  return { dir, host, tree };
}

/** Writes walked entries uncompressed into memory. */
async function layerOf(entries: Awaited<ReturnType<typeof walkDir>>, skip = false) {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const skipped: string[] = [];
  await writeEntries(sortEntries(entries), out, {
    compression: 'none',
    changed: skip ? 'skip' : 'error',
    onSkip: (p) => skipped.push(p),
  });
  return { tar: Buffer.concat(chunks).toString('latin1'), skipped };
}

test('a file swapped for a symlink to a host file after the walk is not read', async () => {
  const { dir, host, tree } = await fixture();
  try {
    const entries = await walkDir(tree, { xattrs: false });
    await rm(join(tree, 'a/f'));
    await symlink(join(host, 'f'), join(tree, 'a/f'));
    await assert.rejects(layerOf(entries), ChangedError);
    const { tar, skipped } = await layerOf(entries, true);
    assert.ok(!tar.includes(SECRET));
    assert.deepEqual(skipped, ['a/f']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a parent directory swapped for a symlink to a host directory is not followed', async () => {
  const { dir, host, tree } = await fixture();
  try {
    const entries = await walkDir(tree, { xattrs: false });
    await rename(join(tree, 'a'), join(tree, 'a-moved'));
    await symlink(host, join(tree, 'a'));
    await assert.rejects(layerOf(entries), ChangedError);
    const { tar } = await layerOf(entries, true);
    assert.ok(!tar.includes(SECRET));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file replaced by another file (a different inode) is not read', async () => {
  const { dir, tree } = await fixture();
  try {
    const entries = await walkDir(tree, { xattrs: false });
    await writeFile(join(tree, 'a/g'), SECRET);
    await rename(join(tree, 'a/g'), join(tree, 'a/f'));
    await assert.rejects(layerOf(entries), ChangedError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the walk never lists a directory through a symlink swapped in for it', async () => {
  const { dir, host, tree } = await fixture();
  try {
    const safe = new SafeTree(tree);
    try {
      assert.equal(safe.statDir('a').isDirectory(), true);
      safe.dirFd(''); // drop the cached fd of a, as a new walk would
      await rename(join(tree, 'a'), join(tree, 'a-moved'));
      await symlink(host, join(tree, 'a'));
      assert.throws(() => safe.list('a'), ChangedError);
      assert.equal(safe.lstat('a').isSymbolicLink(), true);
    } finally {
      safe.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an entry whose source path is a symlink is refused (COPY sources without a root)', async () => {
  const { dir, host, tree } = await fixture();
  try {
    await symlink(join(host, 'f'), join(tree, 'link'));
    const entry = { path: 'x', type: 'file' as const, mode: 0o644, uid: 0, gid: 0 };
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await assert.rejects(
      writeLayerFromEntries([{ ...entry, source: join(tree, 'link') }], sink),
      ChangedError,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
