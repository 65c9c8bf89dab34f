// Golden Dockerfile cases: every fixtures/dockerfiles/<case>/ (except negative/) is built with
// the tsbuild CLI (RUN needs root: namespaces, overlay) and read back with the peer tools:
// `skopeo inspect --config` for the config, `umoci unpack` for the filesystem, and the layer
// tars for whiteouts. `expected` (JSON) says what must hold. Cases marked `"buildkit": true` are
// also built by docker's BuildKit (a private dockerd) and must give the same files and config
// values there (history only where `buildkitHistory` lists it: docker.io's BuildKit is older).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/builder-fixtures.js';
import { startBuildKit, type BuildKitPeer } from '../helpers/buildkit.js';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  run,
  tsbuild,
  unpack,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { peerNotCompared } from '../helpers/peers.js';

interface Expected {
  buildArgs?: Record<string, string>;
  target?: string;
  config?: Record<string, unknown>;
  author?: string;
  files?: Record<string, string | null>;
  absent?: string[];
  layers?: number;
  newLayers?: number;
  emptyLayers?: string[];
  history?: string[];
  layerEntries?: Record<string, string[]>;
  logExcludes?: string[];
  buildkit?: boolean;
  buildkitHistory?: string[];
}

const dir = join(fixturesDir(), 'dockerfiles');
const cases = readdirSync(dir).filter(
  (n) => n !== 'negative' && existsSync(join(dir, n, 'expected')),
);
let br: BuildRoot;
let baseLayers = 0;
let peer: Promise<BuildKitPeer | { reason: string }> | undefined;

before(async () => {
  br = await makeBuildRoot();
  baseLayers = (inspectConfig(br, fullRef('busybox:latest')).rootfs as { diff_ids: string[] })
    .diff_ids.length;
});
after(async () => {
  await br?.close();
  const p = await peer;
  if (p && !('reason' in p)) await p.close();
});

/** BuildKit must agree with the expectations too: same files, same config values. */
async function compareWithBuildKit(
  exp: Expected,
  caseDir: string,
  args: string[],
  diag: (msg: string) => void,
): Promise<void> {
  peer ??= startBuildKit();
  const bk = await peer;
  if ('reason' in bk) return peerNotCompared({ diagnostic: diag }, bk.reason);
  const image = bk.image('golden-buildkit:test', args, caseDir);
  for (const [k, v] of Object.entries(exp.config ?? {}))
    assert.deepEqual(image.config[k] ?? null, v, `BuildKit config.${k}`);
  for (const e of exp.buildkitHistory ?? [])
    assert.ok(
      image.history.includes(e),
      `BuildKit history has "${e}": ${image.history.join(' | ')}`,
    );
  const tmp = mkdtempSync(join(tmpdir(), 'golden-bk-'));
  try {
    const fs = bk.exportFs(args, caseDir, tmp);
    for (const [path, want] of Object.entries(exp.files ?? {}))
      if (want !== null && !want.startsWith('->'))
        assert.equal(readFileSync(join(fs, path), 'utf8'), want, `BuildKit ${path}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

for (const name of cases) {
  test(`golden ${name}`, async (t) => {
    const exp = JSON.parse(readFileSync(join(dir, name, 'expected'), 'utf8')) as Expected;
    const tag = `golden-${name}:test`;
    const buildArgs = Object.entries(exp.buildArgs ?? {}).flatMap(([k, v]) => [
      '--build-arg',
      `${k}=${v}`,
    ]);
    if (exp.target) buildArgs.push('--target', exp.target);
    const res = tsbuild(br, ['-t', tag, ...buildArgs, join(dir, name)]);
    assert.equal(res.status, 0, `build failed:\n${res.stderr}`);
    for (const s of exp.logExcludes ?? [])
      assert.ok(!res.stderr.includes(s), `log must not contain "${s}"`);
    const cfg = inspectConfig(br, fullRef(tag));
    const c = cfg.config as Record<string, unknown>;
    for (const [k, v] of Object.entries(exp.config ?? {}))
      assert.deepEqual(c[k] ?? null, v, `config.${k}`);
    if (exp.author) assert.equal(cfg.author, exp.author);
    const diffIds = (cfg.rootfs as { diff_ids: string[] }).diff_ids;
    if (exp.layers !== undefined) assert.equal(diffIds.length, exp.layers, 'layer count');
    if (exp.newLayers !== undefined)
      assert.equal(diffIds.length - baseLayers, exp.newLayers, 'new layers');
    const history = cfg.history as { created_by?: string; empty_layer?: boolean }[];
    assert.equal(
      history.filter((h) => !h.empty_layer).length,
      diffIds.length,
      'history matches layers',
    );
    for (const e of exp.emptyLayers ?? [])
      assert.ok(
        history.some((h) => h.created_by === e && h.empty_layer),
        `empty_layer entry "${e}"`,
      );
    for (const e of exp.history ?? [])
      assert.ok(
        history.some((h) => h.created_by === e),
        `history has "${e}"; got ${JSON.stringify(history.map((h) => h.created_by))}`,
      );
    const u = await unpack(br, fullRef(tag));
    try {
      for (const [path, want] of Object.entries(exp.files ?? {})) {
        const p = join(u.rootfs, path);
        assert.ok(existsSync(p) || lstatSync(p, { throwIfNoEntry: false }), `${path} exists`);
        if (want === null) continue;
        if (want.startsWith('->')) assert.equal(readlinkSync(p), want.slice(2), `${path} link`);
        else assert.equal(readFileSync(p, 'utf8'), want, `${path} content`);
      }
      for (const path of exp.absent ?? [])
        assert.ok(
          !lstatSync(join(u.rootfs, path), { throwIfNoEntry: false }),
          `${path} must be absent`,
        );
    } finally {
      await u.close();
    }
    for (const [n, names] of Object.entries(exp.layerEntries ?? {})) {
      const manifest = JSON.parse(
        run('skopeo', ['inspect', '--raw', `oci:${br.layout}:${fullRef(tag)}`]),
      ) as { layers: { digest: string }[] };
      const layer = manifest.layers[baseLayers + Number(n) - 1]!;
      const listing = run('tar', [
        '-tzf',
        join(br.layout, 'blobs', 'sha256', layer.digest.slice(7)),
      ]);
      for (const want of names)
        assert.ok(
          listing.split('\n').some((l) => l.endsWith(want)),
          `layer ${n} has ${want}:\n${listing}`,
        );
    }
    if (exp.buildkit)
      await compareWithBuildKit(exp, join(dir, name), buildArgs, (m) => t.diagnostic(m));
  });
}
