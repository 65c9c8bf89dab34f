// tsbuild semantics checked side by side with docker's BuildKit (a private dockerd) where it can
// run here: exit codes of failed builds (1) and command-line mistakes (125), a missing base
// image's error (its Dockerfile line, no retries of a refused connection), the parsed-Dockerfile
// cache keyed by the parser, and RUN --mount options of cache and secret mounts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  tsbuild,
  unpack,
  writeContext,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { startBuildKit, type BuildKitPeer } from '../helpers/buildkit.js';
import { peerNotCompared } from '../helpers/peers.js';

let br: BuildRoot;
let work: string;
let bk: BuildKitPeer | undefined;
let bkReason = '';

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-sem-'));
  const peer = await startBuildKit();
  if ('reason' in peer) bkReason = peer.reason;
  else bk = peer;
});
after(async () => {
  await bk?.close();
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A loopback port nothing listens on (bound, then closed). */
async function refusedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('exit codes as docker build: 1 for every build failure, 125 for command-line mistakes', async (t) => {
  const port = await refusedPort();
  const cases: { name: string; files: Record<string, string>; args?: string[]; want: number }[] = [
    { name: 'failed-run', files: { Dockerfile: 'FROM busybox\nRUN exit 3\n' }, want: 1 },
    { name: 'syntax', files: { Dockerfile: 'FROM busybox\nRUNN x\n' }, want: 1 },
    { name: 'bad-port', files: { Dockerfile: 'FROM busybox\nEXPOSE http\n' }, want: 1 },
    { name: 'missing-file', files: { Dockerfile: 'FROM busybox\nCOPY nothere /x\n' }, want: 1 },
    {
      name: 'missing-base',
      files: { Dockerfile: `FROM 127.0.0.1:${port}/nothing:1\nRUN true\n` },
      want: 1,
    },
    { name: 'no-target', files: { Dockerfile: 'FROM busybox\n' }, args: ['--target=x'], want: 1 },
    { name: 'no-dockerfile', files: { x: '' }, want: 1 },
    { name: 'bad-flag', files: { Dockerfile: 'FROM busybox\n' }, args: ['--nope'], want: 125 },
    { name: 'bad-tag', files: { Dockerfile: 'FROM busybox\n' }, args: ['-t', 'A B'], want: 125 },
  ];
  if (!bk) peerNotCompared(t, bkReason);
  for (const c of cases) {
    const dir = await writeContext(work, `exit-${c.name}`, c.files);
    const ours = tsbuild(br, [...(c.args ?? []), dir]);
    assert.equal(ours.status, c.want, `${c.name}: tsbuild exit ${ours.status}: ${ours.stderr}`);
    assert.equal(ours.stderr.trim().split('\n').at(-1)!.startsWith('tsbuild: '), true, c.name);
    if (bk) {
      const theirs = bk.build([...(c.args ?? []), dir]);
      assert.equal(theirs.status, c.want, `${c.name}: docker build exit ${theirs.status}`);
    }
  }
});

test('a missing base image: the error names the FROM line; a refused connection is not retried', async () => {
  const port = await refusedPort();
  const dir = await writeContext(work, 'missing-base', {
    Dockerfile: `FROM busybox AS ok\nRUN true\n\nFROM 127.0.0.1:${port}/team/app:1 AS app\nRUN true\n`,
  });
  const res = tsbuild(br, ['--target=app', dir]);
  assert.equal(res.status, 1, res.stderr);
  assert.match(
    res.stderr,
    new RegExp(
      `^tsbuild: Dockerfile:4: base image 127\\.0\\.0\\.1:${port}/team/app:1: cannot connect to registry 127\\.0\\.0\\.1:${port}: ECONNREFUSED`,
      'm',
    ),
  );
  // the step's own log line says it too (plain progress)
  assert.match(res.stderr, /#\d+ ERROR: Dockerfile:4: base image/);
});

test('the cache of parsed Dockerfiles is keyed by the parser too: an entry of another build is not used', async () => {
  const text = 'FROM busybox\nLABEL v=real\n';
  const dir = await writeContext(work, 'parse-cache', { Dockerfile: text });
  // What an earlier tsbuild stored for the same name and text, parsed differently.
  const line = (n: number, keyword: string, args: string) => ({
    file: 'Dockerfile',
    line: n,
    endLine: n,
    keyword,
    args,
    heredocs: [],
    original: `${keyword} ${args}`,
  });
  const stale = {
    directives: { escape: '\\' },
    instructions: [line(1, 'FROM', 'busybox'), line(2, 'LABEL', 'v=stale')],
  };
  const parsedDir = join(br.root, 'build-cache', 'parsed');
  await mkdir(parsedDir, { recursive: true });
  const oldKey = createHash('sha256').update(`Dockerfile\0${text}`).digest('hex');
  await writeFile(join(parsedDir, `${oldKey}.json`), JSON.stringify(stale));
  const before = new Set(await readdir(parsedDir));
  const res = tsbuild(br, ['-t', 'parse-cache:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  const labels = (inspectConfig(br, fullRef('parse-cache:1')).config as { Labels?: object }).Labels;
  assert.deepEqual(labels, { v: 'real' });
  const added = (await readdir(parsedDir)).filter((f) => !before.has(f));
  assert.equal(added.length, 1, 'this parse is cached under a key of its own');
  assert.equal(tsbuild(br, ['-t', 'parse-cache:1', dir]).status, 0);
  assert.equal((await readdir(parsedDir)).length, before.size + 1, 'and reused');
});

const MOUNTS_DOCKERFILE = `FROM busybox AS seed
RUN mkdir -p /seed/sub && echo seeded > /seed/sub/file

FROM busybox
RUN --mount=type=cache,target=/c1,uid=1000,gid=1001,mode=0750 stat -c '%u:%g:%a' /c1 > /c1.txt
RUN --mount=type=cache,target=/c2,id=shared-id echo one > /c2/x
RUN --mount=type=cache,target=/c3,id=shared-id cat /c3/x > /c3.txt
RUN --mount=type=cache,target=/c4,from=seed,source=/seed cat /c4/sub/file > /c4.txt
RUN --mount=type=cache,target=/c5,sharing=locked echo locked > /c5/y && cat /c5/y > /c5.txt
RUN --mount=type=cache,target=/c6,sharing=private echo private > /c6/y && cat /c6/y > /c6.txt
RUN --mount=type=secret,id=tok,uid=1000,gid=1001,mode=0440 stat -c '%u:%g:%a' /run/secrets/tok > /s1.txt && cat /run/secrets/tok >> /s1.txt
RUN --mount=type=secret,id=tok,target=/etc/tok stat -c '%u:%g:%a' /etc/tok > /s2.txt
RUN --mount=type=secret,id=absent echo not-required > /s4.txt
RUN --mount=type=secret,source=tok,target=/y cat /y > /s5.txt
`;

const MOUNTS_EXPECTED: Record<string, string> = {
  'c1.txt': '1000:1001:750\n', // cache dir made with uid, gid and mode
  'c3.txt': 'one\n', // same id, same cache
  'c4.txt': 'seeded\n', // seeded from a stage, mounted at source
  'c5.txt': 'locked\n',
  'c6.txt': 'private\n',
  's1.txt': '1000:1001:440\nsecret-value', // secret owner and mode
  's2.txt': '0:0:400\n', // secret defaults
  's4.txt': 'not-required\n', // a missing optional secret is skipped
  's5.txt': 'secret-value', // source= names the secret
};

test('RUN --mount cache (uid, gid, mode, id, from, source, sharing) and secret (uid, gid, mode, source) as BuildKit', async (t) => {
  const secretFile = join(work, 'tok');
  await writeFile(secretFile, 'secret-value');
  const dir = await writeContext(work, 'mounts', { Dockerfile: MOUNTS_DOCKERFILE });
  const args = ['--secret', `id=tok,src=${secretFile}`];
  const res = tsbuild(br, ['-t', 'mounts:1', ...args, dir]);
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('mounts:1'));
  try {
    for (const [f, want] of Object.entries(MOUNTS_EXPECTED))
      assert.equal(readFileSync(join(u.rootfs, f), 'utf8'), want, `tsbuild ${f}`);
  } finally {
    await u.close();
  }
  if (!bk) return peerNotCompared(t, bkReason);
  const fs = bk.exportFs(args, dir, work);
  for (const [f, want] of Object.entries(MOUNTS_EXPECTED))
    assert.equal(readFileSync(join(fs, f), 'utf8'), want, `BuildKit ${f}`);
});

test('secret env= (with and without a file) and required=true', async () => {
  const dir = await writeContext(work, 'secret-env', {
    Dockerfile:
      'FROM busybox\n' +
      'RUN --mount=type=secret,id=tok,env=TOK sh -c \'echo "$TOK" > /e1; ls /run/secrets 2>/dev/null | wc -l >> /e1\'\n' +
      'RUN --mount=type=secret,id=tok,env=TOK2,target=/t,mode=0444 sh -c \'echo "$TOK2" > /e2; cat /t >> /e2\'\n',
  });
  const res = tsbuild(br, ['-t', 'secret-env:1', '--secret', 'id=tok,env=MY_TOKEN', dir], {
    MY_TOKEN: 'from-env',
  });
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('secret-env:1'));
  try {
    assert.equal(readFileSync(join(u.rootfs, 'e1'), 'utf8'), 'from-env\n0\n', 'env only: no file');
    assert.equal(readFileSync(join(u.rootfs, 'e2'), 'utf8'), 'from-env\nfrom-env');
    const cfg = inspectConfig(br, fullRef('secret-env:1'));
    assert.ok(!JSON.stringify(cfg).includes('from-env'), 'the value is in no config or history');
  } finally {
    await u.close();
  }
  const req = await writeContext(work, 'secret-required', {
    Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=missing,required=true true\n',
  });
  const bad = tsbuild(br, [req]);
  assert.equal(bad.status, 1);
  assert.match(
    bad.stderr,
    /Dockerfile:2: secret missing not found: pass --secret id=missing,src=FILE/,
  );
});

test('cache sharing: locked RUNs take turns and private ones get a directory each; shared is one', async () => {
  // Two stages built at the same time use one cache id; each claims the cache, waits, and checks
  // that the claim is still its own (shared would let the other overwrite it meanwhile).
  const claim = (sharing: string, who: string) =>
    `RUN --mount=type=cache,target=/c,id=turns-${sharing},sharing=${sharing} ` +
    `sh -c 'echo ${who} > /c/owner; sleep 2; test "$(cat /c/owner)" = ${who} && ls /c > /seen-${who}'`;
  for (const sharing of ['locked', 'private']) {
    const dir = await writeContext(work, `sharing-${sharing}`, {
      Dockerfile:
        `FROM busybox AS a\n${claim(sharing, 'a')}\n` +
        `FROM busybox AS b\n${claim(sharing, 'b')}\n` +
        'FROM busybox\nCOPY --from=a /seen-a /\nCOPY --from=b /seen-b /\n',
    });
    const res = tsbuild(br, ['-t', `sharing-${sharing}:1`, dir]);
    assert.equal(res.status, 0, `${sharing}: ${res.stderr}`);
  }
  const mounts = join(br.root, 'build-cache', 'mounts');
  assert.deepEqual(
    (await readdir(mounts)).filter((n) => n.endsWith('.lock')),
    [],
    'no lock is left behind',
  );
});

test('the file-digest table keeps no rows for the temp views of COPY --from (they piled up)', async () => {
  const dir = await writeContext(work, 'digest-rows', {
    Dockerfile:
      'FROM busybox AS a\nRUN mkdir /d && echo x > /d/f && echo y > /d/g\n' +
      'FROM busybox\nCOPY --from=a /d /d\nCOPY ctx.txt /\n',
    'ctx.txt': 'from the context\n',
  });
  for (const extra of [[], ['--no-cache']])
    assert.equal(tsbuild(br, [...extra, dir]).status, 0, 'build');
  const table = JSON.parse(
    readFileSync(join(br.root, 'build-cache', 'file-digests.json'), 'utf8'),
  ) as Record<string, unknown>;
  const paths = Object.keys(table);
  assert.ok(paths.includes(join(dir, 'ctx.txt')), 'context files are remembered');
  assert.deepEqual(
    paths.filter((p) => p.startsWith(join(br.root, 'tmp'))),
    [],
    'nothing under the temp dir',
  );
});
