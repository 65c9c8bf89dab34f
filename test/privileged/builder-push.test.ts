// tsbuild --push against the reference registry (docker-registry), read back with skopeo; where
// a Docker daemon can be started, `docker run` of the pushed image prints what the Dockerfile
// put there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/builder-fixtures.js';
import { makeBuildRoot, run, tsbuild, type BuildRoot } from '../helpers/builder-run.js';
import {
  referenceRegistryAvailable,
  startReferenceRegistry,
  type ReferenceRegistry,
} from '../helpers/reference-registry.js';
import { startDockerd } from '../helpers/dockerd.js';

let br: BuildRoot;
let reg: ReferenceRegistry | undefined;

before(async () => {
  br = await makeBuildRoot();
  if (referenceRegistryAvailable()) reg = await startReferenceRegistry();
});
after(async () => {
  await reg?.close();
  await br?.close();
});

test('--push sends the image to a registry; docker runs it', async (t) => {
  if (!reg) return t.skip('docker-registry not installed');
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
  if (!d.ok) return t.skip(d.reason);
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
  } finally {
    await d.dockerd.close();
  }
});
