// Layer writer: determinism (same tree, different mtimes under SOURCE_DATE_EPOCH -> same
// digests), round trip through our extractor, and GNU tar as an independent reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  writeLayerFromDir,
  writeLayerFromEntries,
  type LayerResult,
} from '../../shared/tar/layer-writer.js';
import { extractLayer } from '../../shared/tar/extract.js';
import { MediaType } from '../../shared/media-types.js';

const isRoot = process.getuid?.() === 0;
const LONG = `long-${'x'.repeat(120)}/${'y'.repeat(90)}/file-with-a-very-long-name-${'z'.repeat(80)}`;

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tsdock-tarw-'));
}

async function makeTree(dir: string, mtime: number): Promise<void> {
  await mkdir(join(dir, 'app/sub'), { recursive: true });
  await mkdir(join(dir, 'empty'));
  await writeFile(join(dir, 'app/hello.txt'), 'hello\n');
  await writeFile(join(dir, 'app/sub/big.bin'), Buffer.alloc(300_000, 7));
  await writeFile(join(dir, 'app/run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(dir, 'app/run.sh'), 0o4755);
  await link(join(dir, 'app/hello.txt'), join(dir, 'app/sub/hard.txt'));
  await symlink('../hello.txt', join(dir, 'app/sub/soft'));
  await symlink('/nonexistent/abs', join(dir, 'dangling'));
  await writeFile(join(dir, 'héllo wörld'), 'utf8 name');
  await mkdir(join(dir, LONG.slice(0, LONG.lastIndexOf('/'))), { recursive: true });
  await writeFile(join(dir, LONG), 'long');
  if (isRoot) await chown(join(dir, 'app/hello.txt'), 1234, 5678);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await touchAll(dir, mtime);
}

async function touchAll(dir: string, t: number): Promise<void> {
  for (const name of await readdir(dir, { recursive: true })) {
    const p = join(dir, name);
    if (!(await lstat(p)).isSymbolicLink()) await utimes(p, t, t);
  }
}

async function writeTo(file: string, dir: string, opts = {}): Promise<LayerResult> {
  return writeLayerFromDir(dir, createWriteStream(file), opts);
}

test('same tree with different mtimes gives the same digests under SOURCE_DATE_EPOCH', async () => {
  const base = await tmp();
  try {
    await makeTree(join(base, 'a'), 1_700_000_000);
    await makeTree(join(base, 'b'), 1_750_000_000);
    const opts = { sourceDateEpoch: 1_600_000_000 };
    const ra = await writeTo(join(base, 'a.tgz'), join(base, 'a'), opts);
    const rb = await writeTo(join(base, 'b.tgz'), join(base, 'b'), opts);
    assert.equal(ra.digest, rb.digest);
    assert.equal(ra.diffId, rb.diffId);
    assert.equal(ra.mediaType, MediaType.OciLayerGzip);
    // Without the clamp, the mtimes show.
    const rc = await writeTo(join(base, 'c.tgz'), join(base, 'b'));
    assert.notEqual(rc.diffId, ra.diffId);
    // Digest and diffId describe the bytes written.
    const blob = await readFile(join(base, 'a.tgz'));
    assert.equal(ra.size, blob.length);
    assert.equal(ra.digest, `sha256:${createHash('sha256').update(blob).digest('hex')}`);
    const tar = gunzipSync(blob);
    assert.equal(ra.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('GNU tar reads our layer: order, modes, numeric owners, links, long names', async () => {
  const base = await tmp();
  try {
    await makeTree(join(base, 'src'), 1_700_000_000);
    await writeTo(join(base, 'l.tgz'), join(base, 'src'), { sourceDateEpoch: 1_600_000_000 });
    execFileSync('gzip', ['-t', join(base, 'l.tgz')]);
    const out = execFileSync('tar', ['--numeric-owner', '-tzvf', join(base, 'l.tgz')], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' },
    });
    const lines = out.trim().split('\n');
    const names = lines.map((l) => l.split(/\s+/).slice(5).join(' '));
    const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(names, sorted, 'entries are sorted bytewise');
    const line = (n: string) => lines.find((l) => l.endsWith(` ${n}`) || l.includes(` ${n} `))!;
    const me = `${process.getuid!()}/${process.getgid!()}`;
    assert.ok(line('app/run.sh').startsWith(`-rwsr-xr-x ${me} `), line('app/run.sh'));
    if (isRoot) assert.match(line('app/hello.txt'), /^-rw-r--r-- 1234\/5678 /);
    assert.match(line('app/sub/hard.txt'), /^h.* app\/sub\/hard.txt link to app\/hello.txt$/);
    assert.match(line('app/sub/soft'), /^l.* app\/sub\/soft -> \.\.\/hello.txt$/);
    assert.match(line('fifo'), /^p/);
    assert.match(line('app/'), /^d.* 2020-09-13 12:26 app\/$/);
    assert.ok(names.includes(LONG), 'long name read through PAX');
    assert.ok(names.includes('héllo wörld'), 'utf8 name read through PAX');
    assert.ok(!names.some((n) => n.includes('PaxHeaders')), 'PAX records are not entries');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('round trip: write a tree, extract it, get the same tree', async () => {
  const base = await tmp();
  try {
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    await makeTree(src, 1_700_000_000);
    const w = await writeTo(join(base, 'l.tgz'), src);
    const x = await extractLayer(createReadStream(join(base, 'l.tgz')), dst);
    assert.equal(x.diffId, w.diffId);
    assert.deepEqual(await describe(dst), await describe(src));
    const [h1, h2] = await Promise.all([
      lstat(join(dst, 'app/hello.txt')),
      lstat(join(dst, 'app/sub/hard.txt')),
    ]);
    assert.equal(h1.ino, h2.ino, 'hardlink kept');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('entries, prefix, owners and uncompressed output', async () => {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) });
  const r = await writeLayerFromEntries(
    [
      { path: 'b.txt', type: 'file', mode: 0o600, uid: 5, gid: 6, source: Buffer.from('B') },
      { path: '/a', type: 'dir', mode: 0o755, uid: 5, gid: 6, mtime: 99 },
      { path: 'a/l', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: '/etc/x' },
    ],
    sink,
    { compression: 'none', prefix: 'srv/app', normalizeOwners: true },
  );
  const tar = Buffer.concat(chunks);
  assert.equal(r.mediaType, MediaType.OciLayer);
  assert.equal(r.digest, r.diffId);
  assert.equal(r.size, tar.length);
  const base = await tmp();
  try {
    await writeFile(join(base, 'l.tar'), tar);
    const out = execFileSync('tar', ['--numeric-owner', '-tvf', join(base, 'l.tar')], {
      encoding: 'utf8',
    });
    const names = out
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(5).join(' '));
    assert.deepEqual(names, ['srv/', 'srv/app/a/', 'srv/app/a/l -> /etc/x', 'srv/app/b.txt']);
    assert.ok(!/ 5\/6 /.test(out), 'owners normalised');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

/** Type, mode, owner, mtime, link target and content of every path (dir mtimes included). */
async function describe(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(root, { recursive: true })).sort()) {
    const p = join(root, name);
    const st = await lstat(p);
    let extra = '';
    if (st.isSymbolicLink()) extra = await readlink(p);
    else if (st.isFile())
      extra = createHash('sha256')
        .update(await readFile(p))
        .digest('hex');
    const mtime = st.isSymbolicLink() ? '' : String(Math.floor(st.mtimeMs / 1000));
    out[name] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${mtime} ${extra}`;
  }
  return out;
}
