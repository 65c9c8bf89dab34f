// tsregistry as a pull-through cache, proven with real peers on loopback: the reference
// registry (token auth through test/helpers/token-issuer.ts) plays Docker Hub and holds
// library/busybox and a multi-platform index; tsregistry proxies it at the root (the daemon's
// mirror protocol) and under a prefix. skopeo pulls through both; a private dockerd with
// `registry-mirrors` pulls busybox; proxied repositories refuse pushes while a local one takes
// them; a moved tag is seen after the TTL; with the upstream stopped, cached tags and digests
// still pull (stale, said in a header) and a never-seen image fails with a clear error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';
import {
  makeImage,
  run,
  sha256,
  startRegistry,
  writeOciLayout,
  type TestImage,
  type TestRegistry,
} from '../helpers/registry-server.js';
import { ensureBusyboxLayout } from '../helpers/busybox-image.js';
import { startDockerd } from '../helpers/dockerd.js';
import type { UpstreamConfig } from '../../registry/proxy/config.js';
import { missingReason, peerUnavailable, requirePeer } from '../helpers/peers.js';

const HUB = { user: 'hub', password: 'hubpw' };
let dir: string;
let upstream: ReferenceRegistry | undefined;
let upstreamStopped = false;
let proxy: TestRegistry | undefined;
let skip: string | undefined;

function route(prefix: string, remoteurl: string, ttl: number): UpstreamConfig {
  return {
    prefix,
    remoteurl,
    username: HUB.user,
    password: HUB.password,
    ttl,
    tls: { insecureskipverify: false },
    local: prefix === '' ? ['mine'] : [],
  };
}

async function skopeo(
  args: string[],
): Promise<{ status: number | null; stderr: string; stdout: string }> {
  return await run('skopeo', args);
}

async function toUpstream(src: string, dest: string, extra: string[] = []): Promise<void> {
  const r = await skopeo([
    'copy',
    ...extra,
    '--dest-tls-verify=false',
    '--dest-creds',
    `${HUB.user}:${HUB.password}`,
    src,
    `docker://${upstream!.host}/${dest}`,
  ]);
  assert.equal(r.status, 0, r.stderr);
}

