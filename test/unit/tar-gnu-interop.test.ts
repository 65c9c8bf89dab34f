// Layers written by GNU tar (gnu and posix formats: GNU long-name records, PAX paths with
// fractional times, SCHILY.xattr) extract through ours to the same tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractLayer } from '../../shared/tar/extract.js';
import { FsOps } from '../../shared/tar/fsops.js';

const isRoot = process.getuid?.() === 0;
const CAP = Buffer.from('0000000202000000000000000000000000000000', 'hex');
const LONG = `${'d'.repeat(110)}/${'f'.repeat(130)}`;

async function tree(dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, LONG.split('/')[0]!));
  await writeFile(join(dir, LONG), 'long');
  await writeFile(join(dir, 'bin/ping'), 'elf');
  await chmod(join(dir, 'bin/ping'), 0o4711);
  await link(join(dir, 'bin/ping'), join(dir, 'bin/ping6'));
  await symlink(`../${LONG}`, join(dir, 'bin/long-link'));
  await writeFile(join(dir, 'ünï'), 'u');
  if (isRoot) {
    const ops = new FsOps(dir);
    await ops.setXattr('bin/ping', 'security.capability', CAP).finally(() => ops.close());
  }
}

async function describe(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(root, { recursive: true })).sort()) {
    const p = join(root, name);
    const st = await lstat(p);
    const extra = st.isSymbolicLink()
      ? await readlink(p)
      : st.isFile()
        ? (await readFile(p)).toString()
        : '';
    const mtime = st.isSymbolicLink() ? '' : Math.floor(st.mtimeMs / 1000);
    out[name] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.nlink} ${mtime} ${extra}`;
  }
  return out;
}

for (const format of ['gnu', 'posix']) {
  test(`GNU tar --format=${format} layers extract to the same tree`, async () => {
    const base = await mkdtemp(join(tmpdir(), 'tsdock-gnutar-'));
    try {
      const src = join(base, 'src');
      const dst = join(base, 'dst');
      await tree(src);
      const file = join(base, 'layer.tgz');
      const xattrArgs = format === 'posix' ? ['--xattrs', '--xattrs-include=*'] : [];
      execFileSync('tar', [`--format=${format}`, ...xattrArgs, '-czf', file, '-C', src, '.']);
      const res = await extractLayer(createReadStream(file), dst);
      assert.ok(res.entries >= 7);
      assert.deepEqual(await describe(dst), await describe(src));
      if (isRoot && format === 'posix') {
        const ops = new FsOps(dst);
        const xa = await ops.listXattrs('bin/ping').finally(() => ops.close());
        assert.ok(xa.get('security.capability')?.equals(CAP), 'capability restored');
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
}
