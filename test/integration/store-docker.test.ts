// Docker interop of our archives: `docker load` accepts what `tssave` (docker-tar) writes, with
// the same image id, and we import what `docker save` writes with the same id. Needs root and
// dockerd (skipped with the reason otherwise).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ContentStore } from '../../shared/store/content-store.js';
import { loadImage } from '../../shared/store/image.js';
import { exportLayout, importLayout } from '../../shared/store/layout-io.js';
import { importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { peerUnavailable } from '../helpers/peers.js';

let dockerd: Dockerd | undefined;
let skipReason = '';
const dir = mkdtempSync(join(tmpdir(), 'store-docker-'));

before(async () => {
  const res = await startDockerd();
  if (res.ok) dockerd = res.dockerd;
  else skipReason = res.reason;
});
after(async () => {
  await dockerd?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('docker load accepts our docker-tar; we import docker save output; ids match', async (t) => {
  if (!dockerd) return peerUnavailable(t, skipReason);
  const store = await ContentStore.open(join(dir, 'store'));
  await importBusybox(store, 'tsdock/busybox:exported');
  const id = (await loadImage(store, 'tsdock/busybox:exported')).configDescriptor.digest;
  const tarPath = join(dir, 'ours.tar');
  await exportLayout(store, ['tsdock/busybox:exported'], tarPath, { format: 'docker-tar' });

  const load = dockerd.docker(['load', '-i', tarPath]);
  assert.equal(load.status, 0, load.stderr);
  assert.match(load.stdout, /Loaded image: tsdock\/busybox:exported/);
  const inspect = dockerd.docker([
    'image',
    'inspect',
    '--format',
    '{{.Id}}',
    'tsdock/busybox:exported',
  ]);
  assert.equal(inspect.stdout.trim(), id);

  const saved = join(dir, 'docker-saved.tar');
  dockerd.docker(['tag', 'tsdock/busybox:exported', 'from-docker:v1']);
  const save = dockerd.docker(['save', '-o', saved, 'from-docker:v1']);
  assert.equal(save.status, 0, save.stderr);
  const fresh = await ContentStore.open(join(dir, 'fresh'));
  const [img] = await importLayout(fresh, saved);
  assert.deepEqual(img!.names, ['docker.io/library/from-docker:v1']);
  const back = await loadImage(fresh, 'from-docker:v1');
  assert.equal(back.configDescriptor.digest, id);
});
