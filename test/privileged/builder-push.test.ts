// tsbuild --push against the reference registry (docker-registry), read back with skopeo; where
// a Docker daemon can be started, `docker run` of the pushed image prints what the Dockerfile
// put there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/builder-fixtures.js';
import { makeBuildRoot, run, tsbuild, type BuildRoot } from '../helpers/builder-run.js';
import { startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';
import { startDockerd } from '../helpers/dockerd.js';
import { missingReason, peerUnavailable, requirePeer } from '../helpers/peers.js';

let br: BuildRoot;
let reg: ReferenceRegistry | undefined;

before(async () => {
  br = await makeBuildRoot();
  if (!missingReason('docker-registry')) reg = await startReferenceRegistry();
});
after(async () => {
  await reg?.close();
  await br?.close();
});

test('--push sends the image to a registry; docker runs it', async (t) => {
  if (!requirePeer(t, 'docker-registry', 'skopeo') || !reg) return;
  const ref = `${reg.host}/tsbuild/p1:v1`;
  const res = tsbuild(br, [
    '-t',
    ref,
    '--push',
    join(fixturesDir(), 'dockerfiles', 'reference-example'),
  ]);
  assert.equal(res.status, 0, res.stderr);
  const cfg = JSON.parse(
    run('skopeo', ['inspect', '--tls-verify=false', '--config', `docker://${ref}`]),
  ) as { config: { Env: string[]; Cmd: string[] } };
  assert.ok(cfg.config.Env.includes('NAME=World'));
  assert.deepEqual(cfg.config.Cmd, ['httpd', '-f', '-p', '80', '-h', '/app/www']);
  const d = await startDockerd();
  if (!d.ok) return peerUnavailable(t, d.reason);
  try {
    const out = d.dockerd.docker(
      [
        'run',
        '--rm',
        '--network',
        'none',
        ref,
        'sh',
        '-c',
        'cat /app/installed.txt; echo "Hello $NAME!"',
      ],
      { timeoutMs: 120_000 },
    );
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, 'installed httpd\nHello World!\n');
    const tar = join(br.root, 'p1-docker.tar');
    const built = tsbuild(br, [
      '-t',
      'loadme:v1',
      '--output',
      `type=docker,dest=${tar}`,
      join(fixturesDir(), 'dockerfiles', 'reference-example'),
    ]);
    assert.equal(built.status, 0, built.stderr);
    const loaded = d.dockerd.docker(['load', '-i', tar]);
    assert.equal(loaded.status, 0, loaded.stderr);
    const ran = d.dockerd.docker([
      'run',
      '--rm',
      '--network',
      'none',
      'loadme:v1',
      'cat',
      '/app/www/index.html',
    ]);
    assert.equal(ran.stdout, '<p>Hello</p>\n', ran.stderr);
  } finally {
    await d.dockerd.close();
  }
});

test('--cache-to a registry, then --cache-from it in a fresh store: every step is CACHED', async (t) => {
  if (!requirePeer(t, 'docker-registry', 'skopeo') || !reg) return;
  const ctx = join(fixturesDir(), 'dockerfiles', 'whiteouts');
  const cacheRef = `${reg.host}/tsbuild/cache:whiteouts`;
  const first = tsbuild(br, ['-t', 'cached:1', '--cache-to', `type=registry,ref=${cacheRef}`, ctx]);
  assert.equal(first.status, 0, first.stderr);
  const fresh = await makeBuildRoot();
  try {
    const res = tsbuild(fresh, ['-t', 'cached:2', '--cache-from', cacheRef, ctx]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr.match(/CACHED/g)?.length, 3, res.stderr);
    assert.match(res.stderr, /importing cache manifest from .*\n#\d+ 3 records/);
    const files = run('skopeo', [
      'inspect',
      '--config',
      `oci:${fresh.layout}:docker.io/library/cached:2`,
    ]);
    assert.ok(files.includes('diff_ids') || files.includes('rootfs'));
  } finally {
    await fresh.close();
  }
});
