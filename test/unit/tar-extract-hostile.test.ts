// Hostile archives against the extractor: every escape attempt is refused or contained, and a
// sentinel directory outside the root is never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { extractLayer } from '../../shared/tar/extract.js';
import { InvalidInputError, TsdockError } from '../../shared/errors.js';
import {
  buildTar,
  makeSandbox,
  streamOf,
  type Sandbox,
  type TarSpec,
} from '../helpers/hostile-tar.js';

async function withSandbox(fn: (s: Sandbox) => Promise<void>): Promise<void> {
  const s = await makeSandbox();
  try {
    await fn(s);
    assert.deepEqual(await s.sentinelEntries(), ['secret'], 'sentinel dir gained entries');
    assert.equal(await readFile(join(s.sentinel, 'secret'), 'utf8'), 'untouched\n');
    assert.equal((await stat(join(s.sentinel, 'secret'))).nlink, 1, 'secret was hardlinked');
  } finally {
    await s.cleanup();
  }
}

async function extract(specs: TarSpec[], root: string, opts = {}) {
  return extractLayer(streamOf(await buildTar(specs)), root, opts);
}

test('".." escaping the root is refused with the entry path', () =>
  withSandbox(async (s) => {
    await assert.rejects(extract([{ name: '../../sentinel/pwned', content: 'x' }], s.root), (e) => {
      assert.ok(e instanceof InvalidInputError);
      assert.match(
        e.message,
        /layer entry "\.\.\/\.\.\/sentinel\/pwned" escapes the root; refused/,
      );
      return true;
    });
    await assert.rejects(extract([{ name: 'a/../../x' }], s.root), /escapes the root/);
  }));

test('".." that stays inside is cleaned', () =>
  withSandbox(async (s) => {
    await extract([{ name: 'a/b/../c', content: 'ok' }], s.root);
    assert.equal(await readFile(join(s.root, 'a/c'), 'utf8'), 'ok');
  }));

test('absolute paths are contained under the root', () =>
  withSandbox(async (s) => {
    await extract([{ name: `${s.sentinel}/pwned`, content: 'x' }], s.root);
    assert.equal(await readFile(join(s.root, s.sentinel, 'pwned'), 'utf8'), 'x');
  }));

test('a symlink then a file through it lands inside the root', () =>
  withSandbox(async (s) => {
    await extract(
      [
        { name: 'a', type: 'symlink', linkname: s.sentinel },
        { name: 'a/pwned', content: 'x' },
        { name: 'b', type: 'symlink', linkname: '../../../../../../../..' + s.sentinel },
        { name: 'b/pwned2', content: 'y' },
      ],
      s.root,
    );
    assert.equal((await lstat(join(s.root, 'a'))).isSymbolicLink(), true);
    assert.equal(await readFile(join(s.root, s.sentinel, 'pwned'), 'utf8'), 'x');
    assert.equal(await readFile(join(s.root, s.sentinel, 'pwned2'), 'utf8'), 'y');
  }));

test('a file entry over a symlink replaces the link, not its target', () =>
  withSandbox(async (s) => {
    await extract(
      [
        { name: 'c', type: 'symlink', linkname: join(s.sentinel, 'secret') },
        { name: 'c', content: 'replaced' },
      ],
      s.root,
    );
    assert.equal((await lstat(join(s.root, 'c'))).isFile(), true);
    assert.equal(await readFile(join(s.root, 'c'), 'utf8'), 'replaced');
  }));

test('hardlinks to host paths are refused', () =>
  withSandbox(async (s) => {
    const secret = join(s.sentinel, 'secret');
    await assert.rejects(
      extract([{ name: 'h', type: 'link', linkname: secret }], s.root),
      /hardlink target .* refused/,
    );
    await assert.rejects(
      extract([{ name: 'h', type: 'link', linkname: '../../sentinel/secret' }], s.root),
      /escapes the root/,
    );
    await assert.rejects(
      extract([{ name: 'h', type: 'link', linkname: '/etc/passwd' }], s.root),
      /refused/,
    );
  }));

