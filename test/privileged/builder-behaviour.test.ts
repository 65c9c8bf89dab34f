// tsbuild behaviour beyond the golden images: cache hits and explained misses, SOURCE_DATE_EPOCH
// reproducibility, failed builds leaving nothing behind, hostile contexts (symlinks out of the
// context, ADD of an archive with `..` entries), stdin/-f, RUN mounts and --network, outputs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { encodeHeader, padding, trailer } from '../../shared/tar/tar-format.js';
import {
  fullRef,
  inspectConfig,
  leftoverTemps,
  makeBuildRoot,
  run,
  TSBUILD,
  tsbuild,
  unpack,
  type BuildRoot,
  writeContext,
} from '../helpers/builder-run.js';
import { leftoverCgroups } from './runner-helpers.js';

let br: BuildRoot;
let work: string;

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
});
after(async () => {
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const context = (name: string, files: Record<string, string>): Promise<string> =>
  writeContext(work, name, files);

/** The RUN cgroups of one tsbuild process (tsdock/tsbuild-<random>-<pid> in any hierarchy). */
const runCgroups = (pid: number): string[] =>
  leftoverCgroups('tsbuild-').filter((d) => d.endsWith(`-${pid}`));

const tagged = (br: BuildRoot): string[] => {
  const idx = JSON.parse(readFileSync(join(br.layout, 'index.json'), 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  return idx.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? '');
};

test('second build is all CACHED; a changed file misses and --debug-cache names it', async () => {
  const dir = await context('cache', {
    Dockerfile:
      'FROM busybox\nWORKDIR /app\nCOPY . .\nRUN cat /app/a.txt > /app/copy.txt\nENV X=1\n',
    'a.txt': 'one\n',
    'b.txt': 'b\n',
  });
  assert.equal(tsbuild(br, ['-t', 'cache:1', dir]).status, 0);
  const again = tsbuild(br, ['-t', 'cache:1', dir]);
  assert.equal(again.status, 0);
  assert.equal(again.stderr.match(/CACHED/g)?.length, 3, again.stderr);
  const id1 = tsbuild(br, ['-q', '-t', 'cache:1', dir]).stdout;
  const id2 = tsbuild(br, ['-q', '-t', 'cache:1', dir]).stdout;
  assert.match(id1, /^sha256:[0-9a-f]{64}\n$/);
  assert.equal(id1, id2, 'a fully cached rebuild gives the same image id');
  await writeFile(join(dir, 'a.txt'), 'two\n');
  const miss = tsbuild(br, ['-t', 'cache:1', '--debug-cache', dir]);
  assert.equal(miss.status, 0, miss.stderr);
  assert.match(miss.stderr, /cache miss: files: changed app\/a\.txt/);
  assert.match(miss.stderr, /cache miss: an earlier step changed/);
  const nocache = tsbuild(br, ['-t', 'cache:1', '--no-cache', dir]);
  assert.doesNotMatch(nocache.stderr, /CACHED/);
  const u = await unpack(br, fullRef('cache:1'));
  assert.equal(readFileSync(join(u.rootfs, 'app/copy.txt'), 'utf8'), 'two\n');
  await u.close();
});

test('SOURCE_DATE_EPOCH: two uncached builds give the same image digest', async () => {
  const dir = await context('repro', {
    Dockerfile: 'FROM busybox\nCOPY f /f\nRUN echo x > /x && touch /y\nCMD ["sh"]\n',
    f: 'f\n',
  });
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  const a = tsbuild(br, ['-q', '--no-cache', '-t', 'repro:a', dir], env);
  const b = tsbuild(br, ['-q', '--no-cache', '-t', 'repro:b', dir], env);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  const digest = (ref: string) =>
    run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${br.layout}:${fullRef(ref)}`]);
  assert.equal(digest('repro:a'), digest('repro:b'));
  assert.equal(inspectConfig(br, fullRef('repro:a')).created, '2023-11-14T22:13:20Z');
});

test('a failing RUN fails the build with line, command and exit code; leaves nothing', async () => {
  const dir = await context('fail', {
    Dockerfile: 'FROM busybox\nRUN touch /made\nRUN echo failing >&2; exit 3\n',
  });
  const res = tsbuild(br, ['-t', 'fail:1', dir]);
  assert.equal(res.status, 1, 'a failed build exits 1, as docker build');
  assert.match(
    res.stderr,
    /Dockerfile:3: process "\/bin\/sh -c echo failing >&2; exit 3" did not complete successfully: exit code: 3/,
  );
  assert.match(res.stderr, /#\d+ [\d.]+ failing/);
  assert.ok(!tagged(br).some((t) => t.includes('fail:1')));
  assert.deepEqual(await leftoverTemps(br), []);
  assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(br.root), 'no mounts left');
  assert.deepEqual(runCgroups(res.pid), [], 'no RUN cgroup left');
});

test('hostile context: symlinks out of the context are not followed', async () => {
  const dir = await context('hostile', {
    Dockerfile: 'FROM scratch\nCOPY . /ctx/\n',
    'ok.txt': 'ok\n',
  });
  await symlink('/etc/passwd', join(dir, 'passwd'));
  await symlink('../../../../../../etc', join(dir, 'etc-link'));
  assert.equal(tsbuild(br, ['-t', 'hostile:1', dir]).status, 0);
  const u = await unpack(br, fullRef('hostile:1'));
  assert.equal(readFileSync(join(u.rootfs, 'ctx/ok.txt'), 'utf8'), 'ok\n');
  assert.ok(
    lstatSync(join(u.rootfs, 'ctx/etc-link')).isSymbolicLink(),
    'copied as a link, not followed',
  );
  assert.ok(
    lstatSync(join(u.rootfs, 'ctx/passwd')).isSymbolicLink(),
    'copied as a link, not followed',
  );
  await u.close();
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY passwd /x\n');
  const r1 = tsbuild(br, ['-t', 'hostile:2', dir]);
  assert.notEqual(r1.status, 0);
  assert.match(r1.stderr, /Dockerfile:2: failed to compute cache key: "passwd": not found/);
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY etc-link/hostname /x\n');
  assert.match(tsbuild(br, ['-t', 'hostile:3', dir]).stderr, /not found/);
});

test('hostile context: ADD of an archive with .. entries is refused, host untouched', async () => {
  const dir = await context('evil-tar', { Dockerfile: 'FROM busybox\nADD evil.tar /dst/\n' });
  const body = Buffer.from('pwned\n');
  const victim = `tsbuild-evil-${process.pid}`;
  const tar = Buffer.concat([
    encodeHeader({
      path: `../../../../../../tmp/${victim}`,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: body.length,
      mtime: 0,
    }),
    body,
    padding(body.length),
    trailer(),
  ]);
  await writeFile(join(dir, 'evil.tar'), tar);
  const res = tsbuild(br, ['-t', 'evil:1', dir]);
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /Dockerfile:2: ADD evil.tar: .*escapes the root; refused/);
  assert.ok(!existsSync(join('/tmp', victim)));
  assert.deepEqual(await leftoverTemps(br), []);
});

test('ADD extracts a local archive; Dockerfile from stdin and -f', async () => {
  const dir = await context('add-tar', {
    'src/a.txt': 'A\n',
    'other.Dockerfile': 'FROM busybox\nADD arch.tar.gz /x/\n',
  });
  run('tar', [
    '-czf',
    join(dir, 'arch.tar.gz'),
    '--owner=1234',
    '--group=5678',
    '-C',
    join(dir, 'src'),
    'a.txt',
  ]);
  const res = tsbuild(br, ['-t', 'addtar:1', '-f', join(dir, 'other.Dockerfile'), dir]);
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('addtar:1'));
  assert.equal(readFileSync(join(u.rootfs, 'x/a.txt'), 'utf8'), 'A\n');
  assert.deepEqual(
    [lstatSync(join(u.rootfs, 'x/a.txt')).uid, lstatSync(join(u.rootfs, 'x/a.txt')).gid],
    [1234, 5678],
    'archive owners kept',
  );
  await u.close();
  const stdin = tsbuild(br, ['-t', 'stdin:1', '-'], {}, 'FROM busybox\nRUN echo from-stdin > /s\n');
  assert.equal(stdin.status, 0, stdin.stderr);
});

test('RUN --mount cache persists, secrets stay out of the layer, network is none', async () => {
  const dir = await context('mounts', {
    Dockerfile: [
      'FROM busybox',
      'RUN --mount=type=cache,target=/cache echo hit >> /cache/log && wc -l < /cache/log > /count',
      'RUN --network=none --mount=type=secret,id=tok cat /run/secrets/tok > /copied-secret-length && [ ! -e /proc/net/dev ] || [ "$(ls /sys/class/net)" = "lo" ]',
      '',
    ].join('\n'),
    'tok.txt': 's3cret',
  });
  const args = ['--secret', `id=tok,src=${join(dir, 'tok.txt')}`, '--no-cache'];
  assert.equal(tsbuild(br, ['-t', 'mounts:1', ...args, dir]).status, 0);
  const res = tsbuild(br, ['-t', 'mounts:1', ...args, dir]);
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('mounts:1'));
  assert.equal(readFileSync(join(u.rootfs, 'count'), 'utf8').trim(), '2');
  assert.ok(!existsSync(join(u.rootfs, 'run/secrets/tok')));
  assert.ok(!existsSync(join(u.rootfs, 'cache/log')));
  await u.close();
});

test('--output type=oci and type=docker write loadable archives', async () => {
  const dir = await context('output', { Dockerfile: 'FROM busybox\nENV OUT=1\n' });
  const oci = join(work, 'out-oci.tar');
  const docker = join(work, 'out-docker.tar');
  const res = tsbuild(br, [
    '-t',
    'out:1',
    '--output',
    `type=oci,dest=${oci}`,
    '--output',
    `type=docker,dest=${docker}`,
    dir,
  ]);
  assert.equal(res.status, 0, res.stderr);
  const cfg = JSON.parse(run('skopeo', ['inspect', '--config', `oci-archive:${oci}`])) as {
    config: { Env: string[] };
  };
  assert.ok(cfg.config.Env.includes('OUT=1'));
  const d = JSON.parse(run('skopeo', ['inspect', '--config', `docker-archive:${docker}`])) as {
    config: { Env: string[] };
  };
  assert.ok(d.config.Env.includes('OUT=1'));
});

test('ONBUILD triggers run in the child build (then are consumed); RUN honours USER', async () => {
  const base = await context('onbuild-base', {
    Dockerfile:
      'FROM busybox\nRUN mkdir -p /tmp && chmod 1777 /tmp\nONBUILD RUN echo triggered > /tmp/onbuild.txt\nUSER 1000:1000\n',
  });
  assert.equal(tsbuild(br, ['-t', 'ob-base:1', base]).status, 0);
  const child = await context('onbuild-child', {
    Dockerfile: 'FROM ob-base:1\nRUN id -u > /tmp/uid\n',
  });
  const res = tsbuild(br, ['-t', 'ob-child:1', child]);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stderr, /\[stage-0 onbuild\] RUN echo triggered/);
  const u = await unpack(br, fullRef('ob-child:1'));
  assert.equal(readFileSync(join(u.rootfs, 'tmp/onbuild.txt'), 'utf8'), 'triggered\n');
  assert.equal(readFileSync(join(u.rootfs, 'tmp/uid'), 'utf8'), '1000\n');
  await u.close();
  const cfg = inspectConfig(br, fullRef('ob-child:1')).config as {
    OnBuild?: unknown;
    User?: string;
  };
  assert.equal(cfg.OnBuild ?? null, null);
  assert.equal(cfg.User, '1000:1000');
});

test('ADD URL with --checksum (verified, refused on mismatch); COPY --from an image', async () => {
  const body = 'downloaded\n';
  // The server runs in a child process: tsbuild is spawned synchronously from this one.
  const server = spawn(
    process.execPath,
    [
      '-e',
      `require('http').createServer((q, r) => r.end(${JSON.stringify(body)})).listen(0, '127.0.0.1', function () { console.log(this.address().port); })`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [port] = (await once(server.stdout!, 'data')) as [Buffer];
  const url = `http://127.0.0.1:${port.toString().trim()}/file.txt`;
  try {
    const sum = createHash('sha256').update(body).digest('hex');
    const good = await context('add-url', {
      Dockerfile: `FROM scratch\nADD --checksum=sha256:${sum} ${url} /dl/\nCOPY --from=busybox:latest /bin/busybox /bb\n`,
    });
    const res = tsbuild(br, ['-t', 'addurl:1', good]);
    assert.equal(res.status, 0, res.stderr);
    const u = await unpack(br, fullRef('addurl:1'));
    assert.equal(readFileSync(join(u.rootfs, 'dl/file.txt'), 'utf8'), body);
    assert.ok(lstatSync(join(u.rootfs, 'bb')).size > 100_000);
    await u.close();
    await writeFile(
      join(good, 'Dockerfile'),
      `FROM scratch\nADD --checksum=sha256:${'0'.repeat(64)} ${url} /dl/\n`,
    );
    const bad = tsbuild(br, ['-t', 'addurl:2', good]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /Dockerfile:2: ADD .*checksum mismatch/);
  } finally {
    server.kill();
  }
});

test('COPY --exclude; secrets as env vars and from the environment', async () => {
  const dir = await context('exclude-secrets', {
    Dockerfile: [
      'FROM busybox',
      'COPY --exclude=*.md --exclude=sub . /c/',
      'RUN --mount=type=secret,id=tok,env=TOKEN --mount=type=secret,id=envsec,target=/s.txt echo "$TOKEN" > /t1 && cat /s.txt > /t2',
      '',
    ].join('\n'),
    'keep.txt': 'k',
    'drop.md': 'd',
    'sub/x.txt': 'x',
    'tok.txt': 'from-file',
  });
  const res = tsbuild(
    br,
    [
      '-t',
      'excl:1',
      '--secret',
      `id=tok,src=${join(dir, 'tok.txt')}`,
      '--secret',
      'id=envsec,env=MY_SECRET',
      dir,
    ],
    { MY_SECRET: 'from-env' },
  );
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('excl:1'));
  assert.ok(existsSync(join(u.rootfs, 'c/keep.txt')));
  assert.ok(!existsSync(join(u.rootfs, 'c/drop.md')));
  assert.ok(!existsSync(join(u.rootfs, 'c/sub')));
  assert.equal(readFileSync(join(u.rootfs, 't1'), 'utf8'), 'from-file\n');
  assert.equal(readFileSync(join(u.rootfs, 't2'), 'utf8'), 'from-env');
  assert.ok(!existsSync(join(u.rootfs, 's.txt')));
  await u.close();
  assert.deepEqual(await leftoverTemps(br), []);
});

test('an interrupted build (SIGTERM during RUN) leaves no temp dirs, cgroups or processes', async () => {
  const dir = await context('interrupt', {
    Dockerfile: 'FROM busybox\nRUN echo started; sleep 37\n',
  });
  const child = spawn(process.execPath, [TSBUILD, '--progress=plain', '-t', 'intr:1', dir], {
    env: br.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  for (let i = 0; i < 100 && !/[\d.]+ started/.test(log); i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.match(log, /[\d.]+ started/);
  // the check below looks where RUN cgroups really are: it sees this one while it runs
  assert.notDeepEqual(runCgroups(child.pid!), [], 'the running RUN has a cgroup under tsdock/');
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 143);
  assert.deepEqual(await leftoverTemps(br), []);
  assert.deepEqual(runCgroups(child.pid!), [], 'no RUN cgroup left');
  const procs = run('ps', ['-eo', 'args']);
  assert.ok(!procs.includes('sleep 37'), 'the RUN process is gone');
  assert.ok(!tagged(br).some((t) => t.includes('intr:1')));
});

test('RUN --network=host sees the host network and resolver; nothing of it stays in the layer', async () => {
  const dir = await context('net-host', {
    Dockerfile:
      'FROM busybox\nRUN --network=host cat /etc/resolv.conf > /r.txt && ls /sys/class/net > /n.txt\n',
  });
  const res = tsbuild(br, ['-t', 'nethost:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('nethost:1'));
  if (existsSync('/etc/resolv.conf'))
    assert.equal(
      readFileSync(join(u.rootfs, 'r.txt'), 'utf8'),
      readFileSync('/etc/resolv.conf', 'utf8'),
    );
  assert.deepEqual(
    readFileSync(join(u.rootfs, 'n.txt'), 'utf8').trim().split('\n').sort(),
    readdirSync('/sys/class/net').sort(),
  );
  assert.ok(
    !existsSync(join(u.rootfs, 'etc/resolv.conf')),
    'the bind-mount point is not part of the layer',
  );
  await u.close();
});
