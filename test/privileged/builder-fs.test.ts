// tsbuild's filesystem fidelity and safety beyond the golden cases (which need a context git
// can hold): RUN --mount=type=bind,rw never writes to the host (context, a stage's files), a
// bind of the context hides what .dockerignore excludes, hard links in a build context stay
// hard links, ADD <url> takes Last-Modified as mtime.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fullRef,
  makeBuildRoot,
  run,
  tsbuild,
  unpack,
  writeContext,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { makeBusyboxRootfs } from './runner-helpers.js';
import { resolveInRoot } from '../../builder/context/select.js';
import { bindSource, type BindSourcePath } from '../../builder/exec/bind-source.js';
import { sandboxArgs } from '../../runner/sandbox.js';
import { nativeBinary } from '../../shared/native.js';
import { ChangedError } from '../../shared/tar/safe-tree.js';

let br: BuildRoot;
let work: string;

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-fs-'));
});
after(async () => {
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Every file and directory of a tree with mode and content (what a build must not change). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) {
        out[r] = `dir ${st.mode.toString(8)}`;
        visit(r);
      } else out[r] = `${st.mode.toString(8)} ${readFileSync(join(dir, r), 'utf8')}`;
    }
  };
  visit('');
  return out;
}

test('RUN --mount=type=bind,rw writes to a private copy: the context and stages stay as they were', async () => {
  const dir = await writeContext(work, 'bind-rw', {
    Dockerfile: [
      'FROM busybox AS stage',
      'RUN mkdir /s && echo stage > /s/file',
      'FROM busybox',
      // the RUN sees its own writes ...
      'RUN --mount=type=bind,rw,target=/ctx echo x > /ctx/f && rm /ctx/other && echo new > /ctx/added && mkdir /ctx/sub/made && cat /ctx/f /ctx/added > /seen',
      'RUN --mount=type=bind,rw,source=f,target=/one echo y > /one && cat /one > /seen-one',
      'RUN --mount=type=bind,rw,from=stage,source=/s,target=/s echo changed > /s/file && touch /s/extra',
      // ... and a later step sees the originals
      'COPY --from=stage /s /after-stage/',
      'RUN --mount=type=bind,target=/ctx cat /ctx/f > /after-ctx',
    ].join('\n'),
    f: 'orig\n',
    other: 'keep\n',
    'sub/keep.txt': 'k\n',
  });
  const before = snapshot(dir);
  const res = tsbuild(br, ['-t', 'bindrw:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(snapshot(dir), before, 'the build context is unchanged');
  const u = await unpack(br, fullRef('bindrw:1'));
  try {
    const read = (p: string) => readFileSync(join(u.rootfs, p), 'utf8');
    assert.equal(read('seen'), 'x\nnew\n');
    assert.equal(read('seen-one'), 'y\n');
    assert.equal(read('after-stage/file'), 'stage\n');
    assert.ok(!lstatSync(join(u.rootfs, 'after-stage/extra'), { throwIfNoEntry: false }));
    assert.equal(read('after-ctx'), 'orig\n');
    for (const p of ['ctx', 'one', 's'])
      assert.ok(!lstatSync(join(u.rootfs, p), { throwIfNoEntry: false }), `/${p} not in image`);
  } finally {
    await u.close();
  }
  assert.deepEqual(
    readdirSync(join(br.root, 'tmp')).filter((n) => n.startsWith('bind-')),
    [],
    'the copies are gone',
  );
});

test('RUN --mount=type=bind of the context shows what .dockerignore keeps (as BuildKit), ro or rw', async () => {
  const dir = await writeContext(work, 'bind-ignore', {
    Dockerfile: [
      'FROM busybox',
      'RUN --mount=type=bind,target=/ctx cd /ctx && find . | sort > /ro.txt && cat keep.txt kept/again.txt',
      'RUN --mount=type=bind,rw,target=/ctx cd /ctx && find . | sort > /rw.txt && rm keep.txt',
      'RUN --mount=type=bind,source=sub,target=/sub find /sub | sort > /sub.txt',
    ].join('\n'),
    '.dockerignore': 'secret.env\nsub/private\nkept\n!kept/again.txt\n',
    'secret.env': 'TOKEN=hunter2\n',
    'keep.txt': 'k\n',
    'kept/drop.txt': 'x\n',
    'kept/again.txt': 'again\n',
    'sub/private/key': 'k\n',
    'sub/public': 'p\n',
  });
  const before = snapshot(dir);
  const res = tsbuild(br, ['-t', 'bindignore:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(snapshot(dir), before, 'the build context is unchanged');
  const u = await unpack(br, fullRef('bindignore:1'));
  try {
    // what BuildKit lists (golden case bind-ignore runs the same idea through BuildKit)
    const listing = [
      '.',
      './.dockerignore',
      './Dockerfile',
      './keep.txt',
      './kept',
      './kept/again.txt',
      './sub',
      './sub/public',
    ];
    const read = (p: string) => readFileSync(join(u.rootfs, p), 'utf8').trim().split('\n');
    assert.deepEqual(read('ro.txt'), listing);
    assert.deepEqual(read('rw.txt'), listing);
    assert.deepEqual(read('sub.txt'), ['/sub', '/sub/public']);
  } finally {
    await u.close();
  }
});

test('hard links in the build context stay hard links in the COPY layer', async () => {
  const dir = await writeContext(work, 'links', {
    Dockerfile: 'FROM scratch\nCOPY app /app/\n',
    'app/a.bin': 'same bytes\n',
    'app/lone.txt': 'lone\n',
  });
  await link(join(dir, 'app/a.bin'), join(dir, 'app/b.bin'));
  const res = tsbuild(br, ['-t', 'links:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  const manifest = JSON.parse(
    run('skopeo', ['inspect', '--raw', `oci:${br.layout}:${fullRef('links:1')}`]),
  ) as { layers: { digest: string }[] };
  const listing = run('tar', [
    '-tvf',
    join(br.layout, 'blobs', 'sha256', manifest.layers[0]!.digest.slice(7)),
  ]);
  assert.match(listing, /^h.* app\/b\.bin link to app\/a\.bin$/m, listing);
  const u = await unpack(br, fullRef('links:1'));
  try {
    const ino = (p: string) => lstatSync(join(u.rootfs, p)).ino;
    assert.equal(ino('app/a.bin'), ino('app/b.bin'));
    assert.notEqual(ino('app/a.bin'), ino('app/lone.txt'));
  } finally {
    await u.close();
  }
});

test('ADD <url> gives the file the Last-Modified time (Dockerfile reference)', async () => {
  const modified = 'Tue, 01 Jun 2021 12:00:00 GMT';
  // The server runs in a child process: tsbuild is spawned synchronously from this one.
  const server = spawn(
    process.execPath,
    [
      '-e',
      `require('http').createServer((q, r) => { r.setHeader('Last-Modified', ${JSON.stringify(modified)}); r.end('body\\n'); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); })`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const [port] = (await once(server.stdout!, 'data')) as [Buffer];
    const url = `http://127.0.0.1:${port.toString().trim()}/dl.txt`;
    const dir = await writeContext(work, 'add-url-mtime', {
      Dockerfile: `FROM scratch\nADD ${url} /dl/\n`,
    });
    const res = tsbuild(br, ['-t', 'addmtime:1', dir]);
    assert.equal(res.status, 0, res.stderr);
    const u = await unpack(br, fullRef('addmtime:1'));
    try {
      const st = lstatSync(join(u.rootfs, 'dl/dl.txt'));
      assert.equal(st.mtimeMs, Date.parse(modified));
      assert.equal(st.mode & 0o777, 0o600, 'BuildKit gives downloaded files 0600');
    } finally {
      await u.close();
    }
  } finally {
    server.kill();
  }
});

test('RUN --mount=type=bind: the bound files are in the cache key (changed content misses, the same hits)', async () => {
  const dir = await writeContext(work, 'bind-key', {
    Dockerfile: [
      'FROM busybox AS stage',
      'COPY stage.txt /s/f',
      'FROM busybox',
      'RUN --mount=type=bind,from=stage,source=/s,target=/s cat /s/f > /stage-seen',
      'RUN --mount=type=bind,source=sub,target=/b cat /b/f > /ctx-seen',
    ].join('\n'),
    '.dockerignore': 'sub/ignored\n',
    'sub/f': 'one\n',
    'sub/ignored': 'x\n',
    'stage.txt': 's1\n',
    'other.txt': 'o\n',
  });
  const build = () => {
    const r = tsbuild(br, ['--network', 'none', '--progress', 'plain', '-t', 'bindkey:1', dir]);
    assert.equal(r.status, 0, r.stderr);
    // "#N [stage-1 2/3] RUN --mount=..." and, for a hit, "#N CACHED" (stages interleave)
    const cached = (what: RegExp) => {
      const line = r.stderr.split('\n').find((l) => /^#\d+ \[/.test(l) && what.test(l));
      assert.ok(line, `${what} in the output: ${r.stderr}`);
      return r.stderr.includes(`\n${line.split(' ')[0]} CACHED\n`);
    };
    return { ctx: cached(/RUN --mount=type=bind,source=sub/), stage: cached(/from=stage/) };
  };
  const seen = async () => {
    const u = await unpack(br, fullRef('bindkey:1'));
    try {
      const read = (p: string) => readFileSync(join(u.rootfs, p), 'utf8');
      return [read('ctx-seen'), read('stage-seen')];
    } finally {
      await u.close();
    }
  };
  build();
  assert.deepEqual(build(), { ctx: true, stage: true }, 'nothing changed: both hit');
  await writeFile(join(dir, 'other.txt'), 'o2\n');
  await writeFile(join(dir, 'sub/ignored'), 'y\n');
  assert.deepEqual(build(), { ctx: true, stage: true }, 'unbound or ignored files changed: hit');
  await writeFile(join(dir, 'sub/f'), 'two\n');
  assert.deepEqual(build(), { ctx: false, stage: true }, 'a bound context file changed: miss');
  assert.deepEqual(await seen(), ['two\n', 's1\n']);
  await writeFile(join(dir, 'stage.txt'), 's2\n');
  // (the context RUN comes after it: a new parent, a miss too)
  assert.deepEqual(build(), { ctx: false, stage: false }, "the bound stage's file changed: miss");
  assert.deepEqual(await seen(), ['two\n', 's2\n']);
  await chmod(join(dir, 'sub/f'), 0o600);
  assert.deepEqual(build(), { ctx: false, stage: true }, 'a bound file mode changed: miss');
});

test('RUN --mount=type=bind: a context directory swapped for a symlink to a host path after it was chosen shows nothing of the host', async () => {
  const ctx = await mkdtemp(join(work, 'swapctx-'));
  const host = await mkdtemp(join(work, 'swaphost-'));
  const tmpRoot = await mkdtemp(join(work, 'swaptmp-'));
  const rootfs = makeBusyboxRootfs(await mkdtemp(join(work, 'swaprootfs-')));
  await mkdir(join(ctx, 'sub'));
  await writeFile(join(ctx, 'sub', 'f'), 'context\n');
  await writeFile(join(host, 'secret'), 'host secret\n');
  const found = (await resolveInRoot(ctx, 'sub'))!;
  assert.ok(found.stat.isDirectory());
  /** Runs `cat /b/*` with the bind as the sandbox gets it; exit code and output. */
  const catBound = (src: BindSourcePath) => {
    const args = sandboxArgs({
      rootfs,
      argv: ['sh', '-c', 'cat /b/*'],
      env: ['PATH=/bin'],
      cwd: '/',
      network: 'new',
      mounts: [{ type: 'bind', ...src, target: '/b', readOnly: true }],
    });
    const r = spawnSync(nativeBinary('sandbox'), args, { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const temps: string[] = [];
  const ro = await bindSource(found, { readOnly: true, tmpRoot, temps });
  assert.deepEqual(catBound(ro), { status: 0, out: 'context\n' }, 'unswapped: the context');
  // the race: between choosing the source (and keying the RUN) and the mount
  await rename(join(ctx, 'sub'), join(ctx, 'sub.old'));
  await symlink(host, join(ctx, 'sub'));
  // (binding the path as it was chosen, as the builder did before, shows the host's file)
  assert.equal(catBound({ source: join(ctx, 'sub') }).out, 'host secret\n');
  const swapped = catBound(ro);
  assert.equal(swapped.status, 125, swapped.out);
  assert.doesNotMatch(swapped.out, /host secret/);
  // a writable bind (a copy) and a .dockerignore'd one (a tree) refuse instead of reading it
  for (const opts of [
    { readOnly: false },
    { readOnly: true, ignore: { isIgnored: (r: string) => r === 'sub/x', hasExceptions: false } },
  ]) {
    await assert.rejects(
      bindSource(found, { ...opts, tmpRoot, temps }),
      (e: Error) => e instanceof ChangedError,
    );
  }
  for (const t of temps) for (const n of readdirSync(t)) assert.notEqual(n, 'secret');
  await rm(ctx, { recursive: true, force: true });
  await rm(host, { recursive: true, force: true });
  await rm(tmpRoot, { recursive: true, force: true });
});
