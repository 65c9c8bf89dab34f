// Tar header encoding/decoding: PAX for what ustar cannot hold, binary xattr values kept
// byte-exact, GNU base-256 numbers, and what GNU tar (an independent parser) reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { encodeHeader, padding, trailer, type TarHeader } from '../../shared/tar/tar-format.js';
import { readTar } from '../../shared/tar/tar-reader.js';

function archive(headers: TarHeader[], bodies: Buffer[] = []): Buffer {
  const parts: Buffer[] = [];
  headers.forEach((h, i) => {
    const body = bodies[i] ?? Buffer.alloc(0);
    parts.push(encodeHeader({ ...h, size: h.type === 'file' ? body.length : 0 }), body);
    parts.push(padding(body.length));
  });
  parts.push(trailer());
  return Buffer.concat(parts);
}

async function readBack(buf: Buffer): Promise<{ header: TarHeader; body: Buffer }[]> {
  const out = [];
  for await (const e of readTar(Readable.from([buf], { objectMode: false }))) {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c);
    out.push({ header: e.header, body: Buffer.concat(chunks) });
  }
  return out;
}

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_600_000_000 };

test('binary xattrs, big ids, long and non-ASCII names survive a round trip', async () => {
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0xff, 0x00, 0xc3, 0x28]);
  const longLink = `/${'l'.repeat(150)}`;
  const name = `dir/${'n'.repeat(200)}/ünïcode`;
  const tar = archive(
    [
      {
        ...base,
        path: name,
        type: 'file',
        uid: 3_000_000,
        gid: 70_000,
        xattrs: new Map([['security.capability', cap]]),
      },
      { ...base, path: 'link', type: 'symlink', linkname: longLink, mode: 0o777 },
      { ...base, path: 'suid', type: 'file', mode: 0o4755 },
      { ...base, path: 'null', type: 'char', devmajor: 1, devminor: 3 },
    ],
    [Buffer.from('content')],
  );
  const [f, l, s, d] = await readBack(tar);
  assert.equal(f!.header.path, name);
  assert.equal(f!.header.uid, 3_000_000);
  assert.equal(f!.header.gid, 70_000);
  assert.ok(f!.header.xattrs!.get('security.capability')!.equals(cap), 'binary xattr exact');
  assert.equal(f!.body.toString(), 'content');
  assert.equal(l!.header.linkname, longLink);
  assert.equal(s!.header.mode, 0o4755);
  assert.deepEqual([d!.header.type, d!.header.devmajor, d!.header.devminor], ['char', 1, 3]);
});

test('GNU tar (an independent parser) reads our headers', () => {
  const name = `a/${'x'.repeat(150)}`;
  const tar = archive(
    [
      { ...base, path: 'a', type: 'dir', mode: 0o755 },
      { ...base, path: name, type: 'file', uid: 1000 },
    ],
    [Buffer.alloc(0), Buffer.from('hi')],
  );
  const r = spawnSync('tar', ['-tvf', '-', '--numeric-owner'], { input: tar, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const seen = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/))
    .map((f) => `${f[0]} ${f[1]} ${f[2]} ${f[5]}`);
  assert.deepEqual(seen, ['drwxr-xr-x 0/0 0 a/', `-rw-r--r-- 1000/0 2 ${name}`]);
});

test('the same header always encodes to the same bytes', () => {
  const h: TarHeader = {
    ...base,
    path: 'p'.repeat(120),
    type: 'file',
    xattrs: new Map([
      ['user.b', Buffer.from('2')],
      ['user.a', Buffer.from('1')],
    ]),
  };
  assert.ok(
    encodeHeader(h).equals(encodeHeader({ ...h, xattrs: new Map([...h.xattrs!].reverse()) })),
  );
});

test('GNU base-256 numeric fields are decoded', async () => {
  const tar = archive([{ ...base, path: 'f', type: 'file' }], [Buffer.from('x')]);
  // Rewrite the uid field as base-256 (0x80 marker, value 5_000_000) and fix the checksum.
  const block = tar.subarray(0, 512);
  block.fill(0, 108, 116);
  block[108] = 0x80;
  block.writeUIntBE(5_000_000, 110, 6);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const [f] = await readBack(tar);
  assert.equal(f!.header.uid, 5_000_000);
});

test('unsupported types and sparse files are refused', async () => {
  const tar = archive([{ ...base, path: 'f', type: 'file' }], [Buffer.from('x')]);
  tar[156] = 'S'.charCodeAt(0);
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of tar.subarray(0, 512)) sum += b;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  await assert.rejects(readBack(tar), /sparse files are not supported/);
});
