// The registry's container image: registry/Dockerfile (used by docker-compose.yml) builds with
// `docker build` from a local Node base image given as the BASE_IMAGE build arg (no internet
// here: the base is assembled from this machine's node binary and its libraries), and the
// container serves /healthz with the compose config (token auth on, data on the volume).
// Skipped with a reason when dockerd cannot run here.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd } from '../helpers/dockerd.js';
import { buildContext, compiled, importNodeBase, nodeBaseTar } from '../helpers/node-base-image.js';
import { makeImage, run, startRegistry, writeOciLayout } from '../helpers/registry-server.js';
import { peerUnavailable } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'tsreg-image-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  'registry/Dockerfile builds with docker build and the container serves',
  { timeout: 240_000 },
  async (t) => {
    const started = await startDockerd({});
    if (!started.ok) return peerUnavailable(t, started.reason);
    const d = started.dockerd;
    try {
      importNodeBase(d, dir, 'local/node-base:20');
      const ctx = join(dir, 'ctx');
      buildContext(ctx);
      let r = d.docker(
        [
          'build',
          '-q',
          '-f',
          'registry/Dockerfile',
          '--build-arg',
          'BASE_IMAGE=local/node-base:20',
          '-t',
          'tsregistry:test',
          ctx,
        ],
        { timeoutMs: 200_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      r = d.docker(['run', '-d', '--name', 'tsreg', '--network', 'none', 'tsregistry:test']);
      assert.equal(r.status, 0, r.stderr);
      const probe =
        "fetch('http://127.0.0.1:5000/v2/').then(async r=>{console.log(r.status, r.headers.get('www-authenticate'));process.exit(0)},e=>{console.error(e);process.exit(1)})";
      let out = '';
      for (let i = 0; i < 50 && !out.includes('401'); i++) {
        out = d.docker(['exec', 'tsreg', 'node', '-e', probe]).stdout;
        if (!out.includes('401')) await new Promise((res) => setTimeout(res, 200));
      }
      assert.match(
        out,
        /^401 Bearer realm="http:\/\/127\.0\.0\.1:5000\/token",service="tsregistry"/,
        'token auth on per compose-config.yml',
      );
      r = d.docker(
        [
          'exec',
          '-i',
          'tsreg',
          'node',
          '/opt/tsdock/dist/bin/tsregistry.js',
          'user',
          'add',
          'ops',
          '--password-stdin',
          '--config',
          '/etc/tsregistry/config.yml',
        ],
        { input: 'pw\n' },
      );
      assert.equal(r.status, 0, r.stderr);
      r = d.docker(['stop', '-t', '20', 'tsreg']);
      assert.equal(r.status, 0, r.stderr);
      const logs = d.docker(['logs', 'tsreg']);
      assert.match(logs.stdout, /"msg":"shutting down"/, 'graceful shutdown on SIGTERM');
    } finally {
      d.docker(['rm', '-f', 'tsreg']);
      await d.close();
    }
  },
);

test(
  'registry/Dockerfile builds with tsbuild from a base pulled from tsregistry, and pushes back',
  { timeout: 120_000 },
  async (t) => {
    const tsbuild = join(compiled, 'bin', 'tsbuild.js');
    if (!existsSync(tsbuild)) return t.skip('tsbuild is not built');
    const work = join(dir, 'tsbuild');
    const img = makeImage([readFileSync(nodeBaseTar(work))]);
    writeOciLayout(join(work, 'layout'), '20', img);
    buildContext(join(work, 'ctx'));
    const reg = await startRegistry();
    try {
      let r = await run('skopeo', [
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${join(work, 'layout')}:20`,
        `docker://${reg.host}/local/node-base:20`,
      ]);
      assert.equal(r.status, 0, r.stderr);
      r = await run(
        'env',
        [
          `TSDOCK_ROOT=${join(work, 'root')}`,
          process.execPath,
          tsbuild,
          '--progress',
          'plain',
          '-f',
          join(work, 'ctx', 'registry', 'Dockerfile'),
          '--build-arg',
          `BASE_IMAGE=${reg.host}/local/node-base:20`,
          '-t',
          `${reg.host}/tsregistry:built`,
          '--push',
          join(work, 'ctx'),
        ],
        { timeoutMs: 100_000 },
      );
      assert.equal(r.status, 0, r.stderr + r.stdout);
      r = await run('skopeo', [
        'inspect',
        '--config',
        '--tls-verify=false',
        `docker://${reg.host}/tsregistry:built`,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const config = (JSON.parse(r.stdout) as { config: { Entrypoint: string[]; Cmd: string[] } })
        .config;
      assert.deepEqual(config.Entrypoint, ['node', '/opt/tsdock/dist/bin/tsregistry.js']);
      assert.deepEqual(config.Cmd, ['--config', '/etc/tsregistry/config.yml']);
    } finally {
      await reg.close();
    }
  },
);
