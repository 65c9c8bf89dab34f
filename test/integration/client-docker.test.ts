// Interop with Docker's daemon and CLI through the reference registry: `docker pull` of what we
// pushed gives our manifest digest; what `docker push` wrote, we pull with Docker's digest.
// Needs root (a private dockerd); skipped otherwise.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pull, push } from '../../shared/client/transfer.js';
import { MediaType } from '../../shared/media-types.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { importBusybox } from '../helpers/busybox-image.js';
import { startDockerd } from '../helpers/dockerd.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';

test(
  'docker pulls what tspush pushed; tspull pulls what docker pushed',
  { skip: process.getuid?.() !== 0 && 'needs root (private dockerd)', timeout: 120_000 },
  async () => {
    const reg = await startReferenceRegistry();
    const tmp = mkdtempSync(join(tmpdir(), 'tsdock-client-docker-'));
    const started = await startDockerd({ insecureRegistries: [reg.host] });
    try {
      assert.ok(started.ok, started.ok ? '' : started.reason);
      const { docker } = started.dockerd;
      const store = await ContentStore.open(join(tmp, 'a'));
      await importBusybox(store, 'busybox:latest');
      const ours = await push(store, 'busybox:latest', { target: `${reg.host}/d/bb:v1` });

      const pulled = docker(['pull', `${reg.host}/d/bb:v1`]);
      assert.equal(pulled.status, 0, pulled.stderr);
      assert.match(pulled.stdout, new RegExp(`Digest: ${ours.digest}`));
      const run = docker(['run', '--rm', '--network', 'none', `${reg.host}/d/bb:v1`, 'echo', 'hi']);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, 'hi\n');

      assert.equal(docker(['tag', `${reg.host}/d/bb:v1`, `${reg.host}/d/fromdocker:v2`]).status, 0);
      const pushed = docker(['push', `${reg.host}/d/fromdocker:v2`]);
      assert.equal(pushed.status, 0, pushed.stderr);
      const m = /digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(pushed.stdout);
      assert.ok(m, pushed.stdout);
      const store2 = await ContentStore.open(join(tmp, 'b'));
      const back = await pull(store2, `${reg.host}/d/fromdocker:v2`);
      assert.equal(back.digest, m[1]);
      assert.equal(back.descriptor.size, Number(m[2]));
      assert.ok(
        [MediaType.DockerManifest, MediaType.OciManifest].includes(
          back.descriptor.mediaType as never,
        ),
      );
    } finally {
      if (started.ok) await started.dockerd.close();
      await reg.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);
