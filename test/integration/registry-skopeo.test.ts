// Real clients against tsregistry: skopeo copy in and out (verified with umoci-free digest
// checks), inspect, copy between repositories (cross-repo mount), delete; and the tsregistry
// CLI: the embedded default's one-time admin password, user add/list/remove, gc --dry-run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeImage,
  run,
  sha256,
  spawnRegistry,
  startRegistry,
  tsregistryBin,
  writeOciLayout,
  type TestRegistry,
} from '../helpers/registry-server.js';
import { requirePeer } from '../helpers/peers.js';

let reg: TestRegistry;
let dir: string;
before(async () => {
  reg = await startRegistry();
  dir = mkdtempSync(join(tmpdir(), 'tsreg-skopeo-'));
});
after(async () => {
  await reg.close();
  rmSync(dir, { recursive: true, force: true });
});

const skopeo = (...args: string[]) => run('skopeo', args, { timeoutMs: 60_000 });

test(
  'skopeo copy in, inspect, copy across repos, copy out, delete',
  { timeout: 90_000 },
  async (t) => {
    if (!requirePeer(t, 'skopeo')) return;
    const img = makeImage([1_000_000, 1000]);
    writeOciLayout(join(dir, 'in'), 'v1', img);
    let r = await skopeo(
      'copy',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${join(dir, 'in')}:v1`,
      `docker://${reg.host}/sk/app:v1`,
    );
    assert.equal(r.status, 0, r.stderr);
    r = await skopeo('inspect', '--tls-verify=false', `docker://${reg.host}/sk/app:v1`);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { Digest: string; RepoTags: string[]; Layers: string[] };
    assert.equal(info.Digest, img.digest, 'manifest stored byte-exact');
    assert.deepEqual(info.RepoTags, ['v1']);
    assert.deepEqual(
      info.Layers,
      img.layers.map((l) => sha256(l)),
    );
    r = await skopeo(
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${reg.host}/sk/app:v1`,
      `docker://${reg.host}/sk/copy:v2`,
    );
    assert.equal(r.status, 0, r.stderr);
    r = await skopeo(
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${reg.host}/sk/copy:v2`,
      `oci:${join(dir, 'out')}:v2`,
    );
    assert.equal(r.status, 0, r.stderr);
    for (const b of img.layers) {
      const copied = readFileSync(join(dir, 'out', 'blobs', 'sha256', sha256(b).slice(7)));
      assert.equal(sha256(copied), sha256(b));
    }
    r = await skopeo('delete', '--tls-verify=false', `docker://${reg.host}/sk/app:v1`);
    assert.equal(r.status, 0, r.stderr);
    r = await skopeo('inspect', '--tls-verify=false', `docker://${reg.host}/sk/app:v1`);
    assert.notEqual(r.status, 0, 'deleted');
    const tags = await skopeo('list-tags', '--tls-verify=false', `docker://${reg.host}/sk/copy`);
    assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags, ['v2']);
  },
);

test(
  'tsregistry CLI: embedded default admin, user add/list/remove, gc --dry-run',
  { timeout: 60_000 },
  async () => {
    const root = join(dir, 'cli');
    const env = { ...process.env, TSDOCK_ROOT: root, REGISTRY_HTTP_ADDR: '127.0.0.1:0' };
    const node = (args: string[], input?: string) =>
      run(
        'env',
        [
          ...Object.entries(env)
            .filter(([k]) => k === 'TSDOCK_ROOT' || k === 'PATH')
            .map(([k, v]) => `${k}=${v}`),
          process.execPath,
          tsregistryBin(),
          ...args,
        ],
        { input },
      );
    let r = await node(
      ['user', 'add', 'bob', '--password-stdin', '--access', 'repository:bob/*:pull,push'],
      'secret\n',
    );
    assert.equal(r.status, 0, r.stderr);
    r = await node(['user', 'list']);
    assert.match(r.stdout, /^bob\trepository:bob\/\*:pull,push$/m);
    r = await node(['user', 'add', 'x', '--access', 'nonsense']);
    assert.equal(r.status, 125);
    r = await node(['user', 'remove', 'bob']);
    assert.equal(r.status, 0);
    r = await node(['user', 'list']);
    assert.doesNotMatch(r.stdout, /bob/);
    // No config file: token auth on, admin created once with a password shown once.
    const first = await serveBriefly(root);
    const m = /created user "admin" with password (\S+)/.exec(first);
    assert.ok(m, first);
    assert.doesNotMatch(await serveBriefly(root), /created user/);
    r = await node(['user', 'list']);
    assert.match(r.stdout, /^admin\t/m);
    // gc --dry-run (online, then offline) with one unreferenced blob.
    const gcRoot = join(dir, 'gc');
    const p = await spawnRegistry(gcRoot);
    const orphan = Buffer.from('orphan blob');
    const post = await fetch(`${p.url}/v2/g/r/blobs/uploads/?digest=${sha256(orphan)}`, {
      method: 'POST',
      body: orphan,
    });
    assert.equal(post.status, 201);
    // While the server runs (and holds the store) the CLI asks it to collect online.
    const gcArgs = [
      tsregistryBin(),
      'gc',
      '--dry-run',
      '--grace',
      '0',
      '--config',
      join(gcRoot, 'config.yml'),
    ];
    r = await run(process.execPath, gcArgs);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`would delete blob ${sha256(orphan)}`));
    await p.stop();
    r = await run(process.execPath, [
      tsregistryBin(),
      'gc',
      '--dry-run',
      '--config',
      join(gcRoot, 'config.yml'),
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`would delete blob ${sha256(orphan)}`));
    r = await run(process.execPath, [
      tsregistryBin(),
      'gc',
      '--config',
      join(gcRoot, 'config.yml'),
    ]);
    assert.match(r.stdout, /deleted 1 blobs/);
  },
);

/** Runs `tsregistry` with the embedded default for a moment; returns its stderr. */
async function serveBriefly(root: string): Promise<string> {
  const child = spawn(process.execPath, [tsregistryBin()], {
    env: {
      ...process.env,
      TSDOCK_ROOT: root,
      REGISTRY_HTTP_ADDR: '127.0.0.1:0',
      REGISTRY_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) resolve();
    });
    setTimeout(resolve, 5000).unref();
  });
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return out;
}
