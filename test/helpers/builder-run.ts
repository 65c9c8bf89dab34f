// Test helpers for tsbuild: a private TSDOCK_ROOT with the offline busybox image, running the
// compiled CLI, and reading built images back with the peer tools (umoci unpack, skopeo inspect).
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContentStore } from '../../shared/store/content-store.js';
import { importBusybox } from './busybox-image.js';

export const TSBUILD = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'bin',
  'tsbuild.js',
);

export interface BuildRoot {
  root: string;
  env: NodeJS.ProcessEnv;
  /** The OCI layout of the store (what skopeo/umoci read). */
  layout: string;
  close(): Promise<void>;
}

export async function makeBuildRoot(): Promise<BuildRoot> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-test-'));
  const env = { ...process.env, TSDOCK_ROOT: root };
  const saved = process.env.TSDOCK_ROOT;
  process.env.TSDOCK_ROOT = root;
  try {
    const store = await ContentStore.open();
    await importBusybox(store, 'busybox:latest');
    return {
      root,
      env,
      layout: store.root,
      close: () => rm(root, { recursive: true, force: true }),
    };
  } finally {
    if (saved === undefined) delete process.env.TSDOCK_ROOT;
    else process.env.TSDOCK_ROOT = saved;
  }
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  /** the tsbuild process id (RUN cgroups are named tsdock/tsbuild-<random>-<pid>) */
  pid: number;
}

export function tsbuild(
  br: BuildRoot,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
  input?: string,
): CliResult {
  const r = spawnSync(process.execPath, [TSBUILD, '--progress=plain', ...args], {
    env: { ...br.env, ...extraEnv },
    encoding: 'utf8',
    input,
    timeout: 60_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, pid: r.pid };
}

export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** `skopeo inspect --config` of a tag in the store. */
export function inspectConfig(br: BuildRoot, ref: string): Record<string, unknown> {
  return JSON.parse(
    run('skopeo', ['inspect', '--config', '--raw', `oci:${br.layout}:${ref}`]),
  ) as Record<string, unknown>;
}

/** `umoci unpack` of a tag into a temp bundle; returns the rootfs path and a cleanup. */
export async function unpack(
  br: BuildRoot,
  ref: string,
): Promise<{ rootfs: string; close(): Promise<void> }> {
  return unpackLayout(br.layout, ref);
}

/** `umoci unpack` of a tag of any OCI layout. */
export async function unpackLayout(
  layout: string,
  ref: string,
): Promise<{ rootfs: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-unpack-'));
  try {
    run('umoci', ['unpack', '--image', `${layout}:${ref}`, join(dir, 'bundle')]);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    rootfs: join(dir, 'bundle', 'rootfs'),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Leftovers of builds: temp dirs under the store's tmp/. */
export async function leftoverTemps(br: BuildRoot): Promise<string[]> {
  return readdir(join(br.root, 'tmp')).catch(() => []);
}

export function fullRef(tag: string): string {
  return `docker.io/library/${tag}`;
}

/** Writes a build context: files by relative path (parents made) under base/name. */
export async function writeContext(
  base: string,
  name: string,
  files: Record<string, string>,
): Promise<string> {
  const dir = join(base, name);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  return dir;
}
