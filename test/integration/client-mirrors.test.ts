// tspull with registry mirrors (shared/client/mirrors.ts), all on loopback: the mirror is a
// tsregistry in proxy mode in front of a tsregistry holding library/busybox; the pulled
// registry's own address is a dead port, so only the mirror can serve. A dead first mirror is
// skipped; without mirrors the pull fails; TSDOCK_REGISTRY_MIRRORS and config.json
// `registry-mirrors` apply to docker.io images only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBusyboxLayout } from '../helpers/busybox-image.js';
import { freePort, run, startRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { mirrorsFor } from '../../shared/client/mirrors.js';
import { ContentStore } from '../../shared/store/content-store.js';

const tspull = fileURLToPath(new URL('../../bin/tspull.js', import.meta.url));
let dir: string;
let upstream: TestRegistry;
let mirror: TestRegistry;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-mirrors-'));
  upstream = await startRegistry();
  const push = await run('skopeo', [
    'copy',
    '--dest-tls-verify=false',
    `oci:${await ensureBusyboxLayout()}:latest`,
    `docker://${upstream.host}/library/busybox:latest`,
  ]);
  assert.equal(push.status, 0, push.stderr);
  mirror = await startRegistry({
    configure: (c) => {
      c.proxy = {
        maxsize: 0,
        upstreams: [
          {
            prefix: '',
            remoteurl: upstream.url,
            ttl: 60,
            tls: { insecureskipverify: false },
            local: [],
          },
        ],
      };
    },
  });
});

after(async () => {
  await mirror?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

function env(name: string, config: unknown): NodeJS.ProcessEnv {
  const configDir = join(dir, name, 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'config.json'), JSON.stringify(config));
  return {
    ...process.env,
    TSDOCK_ROOT: join(dir, name, 'root'),
    TSDOCK_CONFIG: configDir,
    DOCKER_CONFIG: join(dir, name, 'docker'),
    TSDOCK_REGISTRY_MIRRORS: '',
  };
}

test('tspull tries each mirror in order and is served by the first that works', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const deadMirror = `http://127.0.0.1:${await freePort()}`;
  const e = env('good', { mirrors: { [dead]: [deadMirror, mirror.url] } });
  const r = await run(process.execPath, [tspull, `${dead}/library/busybox:latest`], { env: e });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Pulled through mirror ${mirror.url.replace(/\./g, '\\.')}`));
  const store = await ContentStore.open(join(e.TSDOCK_ROOT!, 'images'));
  const pulled = await store.resolve(`${dead}/library/busybox:latest`);
  const upstreamRes = await fetch(`${upstream.url}/v2/library/busybox/manifests/latest`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(pulled.digest, upstreamRes.headers.get('docker-content-digest'));
});

test('without a working mirror the pull fails against the registry itself', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const e = env('none', {});
  const r = await run(process.execPath, [tspull, `${dead}/library/busybox:latest`], { env: e });
  assert.equal(r.status, 125);
  assert.match(r.stderr, /cannot connect to registry 127\.0\.0\.1:\d+/);
});

test('mirror settings: env first, then config.json; registry-mirrors only for docker.io', () => {
  const configDir = join(dir, 'settings');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'config.json'),
    JSON.stringify({
      'registry-mirrors': ['https://mirror-a.internal', 'http://127.0.0.1:5000/'],
      mirrors: { 'ghcr.io': ['https://ghcr-cache.internal'] },
    }),
  );
  const e = { TSDOCK_CONFIG: configDir, TSDOCK_REGISTRY_MIRRORS: 'http://127.0.0.1:6000' };
  assert.deepEqual(
    mirrorsFor('docker.io', e).map((m) => m.url),
    ['http://127.0.0.1:6000', 'https://mirror-a.internal', 'http://127.0.0.1:5000'],
  );
  assert.deepEqual(
    mirrorsFor('ghcr.io', e).map((m) => m.url),
    ['https://ghcr-cache.internal'],
  );
  assert.deepEqual(mirrorsFor('quay.io', e), []);
  assert.throws(
    () => mirrorsFor('docker.io', { TSDOCK_CONFIG: configDir, TSDOCK_REGISTRY_MIRRORS: 'ftp://x' }),
    /invalid registry mirror "ftp:\/\/x"/,
  );
});
