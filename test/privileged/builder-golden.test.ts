// Golden Dockerfile cases: every fixtures/dockerfiles/<case>/ (except negative/) is built with
// the tsbuild CLI (RUN needs root: namespaces, overlay) and read back with the peer tools:
// `skopeo inspect --config` for the config, `umoci unpack` for the filesystem, and the layer
// tars for whiteouts and parent entries. `expected` (JSON, see helpers/golden-checks.ts) says
// what must hold; cases marked "buildkit" are held to the same by builder-buildkit.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/builder-fixtures.js';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  tsbuild,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { tsCommand } from './runner-helpers.js';
import {
  checkConfig,
  checkFilesystem,
  checkLayers,
  type Built,
  type Expected,
} from '../helpers/golden-checks.js';

const dir = join(fixturesDir(), 'dockerfiles');
const cases = readdirSync(dir).filter(
  (n) => n !== 'negative' && existsSync(join(dir, n, 'expected')),
);
let br: BuildRoot;
let baseLayers = 0;

before(async () => {
  br = await makeBuildRoot();
  baseLayers = (inspectConfig(br, fullRef('busybox:latest')).rootfs as { diff_ids: string[] })
    .diff_ids.length;
});
after(async () => br?.close());

for (const name of cases) {
  test(`golden ${name}`, async () => {
    const exp = JSON.parse(readFileSync(join(dir, name, 'expected'), 'utf8')) as Expected;
    const tag = `golden-${name}:test`;
    const args = [
      '-t',
      tag,
      ...Object.entries(exp.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    ];
    if (exp.target) args.push('--target', exp.target);
    const start = Math.floor(Date.now() / 1000);
    const res = tsbuild(br, [...args, join(dir, name)]);
    const end = Math.ceil(Date.now() / 1000);
    assert.equal(res.status, 0, `build failed:\n${res.stderr}`);
    for (const s of exp.logExcludes ?? [])
      assert.ok(!res.stderr.includes(s), `log must not contain "${s}"`);
    const built: Built = { layout: br.layout, ref: fullRef(tag), baseLayers, start, end };
    checkConfig(built, exp);
    const cfg = inspectConfig(br, fullRef(tag));
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
    await checkFilesystem(built, exp);
    checkLayers(built, exp);
    // Owners and modes as tsrun applies the layers (one directory per layer, overlayfs).
    const paths = Object.keys(exp.meta ?? {});
    if (paths.length) {
      const stat = ['--rm', '--network', 'none', '--user', '0', '--entrypoint', 'stat'];
      const r = tsCommand(br.root, 'tsrun', [...stat, fullRef(tag), '-c', '%n %u:%g %a', ...paths]);
      assert.equal(r.code, 0, r.stderr);
      const seen = r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' '));
      assert.deepEqual(Object.fromEntries(seen.map(([p, o, m]) => [p, `${o} ${m}`])), exp.meta);
    }
  });
}
