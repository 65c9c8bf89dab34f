// The store against real OCI tools: umoci and skopeo read what we write (the store itself and
// our exports), and we import what they write (layouts, oci-archive, docker-archive) with
// identical digests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ContentStore } from '../../shared/store/content-store.js';
import { loadImage } from '../../shared/store/image.js';
import { exportLayout, importLayout } from '../../shared/store/layout-io.js';
import { ensureBusyboxLayout, importBusybox } from '../helpers/busybox-image.js';

const REF = 'docker.io/library/busybox:latest';
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'store-peers-'));
  dirs.push(d);
  return d;
}

function run(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(res.status, 0, `${cmd} ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout;
}

const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
let layout: string;
let umociDigest: string;
before(async () => {
  layout = await ensureBusyboxLayout();
  umociDigest = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest;
});

test('an image in our store is read by umoci unpack and skopeo (inspect, copy)', async () => {
  const root = tempDir();
  const store = await ContentStore.open(root);
  const { descriptor } = await importBusybox(store);
  const bundle = join(tempDir(), 'bundle');
  run('umoci', ['unpack', ...rootless, '--image', `${root}:${REF}`, bundle]);
  assert.ok(lstatSync(join(bundle, 'rootfs', 'bin', 'busybox')).isFile());
  assert.equal(readlinkSync(join(bundle, 'rootfs', 'bin', 'sh')), 'busybox');
  assert.match(readFileSync(join(bundle, 'rootfs', 'etc', 'passwd'), 'utf8'), /^nobody:x:65534/m);
  const inspected = JSON.parse(run('skopeo', ['inspect', `oci:${root}:${REF}`]));
  assert.equal(inspected.Digest, descriptor.digest);
  const copy = join(tempDir(), 'copy');
  run('skopeo', ['copy', '-q', `oci:${root}:${REF}`, `oci:${copy}:${REF}`]);
  const copied = JSON.parse(readFileSync(join(copy, 'index.json'), 'utf8'));
  assert.equal(copied.manifests[0].digest, descriptor.digest);
});

test('layouts written by umoci and skopeo are imported with identical digests', async () => {
  const store = await ContentStore.open(tempDir());
  // umoci wrote the fixture layout.
  const [fromUmoci] = await importLayout(store, layout, { refs: ['bb:umoci'] });
  assert.equal(fromUmoci!.descriptor.digest, umociDigest);
  // skopeo: an OCI layout directory and an oci-archive tar.
  const dir = join(tempDir(), 'sk');
  run('skopeo', ['copy', '-q', `oci:${layout}:latest`, `oci:${dir}:skopeo.example/bb:v1`]);
  const skDigest = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests[0].digest;
  const [fromDir] = await importLayout(store, dir);
  assert.equal(fromDir!.descriptor.digest, skDigest);
  assert.deepEqual(fromDir!.names, ['skopeo.example/bb:v1']);
  const archive = join(tempDir(), 'oci.tar');
  run('skopeo', ['copy', '-q', `oci:${layout}:latest`, `oci-archive:${archive}:bb`]);
  const [fromTar] = await importLayout(store, archive, { refs: ['bb:tar'] });
  assert.equal(fromTar!.descriptor.digest, skDigest);
  assert.equal((await store.resolve('bb:tar')).digest, skDigest);
});

test('a docker-archive written by skopeo (legacy docker save) is imported with its tag and config', async () => {
  const store = await ContentStore.open(tempDir());
  const archive = join(tempDir(), 'docker.tar');
  run('skopeo', ['copy', '-q', `oci:${layout}:latest`, `docker-archive:${archive}:busybox:saved`]);
  const [img] = await importLayout(store, archive);
  assert.deepEqual(img!.names, ['docker.io/library/busybox:saved']);
  const ours = await loadImage(store, 'busybox:saved');
  const theirs = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:latest`]));
  assert.deepEqual(ours.config.rootfs.diff_ids, theirs.rootfs.diff_ids);
  assert.equal(ours.config.config?.Cmd?.[0], '/bin/sh');
});

test('our exports are read by umoci (oci-dir) and skopeo (oci-archive, docker-archive)', async () => {
  const store = await ContentStore.open(tempDir());
  const { descriptor } = await importBusybox(store);
  await store.tag('127.0.0.1:5000/team/bb:v2', descriptor);
  const out = tempDir();
  const dir = join(out, 'layout');
  await exportLayout(store, ['busybox', '127.0.0.1:5000/team/bb:v2'], dir, { format: 'oci-dir' });
  run('umoci', [
    'unpack',
    ...rootless,
    '--image',
    `${dir}:127.0.0.1:5000/team/bb:v2`,
    join(out, 'bundle'),
  ]);
  assert.ok(existsSync(join(out, 'bundle', 'rootfs', 'bin', 'busybox')));
  const ociTar = join(out, 'x-oci.tar');
  await exportLayout(store, ['busybox'], ociTar, { format: 'oci-tar' });
  assert.equal(
    JSON.parse(run('skopeo', ['inspect', `oci-archive:${ociTar}:${REF}`])).Digest,
    descriptor.digest,
  );
  const dockerTar = join(out, 'x-docker.tar');
  await exportLayout(store, ['busybox'], dockerTar, { format: 'docker-tar' });
  // Found by the name in manifest.json's RepoTags.
  const viaDocker = JSON.parse(
    run('skopeo', ['inspect', `docker-archive:${dockerTar}:busybox:latest`]),
  );
  assert.equal(viaDocker.Name, 'docker.io/library/busybox');
  const ours = await loadImage(store, 'busybox');
  assert.deepEqual(viaDocker.Layers, ours.config.rootfs.diff_ids); // it presents layers uncompressed
  // And our own import reads both back to the same manifest.
  const again = await ContentStore.open(tempDir());
  assert.equal((await importLayout(again, ociTar))[0]!.descriptor.digest, descriptor.digest);
  assert.equal((await importLayout(again, dockerTar))[0]!.descriptor.digest, descriptor.digest);
});
