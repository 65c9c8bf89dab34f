// tsbuild --platform a,b: one image per target platform gathered in an OCI index (read back with
// skopeo and umoci), and BuildKit's automatic platform ARGs (TARGETPLATFORM, BUILDARCH...) with
// its scoping, compared with docker's BuildKit building the same Dockerfile for each platform.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  run,
  tsbuild,
  writeContext,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { startBuildKit, type BuildKitPeer } from '../helpers/buildkit.js';
import { readPlatformFile } from '../helpers/platform-file.js';
import { peerUnavailable } from '../helpers/peers.js';

let br: BuildRoot;
let work: string;
let peer: Promise<BuildKitPeer | { reason: string }> | undefined;
/** docker's BuildKit, started by the first test that needs it, shared by the others. */
const buildkit = () => (peer ??= startBuildKit());

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-platforms-'));
});
after(async () => {
  const bk = await peer;
  if (bk && 'close' in bk) await bk.close();
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A file of one platform's image of the index `ref` in the store. */
const readStored = (ref: string, platform: string, path: string): Promise<string> =>
  readPlatformFile(`oci:${br.layout}:${fullRef(`${ref}:latest`)}`, platform, path, work);

// Scoping as BuildKit: automatic in the global scope (FROM lines), inside a stage only once
// declared; a global `ARG X` without a value hides the automatic one (BUILDOS below).
const ARGS_DOCKERFILE = `ARG BUILDOS
FROM --platform=$BUILDPLATFORM busybox AS native
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT
RUN echo "T=$TARGETPLATFORM|$TARGETOS|$TARGETARCH|$TARGETVARIANT B=$BUILDPLATFORM|$BUILDOS|$BUILDARCH|$BUILDVARIANT" > /args
FROM --platform=$BUILDPLATFORM busybox AS undeclared
RUN echo "undeclared=[$TARGETPLATFORM]" > /args
FROM scratch
ARG TARGETARCH
COPY --from=native /args /args
COPY --from=undeclared /args /undeclared
ENV ARCH_IN_ENV=$TARGETARCH
`;
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'];

test('--platform a,b,c writes an OCI index of one image per platform (skopeo, umoci)', async () => {
  const ctx = await writeContext(work, 'index', { Dockerfile: ARGS_DOCKERFILE });
  const r = tsbuild(br, ['--network=none', '--platform', PLATFORMS.join(','), '-t', 'multi', ctx]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\[linux\/arm64 native 3\/3\] RUN/);
  const raw = JSON.parse(
    run('skopeo', ['inspect', '--raw', `oci:${br.layout}:${fullRef('multi:latest')}`]),
  );
  assert.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(
    raw.manifests.map((m: { platform: Record<string, string> }) => m.platform),
    [
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
    ],
  );
  for (const p of PLATFORMS) {
    const [, arch, variant] = p.split('/');
    const config = JSON.parse(
      run('skopeo', [
        'inspect',
        '--config',
        '--override-arch',
        arch!,
        ...(variant ? ['--override-variant', variant] : []),
        `oci:${br.layout}:${fullRef('multi:latest')}`,
      ]),
    );
    assert.equal(config.architecture, arch);
    assert.equal(config.variant, variant);
    assert.ok(config.config.Env.includes(`ARCH_IN_ENV=${arch}`), JSON.stringify(config.config));
    assert.match(await readStored('multi', p, 'args'), new RegExp(`^T=${p}\\|`));
  }
  // Rebuilding is all cache hits: the native stage ran once per TARGET* value, never again.
  const again = tsbuild(br, [
    '--network=none',
    '--platform',
    PLATFORMS.join(','),
    '-t',
    'multi',
    ctx,
  ]);
  assert.equal(again.status, 0, again.stderr);
  const runSteps = [...again.stderr.matchAll(/^#(\d+) \[.*\] RUN /gm)].map((m) => m[1]);
  assert.equal(runSteps.length, 2 * PLATFORMS.length);
  for (const id of runSteps) assert.match(again.stderr, new RegExp(`^#${id} CACHED`, 'm'));
});

test('automatic platform ARGs as docker BuildKit gives them, for every target platform', async (t) => {
  const bk = await buildkit();
  if ('reason' in bk) return peerUnavailable(t, bk.reason);
  const ctx = await writeContext(work, 'args', { Dockerfile: ARGS_DOCKERFILE });
  const r = tsbuild(br, ['--network=none', '--platform', PLATFORMS.join(','), '-t', 'args', ctx]);
  assert.equal(r.status, 0, r.stderr);
  for (const p of PLATFORMS) {
    const dir: string = bk.exportFs(['--platform', p], ctx, work);
    for (const file of ['args', 'undeclared']) {
      const expected: string = readFileSync(join(dir, file), 'utf8');
      assert.equal(await readStored('args', p, file), expected, `${p} ${file}`);
    }
  }
});

test('--platform P with a last stage FROM --platform=$BUILDPLATFORM: the image is P, as BuildKit', async (t) => {
  const bk = await buildkit();
  if ('reason' in bk) return peerUnavailable(t, bk.reason);
  const files = { Dockerfile: 'FROM --platform=$BUILDPLATFORM busybox\nRUN true\n' };
  const ctx = await writeContext(work, 'native-last', files);
  const r = tsbuild(br, ['--network=none', '--platform', 'linux/arm64', '-t', 'native-last', ctx]);
  assert.equal(r.status, 0, r.stderr);
  const ours = inspectConfig(br, fullRef('native-last:latest'));
  const built = bk.build(['--platform', 'linux/arm64', '-t', 'native-last:1', ctx]);
  assert.equal(built.status, 0, built.stderr);
  assert.equal(
    `${ours['os']}/${ours['architecture']}`,
    bk.inspect('native-last:1', '{{.Os}}/{{.Architecture}}'),
  );
});

test("a single-platform base of another platform: BuildKit's InvalidBaseImagePlatform warning", async () => {
  const ctx = await writeContext(work, 'mismatch', {
    Dockerfile: 'FROM busybox\nCOPY Dockerfile /d\n',
  });
  const r = tsbuild(br, ['--platform', 'linux/arm64', '-t', 'mismatch', ctx]);
  assert.equal(r.status, 0, r.stderr);
  const host = inspectConfig(br, fullRef('busybox:latest'))['architecture'];
  assert.ok(
    r.stderr.includes(
      `[Warning] InvalidBaseImagePlatform: Base image busybox was pulled with platform "linux/${host}", expected "linux/arm64" for current build (line 1)`,
    ),
    r.stderr,
  );
});

test('--output type=docker of several platforms is refused as BuildKit does; type=oci holds the index', async () => {
  const ctx = await writeContext(work, 'outputs', {
    Dockerfile: 'FROM scratch\nCOPY Dockerfile /\n',
  });
  const two = ['--platform', 'linux/amd64,linux/arm64'];
  const tar = join(work, 'two.tar');
  const docker = tsbuild(br, [...two, '--output', `type=docker,dest=${tar}`, ctx]);
  assert.equal(docker.status, 1);
  assert.match(
    docker.stderr,
    /^tsbuild: docker exporter does not currently support exporting manifest lists/,
  );
  const oci = tsbuild(br, [...two, '--output', `type=oci,dest=${tar}`, ctx]);
  assert.equal(oci.status, 0, oci.stderr);
  const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci-archive:${tar}`]));
  assert.deepEqual(
    raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture),
    ['amd64', 'arm64'],
  );
});
