// Context side of COPY: .dockerignore semantics, source selection (globs, confinement to the
// root, symlinks resolved inside it), docker's directory semantics, --chown name resolution,
// and the content key (changes with content and mode, not with mtimes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile, chmod } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ignoreMatcher, openContext, parseIgnore } from '../../builder/context/build-context.js';
import {
  cleanRel,
  globRegex,
  resolveInRoot,
  selectSource,
  wildcardBaseExists,
} from '../../builder/context/select.js';
import { planCopy, type CopyTarget } from '../../builder/exec/copy-plan.js';
import { openFileDigester } from '../../builder/exec/file-digests.js';
import { FILE_LIST_CAP } from '../../builder/cache/build-cache.js';
import { writeLayerFromEntries } from '../../shared/tar/layer-writer.js';
import { prepareCopy } from '../../builder/exec/copy-step.js';
import { RootfsView, resolveChown } from '../../builder/exec/rootfs-view.js';

let dir: string;
let dirStat: Stats;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'builder-ctx-'));
  dirStat = (await resolveInRoot(dir, ''))!.stat;
  const files: Record<string, string> = {
    'a.txt': 'a',
    'b.txt': 'b',
    'src/x.ts': 'x',
    'src/sub/y.ts': 'y',
    'logs/app.log': 'l',
  };
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), c);
  }
  await symlink('/etc/passwd', join(dir, 'abs-link'));
  await symlink('src/x.ts', join(dir, 'rel-link'));
});
after(() => rm(dir, { recursive: true, force: true }));

const none = () => false;
const target = (over: Partial<CopyTarget> = {}): CopyTarget => ({
  dest: '/app',
  multiple: false,
  uid: 0,
  gid: 0,
  isDir: async (p) => p === '/' || p === '/existing',
  stat: async (p) => (p === '/' || p === '/existing' ? dirStat : undefined),
  now: 1_700_000_000,
  ...over,
});

test('.dockerignore: comments, !, ** and directory exclusion', () => {
  const m = ignoreMatcher(parseIgnore('# c\n*.log\nlogs\n!logs/keep.log\n**/*.tmp\n'));
  assert.equal(m('a.log'), true);
  assert.equal(m('logs/app.log'), true);
  assert.equal(m('logs/keep.log'), false);
  assert.equal(m('deep/er/x.tmp'), true);
  assert.equal(m('src/x.ts'), false);
});

test('paths are confined and symlinks resolve inside the root', async () => {
  assert.equal(cleanRel('../../etc/passwd'), 'etc/passwd');
  assert.equal(cleanRel('/src/./sub/'), 'src/sub');
  assert.equal(await resolveInRoot(dir, 'abs-link'), undefined);
  assert.equal((await resolveInRoot(dir, 'rel-link'))?.rel, 'src/x.ts');
  assert.deepEqual(await selectSource(dir, '../../../etc/passwd', none), []);
});

