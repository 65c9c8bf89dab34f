// tsbuild semantics checked side by side with docker's BuildKit (a private dockerd) where it can
// run here: exit codes of failed builds (1) and command-line mistakes (125), a missing base
// image's error (its Dockerfile line, no retries of a refused connection), the parsed-Dockerfile
// cache keyed by the parser, and RUN --mount options of cache and secret mounts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  tsbuild,
  writeContext,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { startBuildKit, type BuildKitPeer } from '../helpers/buildkit.js';

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
  if (!bk) t.diagnostic(`docker's codes not compared: ${bkReason}`);
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
