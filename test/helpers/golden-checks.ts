// What a golden Dockerfile case's `expected` (JSON) asserts about a built image, checked with
// the peer tools only: `skopeo inspect` (config, manifest), `umoci unpack` (the filesystem as
// applied: contents, owners, modes, mtimes, hard links) and GNU tar (a layer's own entries).
// builder-fidelity.test.ts runs them on tsbuild's image and on BuildKit's, for cases marked
// "buildkit" (builder-golden.test.ts checks every case's files, config and layers itself).
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run, unpackLayout } from './builder-run.js';

export interface Expected {
  /** Also build with BuildKit and hold its image to the same filesystem expectations. */
  buildkit?: boolean;
  buildArgs?: Record<string, string>;
  target?: string;
  config?: Record<string, unknown>;
  author?: string;
  /** Contents ("->target" for a symlink, null: exists). */
  files?: Record<string, string | null>;
  absent?: string[];
  /**
   * "uid:gid mode" (octal) of a path in the applied filesystem: umoci's, and `stat` run in the
   * image by tsrun and docker (so a case with meta needs a busybox base).
   */
  meta?: Record<string, string>;
  /** A path's mtime: seconds, or "build" (between the build's start and end). */
  mtimes?: Record<string, number | 'build'>;
  /** Groups of paths that must be one inode, and groups that must not share one. */
  hardlinks?: string[][];
  distinct?: string[][];
  layers?: number;
  newLayers?: number;
  emptyLayers?: string[];
  history?: string[];
  /** New layer n (1 = first after the base) lists these names. */
  layerEntries?: Record<string, string[]>;
  /** New layer n has these entries with "uid:gid mode" (tar names, dirs end in /). */
  layerMeta?: Record<string, Record<string, string>>;
  logExcludes?: string[];
}

/** An image to check: a tag in an OCI layout, how many base layers it has, when it was built. */
export interface Built {
  layout: string;
  ref: string;
  baseLayers: number;
  /** Build start and end (seconds since the epoch). */
  start: number;
  end: number;
}

export function inspectConfigOf(layout: string, ref: string): Record<string, unknown> {
  return JSON.parse(
    run('skopeo', ['inspect', '--config', '--raw', `oci:${layout}:${ref}`]),
  ) as Record<string, unknown>;
}

/** Config keys listed in `config`. */
export function checkConfig(b: Built, exp: Expected): void {
  const c = inspectConfigOf(b.layout, b.ref).config as Record<string, unknown>;
  for (const [k, v] of Object.entries(exp.config ?? {}))
    assert.deepEqual(c[k] ?? null, v, `config.${k}`);
}

/** files, absent, meta, mtimes, hardlinks, distinct: on the umoci-unpacked root filesystem. */
export async function checkFilesystem(b: Built, exp: Expected): Promise<void> {
  const u = await unpackLayout(b.layout, b.ref);
  try {
    const at = (path: string) => join(u.rootfs, path);
    for (const [path, want] of Object.entries(exp.files ?? {})) {
      const p = at(path);
      assert.ok(existsSync(p) || lstatSync(p, { throwIfNoEntry: false }), `${path} exists`);
      if (want === null) continue;
      if (want.startsWith('->')) assert.equal(readlinkSync(p), want.slice(2), `${path} link`);
      else assert.equal(readFileSync(p, 'utf8'), want, `${path} content`);
    }
    for (const path of exp.absent ?? [])
      assert.ok(!lstatSync(at(path), { throwIfNoEntry: false }), `${path} must be absent`);
    for (const [path, want] of Object.entries(exp.meta ?? {})) {
      const st = lstatSync(at(path));
      assert.equal(`${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`, want, `${path} meta`);
    }
    for (const [path, want] of Object.entries(exp.mtimes ?? {})) {
      const mtime = Math.floor(lstatSync(at(path)).mtimeMs / 1000);
      if (want === 'build')
        assert.ok(
          mtime >= b.start - 1 && mtime <= b.end + 1,
          `${path} mtime ${mtime} is the build's time (${b.start}..${b.end})`,
        );
      else assert.equal(mtime, want, `${path} mtime`);
    }
    for (const group of exp.hardlinks ?? []) {
      const inodes = group.map((p) => lstatSync(at(p)).ino);
      assert.equal(new Set(inodes).size, 1, `${group.join(', ')} are one hard-linked file`);
    }
    for (const group of exp.distinct ?? []) {
      const inodes = group.map((p) => lstatSync(at(p)).ino);
      assert.equal(new Set(inodes).size, group.length, `${group.join(', ')} are separate files`);
    }
  } finally {
    await u.close();
  }
}

/** layerEntries and layerMeta: the new layers' own tar entries. */
export function checkLayers(b: Built, exp: Expected): void {
  const layerNames = new Set([
    ...Object.keys(exp.layerEntries ?? {}),
    ...Object.keys(exp.layerMeta ?? {}),
  ]);
  if (layerNames.size === 0) return;
  const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${b.layout}:${b.ref}`])) as {
    layers: { digest: string }[];
  };
  for (const n of layerNames) {
    const layer = manifest.layers[b.baseLayers + Number(n) - 1]!;
    const blob = join(b.layout, 'blobs', 'sha256', layer.digest.slice(7));
    const listing = run('tar', ['--numeric-owner', '-tvf', blob]);
    for (const want of exp.layerEntries?.[n] ?? [])
      assert.ok(
        listing.split('\n').some((l) => l.endsWith(want)),
        `layer ${n} has ${want}:\n${listing}`,
      );
    const entries = new Map(
      listing
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/))
        .map((f) => [f[5]!, `${f[1]!.replace('/', ':')} ${modeOf(f[0]!).toString(8)}`]),
    );
    for (const [name, want] of Object.entries(exp.layerMeta?.[n] ?? {}))
      assert.equal(entries.get(name), want, `layer ${n} entry ${name}:\n${listing}`);
  }
}

/** Permission bits from an `ls -l`/`tar -tv` mode string such as drwxrwxrwt. */
export function modeOf(s: string): number {
  let m = 0;
  const bit = (i: number, v: number) => {
    if (!'-ST'.includes(s[i]!)) m |= v;
  };
  [0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1].forEach((v, i) => bit(i + 1, v));
  if ('sS'.includes(s[3]!)) m |= 0o4000;
  if ('sS'.includes(s[6]!)) m |= 0o2000;
  if ('tT'.includes(s[9]!)) m |= 0o1000;
  return m;
}