test('a symlinked parent resolves inside the root, globs too (as BuildKit: see builder-hostile)', async () => {
  const ctx = await mkdtemp(join(tmpdir(), 'builder-links-'));
  try {
    await mkdir(join(ctx, 'real'));
    await writeFile(join(ctx, 'real/s.txt'), 'in\n');
    await symlink('/etc', join(ctx, 'host-etc')); // means <ctx>/etc: not there
    await symlink('/real', join(ctx, 'abs-in')); // means <ctx>/real
    await symlink('../../../real', join(ctx, 'up')); // cannot climb out: <ctx>/real
    const rels = async (src: string) =>
      (await selectSource(ctx, src, none)).map((m) => [m.root.rel, m.root.abs]);
    for (const src of ['host-etc/passwd', 'host-etc/pass*', 'host-etc/*'])
      assert.deepEqual(await rels(src), [], src);
    for (const src of ['abs-in/s.txt', 'abs-in/*.txt', 'up/s.txt', 'up/s*', 'abs-in/../real/*'])
      assert.deepEqual(await rels(src), [['real/s.txt', join(ctx, 'real/s.txt')]], src);
    // a wildcard segment does not descend through a link (BuildKit: a*/s.txt finds nothing)
    assert.deepEqual(await rels('a*/s.txt'), []);
    assert.deepEqual(await rels('*/s.txt'), [['real/s.txt', join(ctx, 'real/s.txt')]]);
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
});

test('globs match per segment like filepath.Match', async () => {
  assert.ok(globRegex('*.txt').test('a.txt'));
  assert.ok(!globRegex('*.txt').test('src/a.txt'));
  assert.ok(globRegex('src/[a-x].ts').test('src/x.ts'));
  const found = await selectSource(dir, '*.txt', none);
  assert.deepEqual(
    found.map((f) => f.root.rel),
    ['a.txt', 'b.txt'],
  );
  const ignored = await selectSource(dir, '*.txt', (p) => p === 'b.txt');
  assert.deepEqual(
    ignored.map((f) => f.root.rel),
    ['a.txt'],
  );
});

test('directory semantics: contents of a dir, file to file, several sources into dir/', async () => {
  const d = await openFileDigester();
  const srcDir = await selectSource(dir, 'src', none);
  const p1 = await planCopy(srcDir, [], target(), d);
  assert.deepEqual(p1.entries.map((e) => e.path).sort(), [
    'app',
    'app/sub',
    'app/sub/y.ts',
    'app/x.ts',
  ]);
  const file = await selectSource(dir, 'a.txt', none);
  assert.deepEqual(
    (await planCopy(file, [], target({ dest: '/app/renamed' }), d)).entries
      .map((e) => e.path)
      .sort(),
    ['app', 'app/renamed'],
  );
  assert.deepEqual(
    (await planCopy(file, [], target({ dest: '/existing' }), d)).entries.map((e) => e.path),
    ['existing/a.txt', 'existing'],
  );
  const two = await selectSource(dir, '*.txt', none);
  const p3 = await planCopy(
    two,
    [],
    target({ dest: '/d/', multiple: true, uid: 5, gid: 6, chmod: 0o600 }),
    d,
  );
  const files = p3.entries.filter((e) => e.type === 'file');
  assert.deepEqual(
    files.map((e) => [e.path, e.uid, e.gid, e.mode]),
    [
      ['d/a.txt', 5, 6, 0o600],
      ['d/b.txt', 5, 6, 0o600],
    ],
  );
  const h = await planCopy([], [{ name: 'EOF', content: 'hi\n' }], target({ dest: '/h.txt' }), d);
  assert.equal(String(h.entries.find((e) => e.path === 'h.txt')?.source), 'hi\n');
});

test('content key: same for new mtimes, different for content or mode', async () => {
  const d = await openFileDigester();
  const key = async () =>
    (await planCopy(await selectSource(dir, 'src', none), [], target(), d)).contentKey;
  const k1 = await key();
  await utimes(join(dir, 'src/x.ts'), new Date(2001, 1, 1), new Date(2001, 1, 1));
  assert.equal(await key(), k1);
  await chmod(join(dir, 'src/x.ts'), 0o755);
  const k2 = await key();
  assert.notEqual(k2, k1);
  await writeFile(join(dir, 'src/x.ts'), 'changed');
  assert.notEqual(await key(), k2);
});

test('--chown names resolve in the image passwd/group; numbers pass through', async () => {
  const layer = join(dir, 'layer');
  await mkdir(join(layer, 'etc'), { recursive: true });
  await writeFile(
    join(layer, 'etc/passwd'),
    'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n',
  );
  await writeFile(join(layer, 'etc/group'), 'root:x:0:\nstaff:x:50:\n');
  const view = new RootfsView([layer]);
  const loc = { file: 'Dockerfile', line: 4 };
  assert.deepEqual(await resolveChown('app', view, loc), { uid: 1000, gid: 1001 });
  assert.deepEqual(await resolveChown('app:staff', view, loc), { uid: 1000, gid: 50 });
  assert.deepEqual(await resolveChown('7', view, loc), { uid: 7, gid: 7 });
  await assert.rejects(
    resolveChown('nobody', view, loc),
    /Dockerfile:4: unable to find user nobody/,
  );
});

test('context: -f outside the context, Dockerfile.dockerignore wins, stdin context', async () => {
  const df = join(dir, 'src', 'Custom.Dockerfile');
  await writeFile(df, 'FROM scratch\n');
  await writeFile(join(dir, '.dockerignore'), '*.txt\n');
  await writeFile(`${df}.dockerignore`, 'src\n');
  const c = await openContext({ context: dir, file: df });
  assert.equal(c.dockerfileName, 'Custom.Dockerfile');
  assert.equal(c.isIgnored('src/x.ts'), true);
  assert.equal(c.isIgnored('a.txt'), false);
  const s = await openContext({ context: '-', readStdin: async () => 'FROM busybox\n' });
  assert.equal(s.dir, undefined);
  assert.equal(s.dockerfileText, 'FROM busybox\n');
  await assert.rejects(openContext({ context: join(dir, 'nope') }), /cannot read Dockerfile/);
});

test('a Dockerfile or .dockerignore that links out of its directory reads nothing of the host (as BuildKit)', async () => {
  const host = await mkdtemp(join(tmpdir(), 'builder-host-'));
  const ctx = await mkdtemp(join(tmpdir(), 'builder-linkctx-'));
  try {
    await writeFile(join(host, 'secret'), 'host-secret-line\n');
    await symlink(join(host, 'secret'), join(ctx, 'Dockerfile'));
    const err = await openContext({ context: ctx }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(String(err?.message), /cannot read Dockerfile/);
    assert.doesNotMatch(`${err?.message} ${(err as { hint?: string })?.hint}`, /host-secret/i);
    // relative links that stay inside the directory are followed, absolute ones taken inside it
    await rm(join(ctx, 'Dockerfile'));
    await mkdir(join(ctx, 'df'));
    await writeFile(join(ctx, 'df', 'real'), 'FROM scratch\n');
    await symlink('df/real', join(ctx, 'Dockerfile'));
    await symlink(join(host, 'secret'), join(ctx, '.dockerignore'));
    const c = await openContext({ context: ctx });
    assert.equal(c.dockerfileText, 'FROM scratch\n');
    assert.deepEqual(c.ignorePatterns, [], 'the host file is no .dockerignore');
    await symlink('/df/real', join(ctx, 'Abs.Dockerfile'));
    const abs = await openContext({ context: ctx, file: join(ctx, 'Abs.Dockerfile') });
    assert.equal(abs.dockerfileText, 'FROM scratch\n');
  } finally {
    await rm(host, { recursive: true, force: true });
    await rm(ctx, { recursive: true, force: true });
  }
});

test('a wildcard with no match: its directory there, missing, or ignored', async () => {
  const none = () => false;
  assert.equal(await wildcardBaseExists(dir, 'nomatch*', none), true);
  assert.equal(await wildcardBaseExists(dir, 'src/*.none', none), true);
  assert.equal(await wildcardBaseExists(dir, 'rel-link/*.x', none), false, 'a file, not a dir');
  assert.equal(await wildcardBaseExists(dir, 'missing/*.txt', none), false);
  assert.equal(await wildcardBaseExists(dir, 'src/*.none', (r) => r === 'src'), false);
});

test('COPY of a big tree: one stat per file (the walk one), every file in the key, a capped list', async () => {
  const big = await mkdtemp(join(tmpdir(), 'builder-big-'));
  try {
    const n = FILE_LIST_CAP + 100;
    for (let d = 0; d < n / 100; d++) {
      await mkdir(join(big, `pkg-${String(d).padStart(3, '0')}`));
      for (let f = 0; f < 100; f++)
        await writeFile(join(big, `pkg-${String(d).padStart(3, '0')}`, `f${f}.js`), `${d}.${f}`);
    }
    const inner = await openFileDigester();
    let withStat = 0;
    let calls = 0;
    const counting = {
      digest: async (abs: string, known?: Stats, root?: string) => {
        calls++;
        if (known?.isFile()) withStat++;
        return inner.digest(abs, known, root);
      },
      save: () => inner.save(),
    };
    const plan = async () => planCopy(await selectSource(big, '.', none), [], target(), counting);
    const first = await plan();
    assert.equal(calls, n);
    assert.equal(withStat, n, 'the digester gets the stat the walk already made');
    assert.equal(Object.keys(first.files).length, FILE_LIST_CAP);
    // the last file in key order is past the listed cap, and still part of the key
    await writeFile(join(big, 'pkg-050', 'f99.js'), 'changed');
    assert.notEqual((await plan()).contentKey, first.contentKey);
  } finally {
    await rm(big, { recursive: true, force: true });
  }
});

test('sources swapped after selection (a parent or the file for a symlink, or another file): nothing else is read', async () => {
  const base = await mkdtemp(join(tmpdir(), 'builder-swap-'));
  const ctx = join(base, 'ctx');
  const outside = join(base, 'outside');
  await mkdir(join(outside, 'sub'), { recursive: true });
  await writeFile(join(outside, 'f'), 'SECRET\n');
  await writeFile(join(outside, 'sub/f'), 'SECRET\n');
  const swaps: Record<string, () => Promise<void>> = {
    'a parent directory for a symlink out': async () => {
      await rename(join(ctx, 'sub'), join(ctx, 'sub.orig'));
      await symlink(join(outside, 'sub'), join(ctx, 'sub'));
    },
    'the file for a symlink out': async () => {
      await rm(join(ctx, 'sub/f'));
      await symlink(join(outside, 'f'), join(ctx, 'sub/f'));
    },
    'the file for another file': async () => {
      await writeFile(join(ctx, 'sub/f.new'), 'SECRET\n');
      await rename(join(ctx, 'sub/f.new'), join(ctx, 'sub/f'));
    },
  };
  const fresh = async () => {
    await rm(ctx, { recursive: true, force: true });
    await mkdir(join(ctx, 'sub'), { recursive: true });
    await writeFile(join(ctx, 'sub/f'), 'inside\n');
  };
  try {
    for (const [what, swap] of Object.entries(swaps)) {
      for (const src of ['sub/f', 'sub', 'su*/f']) {
        // the content digest (cache key), after the swap
        await fresh();
        const selected = await selectSource(ctx, src, none);
        await swap();
        const d = await openFileDigester();
        await assert.rejects(
          planCopy(selected, [], target(), d),
          /changed while it was being read/,
          `${what}, COPY ${src}: digest`,
        );
        // the copy itself, planned before the swap and written after it
        await fresh();
        const planned = await planCopy(
          await selectSource(ctx, src, none),
          [],
          target(),
          await openFileDigester(), // one per build: its trees hold the context it read
        );
        await swap();
        const chunks: Buffer[] = [];
        const out = new Writable({
          write(c: Buffer, _e, cb) {
            chunks.push(c);
            cb();
          },
        });
        await assert.rejects(
          writeLayerFromEntries(planned.entries, out, { compression: 'none' }),
          /changed while it was being read/,
          `${what}, COPY ${src}: copy`,
        );
        assert.ok(!Buffer.concat(chunks).includes('SECRET'), `${what}, COPY ${src}: nothing read`);
      }
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('a COPY source changed while it is read fails the step on its Dockerfile line', async () => {
  const base = await mkdtemp(join(tmpdir(), 'builder-changed-'));
  try {
    const ctx = join(base, 'ctx');
    await mkdir(join(ctx, 'sub'), { recursive: true });
    await mkdir(join(base, 'layer'));
    await writeFile(join(ctx, 'sub/f'), 'inside\n');
    await writeFile(join(base, 'f'), 'SECRET\n');
    const inner = await openFileDigester();
    // the context's file becomes a link out just before its content is read
    const swapping = {
      digest: async (abs: string, known?: Stats, root?: string) => {
        await rm(join(ctx, 'sub/f'));
        await symlink(join(base, 'f'), join(ctx, 'sub/f'));
        return inner.digest(abs, known, root);
      },
      save: () => inner.save(),
    };
    await assert.rejects(
      prepareCopy({
        step: { kind: 'copy', add: false, sources: [{ path: 'sub' }], dest: '/x/' },
        loc: { file: 'Dockerfile', line: 3, original: 'COPY sub /x/' },
        sourceRoot: ctx,
        isIgnored: none,
        descendIgnored: false,
        workdir: '/',
        uid: 0,
        gid: 0,
        view: new RootfsView([join(base, 'layer')]),
        digester: swapping,
        tmpDir: base,
        now: 0,
      }),
      /Dockerfile:3: "sub\/f" under .* changed while it was being read$/,
    );
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