test('a hardlink through a symlink to an outside file is refused', () =>
  withSandbox(async (s) => {
    await assert.rejects(
      extract(
        [
          { name: 's', type: 'symlink', linkname: s.sentinel },
          { name: 'h', type: 'link', linkname: 's/secret' },
        ],
        s.root,
      ),
      /refused/,
    );
    assert.equal(existsSync(join(s.root, 'h')), false);
  }));

test('hardlinks inside the root work', () =>
  withSandbox(async (s) => {
    await extract(
      [
        { name: 'f', content: 'data' },
        { name: 'd/h', type: 'link', linkname: '/f' },
      ],
      s.root,
    );
    const [a, b] = await Promise.all([stat(join(s.root, 'f')), stat(join(s.root, 'd/h'))]);
    assert.equal(a.ino, b.ino);
  }));

test('device nodes are skipped when devices are not allowed (non-root)', () =>
  withSandbox(async (s) => {
    const res = await extract(
      [
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'dev/ok', content: 'x' },
      ],
      s.root,
      { allowDevices: false },
    );
    assert.equal(res.entries, 3);
    assert.equal(existsSync(join(s.root, 'dev/null')), false);
    assert.equal(existsSync(join(s.root, 'dev/sda')), false);
    assert.equal(existsSync(join(s.root, 'dev/ok')), true);
  }));

test('a huge PAX header is refused without buffering it', () =>
  withSandbox(async (s) => {
    const huge = { comment: 'x'.repeat(4 * 1024 * 1024) };
    await assert.rejects(extract([{ name: 'f', content: 'x', pax: huge }], s.root), /exceeds/);
  }));

test('a file entry replacing a directory removes the directory', () =>
  withSandbox(async (s) => {
    await extract(
      [
        { name: 'd', type: 'directory' },
        { name: 'd/x', content: 'inner' },
        { name: 'd', content: 'now a file' },
      ],
      s.root,
    );
    assert.equal(await readFile(join(s.root, 'd'), 'utf8'), 'now a file');
  }));

test('a path through a regular file is refused', () =>
  withSandbox(async (s) => {
    await assert.rejects(
      extract(
        [
          { name: 'f', content: 'x' },
          { name: 'f/y', content: 'y' },
        ],
        s.root,
      ),
      /is not a directory/,
    );
  }));

test('deep nesting extracts; beyond PATH_MAX fails cleanly', () =>
  withSandbox(async (s) => {
    const deep = `${'d/'.repeat(200)}f`;
    await extract([{ name: deep, content: 'deep' }], s.root);
    assert.equal(await readFile(join(s.root, deep), 'utf8'), 'deep');
    const tooDeep = `${'abcdefgh/'.repeat(600)}f`;
    await assert.rejects(extract([{ name: tooDeep, content: 'x' }], s.root), TsdockError);
  }));

test('whiteouts through a symlink do not delete outside the root', () =>
  withSandbox(async (s) => {
    await extract(
      [
        { name: 'l', type: 'symlink', linkname: s.sentinel },
        { name: 'l/.wh.secret', content: '' },
      ],
      s.root,
      { whiteouts: 'apply' },
    );
    await assert.rejects(
      extract([{ name: '.wh...', content: '' }], s.root, { whiteouts: 'apply' }),
      /invalid whiteout/,
    );
  }));

test('a truncated archive and a corrupt header are clear errors', async () => {
  const s = await makeSandbox();
  try {
    const tar = await buildTar([{ name: 'f', content: 'x'.repeat(2000) }]);
    await assert.rejects(
      extractLayer(streamOf(tar.subarray(0, 1024)), s.root),
      /invalid layer archive: truncated/,
    );
    const bad = Buffer.from(tar);
    bad[10] = 0x41;
    await assert.rejects(extractLayer(streamOf(bad), s.root), /checksum mismatch/);
  } finally {
    await s.cleanup();
  }
});

test('symlink loops and hardlinks to directories are refused', () =>
  withSandbox(async (s) => {
    await assert.rejects(
      extract(
        [
          { name: 'loop', type: 'symlink', linkname: 'loop' },
          { name: 'loop/x', content: 'x' },
        ],
        s.root,
      ),
      /too many levels of symlinks/,
    );
    await assert.rejects(
      extract(
        [
          { name: 'd', type: 'directory' },
          { name: 'h', type: 'link', linkname: 'd' },
        ],
        s.root,
      ),
      /refused/,
    );
  }));