/** The raw manifest of `ref` at `host` (skopeo inspect --raw). */
async function rawManifest(host: string, ref: string, creds = false): Promise<string> {
  const r = await skopeo([
    'inspect',
    '--raw',
    '--tls-verify=false',
    ...(creds ? ['--creds', `${HUB.user}:${HUB.password}`] : []),
    `docker://${host}/${ref}`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** An OCI layout holding a two-platform index of two images under `tag`. */
function writeIndexLayout(layoutDir: string, tag: string): string {
  const images: TestImage[] = [makeImage([2048]), makeImage([3072])];
  const platforms = [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux' },
  ];
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map((im, i) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: im.digest,
        size: im.manifest.length,
        platform: platforms[i],
      })),
    }),
  );
  mkdirSync(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  for (const im of images)
    for (const blob of [im.config, ...im.layers, im.manifest])
      writeFileSync(join(layoutDir, 'blobs', 'sha256', sha256(blob).slice(7)), blob);
  writeFileSync(join(layoutDir, 'blobs', 'sha256', sha256(index).slice(7)), index);
  writeFileSync(join(layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layoutDir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.index.v1+json',
          digest: sha256(index),
          size: index.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return sha256(index);
}

before(async () => {
  skip = missingReason('docker-registry', 'skopeo');
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tsreg-proxy-'));
  upstream = await startReferenceRegistry({
    auth: { kind: 'token', users: { [HUB.user]: HUB.password } },
  });
  await toUpstream(`oci:${await ensureBusyboxLayout()}:latest`, 'library/busybox:latest');
  writeIndexLayout(join(dir, 'multi'), 'v1');
  await toUpstream(`oci:${join(dir, 'multi')}:v1`, 'library/multi:v1', ['--all']);
  const url = upstream.url;
  proxy = await startRegistry({
    configure: (c) => {
      c.proxy = { maxsize: 0, upstreams: [route('', url, 3600), route('hub', url, 0)] };
    },
  });
});

after(async () => {
  await proxy?.close();
  if (!upstreamStopped) await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('skopeo pulls busybox through the root mirror path and a prefix, with the upstream token flow', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  const expected = await rawManifest(upstream!.host, 'library/busybox:latest', true);
  for (const ref of ['library/busybox:latest', 'hub/library/busybox:latest']) {
    const r = await skopeo([
      'copy',
      '--src-tls-verify=false',
      `docker://${proxy!.host}/${ref}`,
      `oci:${join(dir, 'pulled')}:${ref.startsWith('hub') ? 'hub' : 'root'}`,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await rawManifest(proxy!.host, ref), expected, `${ref}: byte-exact manifest`);
  }
  const asked = upstream!.tokenIssuer!.requests;
  assert.ok(
    asked.some(
      (q) => q.account === HUB.user && q.scopes.includes('repository:library/busybox:pull'),
    ),
    `the proxy logged in upstream as ${HUB.user}: ${JSON.stringify(asked.slice(-3))}`,
  );
  const metrics = await (await fetch(`${proxy!.url}/metrics`)).text();
  assert.match(metrics, /tsregistry_proxy_requests_total\{[^}]*kind="blob",result="miss"\} [1-9]/);
  assert.match(metrics, /tsregistry_proxy_upstream_bytes_total\{[^}]*\} [1-9]/);
});

test('a multi-platform index pulls through the proxy (skopeo --all), byte-exact', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  const r = await skopeo([
    'copy',
    '--all',
    '--src-tls-verify=false',
    `docker://${proxy!.host}/library/multi:v1`,
    `oci:${join(dir, 'multi-out')}:v1`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    await rawManifest(proxy!.host, 'library/multi:v1'),
    await rawManifest(upstream!.host, 'library/multi:v1', true),
  );
});

test('proxied repositories refuse pushes; a local repository on the same server takes them', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  const layout = join(dir, 'local');
  writeOciLayout(layout, 'v1', makeImage([512]));
  let r = await skopeo([
    'copy',
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${proxy!.host}/library/busybox:pushed`,
  ]);
  assert.notEqual(r.status, 0, 'push into a proxied repository refused');
  const res = await fetch(`${proxy!.url}/v2/hub/library/busybox/blobs/uploads/`, {
    method: 'POST',
  });
  assert.equal(res.status, 405);
  assert.match(await res.text(), /read-only cache of http:\/\/127\.0\.0\.1/);
  r = await skopeo([
    'copy',
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${proxy!.host}/mine/app:v1`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  r = await skopeo(['inspect', '--tls-verify=false', `docker://${proxy!.host}/mine/app:v1`]);
  assert.equal(r.status, 0, r.stderr);
});

test('a tag moved upstream is seen once its TTL is over (revalidated with HEAD)', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  const a = makeImage([700]);
  const b = makeImage([900]);
  writeOciLayout(join(dir, 'a'), 'v1', a);
  writeOciLayout(join(dir, 'b'), 'v1', b);
  await toUpstream(`oci:${join(dir, 'a')}:v1`, 'team/moving:v1');
  // skopeo compresses the layers on the way: compare with what the upstream holds
  const aDigest = sha256(await rawManifest(upstream!.host, 'team/moving:v1', true));
  const get = (): Promise<Response> =>
    fetch(`${proxy!.url}/v2/hub/team/moving/manifests/v1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
  let res = await get();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), aDigest);
  assert.equal(res.headers.get('x-proxy-cache'), 'miss');
  res = await get();
  assert.equal(res.headers.get('x-proxy-cache'), 'revalidated', 'ttl 0: asked upstream again');
  await toUpstream(`oci:${join(dir, 'b')}:v1`, 'team/moving:v1');
  const bDigest = sha256(await rawManifest(upstream!.host, 'team/moving:v1', true));
  assert.notEqual(aDigest, bDigest);
  res = await get();
  assert.equal(res.headers.get('docker-content-digest'), bDigest, 'the moved tag is served');
  assert.equal(res.headers.get('x-proxy-cache'), 'miss');
});

test(
  'dockerd with registry-mirrors pulls busybox through tsregistry',
  { timeout: 180_000 },
  async (t) => {
    if (skip) return peerUnavailable(t, skip);
    const started = await startDockerd({
      registryMirrors: [proxy!.url],
      insecureRegistries: [proxy!.host],
      offline: true,
    });
    if (!started.ok) return peerUnavailable(t, started.reason);
    const { dockerd } = started;
    try {
      // asynchronously: this process serves the proxy and the upstream's token issuer
      const docker = (args: string[]) =>
        run(dockerd.cli, args, { env: dockerd.env, timeoutMs: 120_000 });
      const r = await docker(['pull', 'busybox:latest']);
      assert.equal(r.status, 0, r.stderr);
      const id = await docker(['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest']);
      assert.equal(id.status, 0, id.stderr);
      const config = JSON.parse(
        await rawManifest(upstream!.host, 'library/busybox:latest', true),
      ) as { config: { digest: string } };
      assert.equal(id.stdout.trim(), config.config.digest, 'the image the upstream holds');
    } finally {
      await dockerd.close();
    }
  },
);

test('podman with a registries.conf mirror pulls busybox through tsregistry', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  if (!requirePeer(t, 'podman')) return;
  const home = join(dir, 'podman');
  mkdirSync(home, { recursive: true });
  const conf = join(home, 'registries.conf');
  writeFileSync(
    conf,
    `[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "${proxy!.host}"\ninsecure = true\n`,
  );
  const env = {
    ...process.env,
    CONTAINERS_REGISTRIES_CONF: conf,
    // a failing mirror must not fall back to the internet: every other address goes nowhere
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1',
  };
  const podman = (args: string[]) =>
    run(
      'podman',
      [
        '--root',
        join(home, 'root'),
        '--runroot',
        join(home, 'run'),
        '--storage-driver',
        'vfs',
        '--cgroup-manager',
        'cgroupfs',
        ...args,
      ],
      { env, timeoutMs: 120_000 },
    );
  try {
    const r = await podman(['pull', 'docker.io/library/busybox:latest']);
    assert.equal(r.status, 0, r.stderr);
    const id = await podman([
      'image',
      'inspect',
      '--format',
      '{{.Id}}',
      'docker.io/library/busybox:latest',
    ]);
    assert.equal(id.status, 0, id.stderr);
    const config = JSON.parse(
      await rawManifest(upstream!.host, 'library/busybox:latest', true),
    ) as { config: { digest: string } };
    assert.equal(
      `sha256:${id.stdout.trim()}`,
      config.config.digest,
      'the image the upstream holds',
    );
  } finally {
    await podman(['rmi', '-a', '-f']);
    await run('sh', ['-c', `umount -R ${join(home, 'root')} 2>/dev/null; true`]);
  }
});

test('with the upstream stopped, cached tags and digests still pull; a never-seen image fails clearly', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  const digest = sha256(await rawManifest(proxy!.host, 'library/busybox:latest'));
  await upstream!.close();
  upstreamStopped = true;
  // ttl 3600: a fresh hit; ttl 0 (hub/): served stale, and said so
  let r = await skopeo([
    'copy',
    '--src-tls-verify=false',
    `docker://${proxy!.host}/library/busybox:latest`,
    `oci:${join(dir, 'offline')}:a`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  r = await skopeo([
    'copy',
    '--src-tls-verify=false',
    `docker://${proxy!.host}/hub/library/busybox@${digest}`,
    `oci:${join(dir, 'offline')}:b`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const res = await fetch(`${proxy!.url}/v2/hub/library/busybox/manifests/latest`, {
    method: 'HEAD',
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-proxy-cache'), 'stale');
  assert.match(res.headers.get('warning') ?? '', /110/);
  const missing = await fetch(`${proxy!.url}/v2/library/never-seen/manifests/v1`);
  assert.equal(missing.status, 502);
  const body = (await missing.json()) as { errors: { code: string; message: string }[] };
  assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
  assert.match(body.errors[0]!.message, /not cached.*cannot connect|not cached.*upstream/);
  r = await skopeo([
    'inspect',
    '--tls-verify=false',
    `docker://${proxy!.host}/library/never-seen:v1`,
  ]);
  assert.notEqual(r.status, 0);
});
