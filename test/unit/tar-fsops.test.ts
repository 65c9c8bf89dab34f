// The fsops native helper: FIFOs, user xattrs, no symlink following anywhere in a path,
// pipelined commands answered in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Errno, FsOps, FsOpsError } from '../../shared/tar/fsops.js';

async function withOps(fn: (ops: FsOps, root: string, outside: string) => Promise<void>) {
  const base = await mkdtemp(join(tmpdir(), 'tsdock-fsops-'));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'd'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'f'), 'x');
  await writeFile(join(outside, 'secret'), 's');
  await symlink(outside, join(root, 'out'));
  await symlink(join(outside, 'secret'), join(root, 'lnk'));
  const ops = new FsOps(root);
  try {
    await fn(ops, root, outside);
  } finally {
    await ops.close();
    await rm(base, { recursive: true, force: true });
  }
}

const errnoOf = (e: unknown) => (e instanceof FsOpsError ? e.errno : NaN);

test('mknod makes a FIFO with the exact mode', () =>
  withOps(async (ops, root) => {
    await ops.mknod('d/pipe', 'p', 0, 0, 0o640);
    const st = lstatSync(join(root, 'd/pipe'));
    assert.ok(st.isFIFO());
    assert.equal(st.mode & 0o7777, 0o640);
  }));

test('xattrs are set and listed byte-exact, pipelined in order', () =>
  withOps(async (ops) => {
    const value = Buffer.from([0, 1, 0xff, 0x0a, 0x20, 0x3d]);
    const results = await Promise.all([
      ops.setXattr('f', 'user.bin', value),
      ops.listXattrs('f'),
      ops.setXattr('d', 'user.dir', Buffer.from('y')),
      ops.listXattrs('d'),
    ]);
    assert.ok((results[1] as Map<string, Buffer>).get('user.bin')!.equals(value));
    assert.equal((results[3] as Map<string, Buffer>).get('user.dir')!.toString(), 'y');
  }));

test('no path is resolved through a symlink', () =>
  withOps(async (ops, _root, outside) => {
    await assert.rejects(ops.mknod('out/pwned', 'p', 0, 0, 0o644), (e) => {
      assert.ok([Errno.ELOOP, Errno.ENOTDIR].includes(errnoOf(e) as 40 | 20));
      return true;
    });
    await assert.rejects(ops.setXattr('out/secret', 'user.x', Buffer.from('1')));
    await assert.rejects(
      ops.mknod('../escape', 'p', 0, 0, 0o644),
      (e) => errnoOf(e) === Errno.EPERM,
    );
    // The final symlink itself is the target (user.* is not allowed on symlinks), never followed.
    await assert.rejects(ops.setXattr('lnk', 'user.x', Buffer.from('1')));
    const outsideOps = new FsOps(outside);
    const outsideXattrs = await outsideOps.listXattrs('secret').finally(() => outsideOps.close());
    assert.equal(outsideXattrs.size, 0);
    assert.equal(lstatSync(join(outside, 'secret')).isFile(), true);
    await assert.rejects(ops.listXattrs('missing'), (e) => errnoOf(e) === Errno.ENOENT);
  }));
