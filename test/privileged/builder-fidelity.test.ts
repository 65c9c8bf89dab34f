// Filesystem fidelity of the golden cases marked "buildkit" (fixtures/dockerfiles/<case>/expected,
// see helpers/golden-checks.ts): tsbuild's image and docker BuildKit's (a private dockerd,
// `DOCKER_BUILDKIT=1 docker build --network=none`) are held to the same expectations: config,
// contents, owners and modes, mtimes, hard links, a layer's own entries (so the expected values
// are BuildKit's behaviour, not ours). tsbuild's image is also applied by tsrun and by docker
// (`stat` in a container): owners and modes must be the same there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/builder-fixtures.js';
import { ensureBusyboxLayout } from '../helpers/busybox-image.js';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  run,
  tsbuild,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { tsCommand } from './runner-helpers.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import {
  checkConfig,
  checkFilesystem,
  checkLayers,
  type Built,
  type Expected,
} from '../helpers/golden-checks.js';

const dir = join(fixturesDir(), 'dockerfiles');
const cases = readdirSync(dir).filter((n) => {
  const file = join(dir, n, 'expected');
  return existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as Expected).buildkit;
});
const root = process.getuid?.() === 0;
let dockerd: Dockerd | undefined;
let startError = '';
let br: BuildRoot;
let work: string;
let baseLayers = 0;

before(async () => {
  if (!root) return;
  work = mkdtempSync(join(tmpdir(), 'tsbuild-bk-'));
  br = await makeBuildRoot();
  baseLayers = (inspectConfig(br, fullRef('busybox:latest')).rootfs as { diff_ids: string[] })
    .diff_ids.length;
  const started = await startDockerd();
  if (!started.ok) {
    startError = started.reason;
    return;
  }
  dockerd = started.dockerd;
  const tar = join(work, 'busybox.tar');
  run('skopeo', [
    'copy',
    `oci:${await ensureBusyboxLayout()}:latest`,
    `docker-archive:${tar}:busybox:latest`,
  ]);
  const loaded = dockerd.docker(['load', '-i', tar]);
  assert.equal(loaded.status, 0, loaded.stderr);
});
after(async () => {
  await dockerd?.close();
  await br?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const seconds = () => Math.floor(Date.now() / 1000);

/** Builds a case with BuildKit; returns its image as an OCI layout tag. */
function buildkitBuild(d: Dockerd, name: string, exp: Expected): Built {
  const tag = `bk-${name}:test`;
  const args = ['build', '--network=none', '-q', '-t', tag];
  for (const [k, v] of Object.entries(exp.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  if (exp.target) args.push('--target', exp.target);
  const start = seconds();
  const r = spawnSync(d.cli, [...args, join(dir, name)], {
    env: { ...d.env, DOCKER_BUILDKIT: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const end = seconds() + 1;
  assert.equal(r.status, 0, `BuildKit build failed:\n${r.stderr}`);
  const tar = join(work, `${name}.tar`);
  const saved = d.docker(['save', '-o', tar, tag]);
  assert.equal(saved.status, 0, saved.stderr);
  const layout = join(work, `bk-${name}`);
  run('skopeo', ['copy', `docker-archive:${tar}`, `oci:${layout}:bk`]);
  return { layout, ref: 'bk', baseLayers: 1, start, end };
}

/** Owners and modes of paths as `docker run` sees tsbuild's image applied by docker. */
function dockerMeta(d: Dockerd, name: string, paths: string[]): Record<string, string> {
  const tag = `golden-${name}:test`;
  const tar = join(work, `ts-${name}.tar`);
  run('skopeo', ['copy', `oci:${br.layout}:${fullRef(tag)}`, `docker-archive:${tar}:ts-${tag}`]);
  const loaded = d.docker(['load', '-i', tar]);
  assert.equal(loaded.status, 0, loaded.stderr);
  const r = d.docker([
    'run',
    '--rm',
    '--network',
    'none',
    '--user',
    '0',
    '--entrypoint',
    'stat',
    `ts-${tag}`,
    '-c',
    '%n %u:%g %a',
    ...paths,
  ]);
  assert.equal(r.status, 0, r.stderr);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const [p, owner, mode] = l.split(' ');
        return [p!, `${owner} ${mode}`];
      }),
  );
}

/** Owners and modes as tsrun applies tsbuild's layers (one directory per layer, overlayfs). */
function tsrunMeta(ref: string, paths: string[]): Record<string, string> {
  const stat = ['--rm', '--network', 'none', '--user', '0', '--entrypoint', 'stat'];
  const r = tsCommand(br.root, 'tsrun', [...stat, ref, '-c', '%n %u:%g %a', ...paths]);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([p, owner, mode]) => [p!, `${owner} ${mode}`]),
  );
}

for (const name of cases) {
  test(
    `tsbuild and BuildKit agree: ${name}`,
    { skip: !root && 'needs root (RUN, private dockerd)', timeout: 300_000 },
    async () => {
      const exp = JSON.parse(readFileSync(join(dir, name, 'expected'), 'utf8')) as Expected;
      // tsbuild's image: as umoci, GNU tar, tsrun see it.
      const tag = `golden-${name}:test`;
      const args = ['-t', tag];
      for (const [k, v] of Object.entries(exp.buildArgs ?? {}))
        args.push('--build-arg', `${k}=${v}`);
      if (exp.target) args.push('--target', exp.target);
      const start = seconds();
      const res = tsbuild(br, [...args, join(dir, name)]);
      const end = seconds() + 1;
      assert.equal(res.status, 0, res.stderr);
      const ours: Built = { layout: br.layout, ref: fullRef(tag), baseLayers, start, end };
      checkConfig(ours, exp);
      await checkFilesystem(ours, exp);
      checkLayers(ours, exp);
      const paths = Object.keys(exp.meta ?? {});
      if (paths.length) assert.deepEqual(tsrunMeta(fullRef(tag), paths), exp.meta, 'tsrun');

      // BuildKit's image, held to the same; then tsbuild's applied by docker (overlay2).
      assert.ok(dockerd, `dockerd did not start: ${startError}`);
      const bk = buildkitBuild(dockerd, name, exp);
      // BuildKit's config is held to the expectations in builder-golden.test.ts, read with
      // docker's own inspect: the OCI copy made here drops Docker-only fields (Shell, OnBuild).
      await checkFilesystem(bk, exp);
      checkLayers(bk, exp);
      if (paths.length) assert.deepEqual(dockerMeta(dockerd, name, paths), exp.meta, 'docker');
    },
  );
}
