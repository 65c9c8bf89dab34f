// What the registry image tests (registry/Dockerfile, docker-compose.yml) share: where the source
// checkout and the compiled tree are, a Node base image made from this machine's node binary and
// the libraries it links (no internet here, so no node:20 image to pull), and the build context
// registry/Dockerfile expects.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dockerd } from './dockerd.js';

/** The compiled tree (dist/) these tests run from. */
export const compiled = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The source checkout: the nearest parent of the compiled tree holding registry/Dockerfile. */
export const repo =
  [join(compiled, '..'), join(compiled, '..', '..'), process.cwd()].find((d) =>
    existsSync(join(d, 'registry', 'Dockerfile')),
  ) ?? process.cwd();

/** A base image rootfs at `root`: this machine's node and the libraries it links. */
export function nodeBase(root: string): void {
  const node = realpathSync(process.execPath);
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true });
  copyFileSync(node, join(root, 'usr/local/bin/node'));
  const ldd = execFileSync('ldd', [node], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    const lib = m[1]!;
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), join(root, lib));
  }
}

/** The base rootfs as a tar at `work`/base.tar (made under `work`/base); returns the tar's path. */
export function nodeBaseTar(work: string): string {
  const base = join(work, 'base');
  nodeBase(base);
  const tar = join(work, 'base.tar');
  execFileSync('tar', ['-C', base, '-cf', tar, '.']);
  return tar;
}

/** Imports the base into `dockerd` as `tag` (`docker import`); throws with docker's stderr. */
export function importNodeBase(dockerd: Dockerd, work: string, tag: string): void {
  const r = dockerd.docker(['import', nodeBaseTar(work), tag]);
  if (r.status !== 0) throw new Error(`docker import ${tag} failed: ${r.stderr}`);
}

/** The build context registry/Dockerfile expects: package.json, node_modules, dist, registry/. */
export function buildContext(ctx: string): void {
  mkdirSync(join(ctx, 'registry'), { recursive: true });
  execFileSync('cp', ['-al', join(repo, 'node_modules'), join(ctx, 'node_modules')]);
  copyFileSync(join(repo, 'package.json'), join(ctx, 'package.json'));
  cpSync(compiled, join(ctx, 'dist'), {
    recursive: true,
    filter: (p) => !p.includes('.cpuprofile'),
  });
  for (const f of ['Dockerfile', 'compose-config.yml'])
    copyFileSync(join(repo, 'registry', f), join(ctx, 'registry', f));
}
