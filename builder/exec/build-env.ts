// What a build works with: the local content store, the build cache, the unpacked-layer cache
// shared with the runner, a temp area on the store's filesystem, and the file-digest table.
import { mkdir } from 'node:fs/promises';
import { ContentStore } from '../../shared/store/content-store.js';
import { buildCacheRoot, layersRoot, tmpRoot } from '../../shared/paths.js';
import { BuildCache } from '../cache/build-cache.js';
import { openFileDigester, type FileDigester } from './file-digests.js';
import { namespaceOwners, type OwnerMap } from './namespace-probe.js';

export interface BuildEnv {
  store: ContentStore;
  cache: BuildCache;
  layersDir: string;
  tmpDir: string;
  digester: FileDigester;
  /** A rootless build as the plain user: file owners as its namespace sees them. */
  owners?: OwnerMap;
}

export async function openBuildEnv(): Promise<BuildEnv> {
  const [store, cache] = await Promise.all([
    ContentStore.open(),
    BuildCache.open(buildCacheRoot()),
  ]);
  await Promise.all([
    mkdir(layersRoot(), { recursive: true }),
    mkdir(tmpRoot(), { recursive: true }),
  ]);
  const digester = await openFileDigester(cache.fileDigestTable, tmpRoot());
  const owners = await namespaceOwners();
  return { store, cache, layersDir: layersRoot(), tmpDir: tmpRoot(), digester, owners };
}
