// Export of stored images (`tssave`, tsbuild --output): an OCI image layout directory, an OCI
// layout tar, or a `docker save` tar (the OCI layout plus manifest.json with Config/RepoTags/
// Layers, as Docker >= 25 writes it, which `docker load` of any version reads). Tars are
// deterministic: fixed order, mtime 0, root-owned.
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import tar from 'tar-stream';
import { InvalidInputError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { parseManifest, type Descriptor, type Platform } from '../manifest.js';
import { MediaType, REF_NAME_ANNOTATION, isManifestMediaType } from '../media-types.js';
import { familiarName, parseReference } from '../reference.js';
import type { ContentStore } from './content-store.js';
import { loadImageByDescriptor } from './image.js';
import { readIndexFile } from './index-file.js';
import { CONTAINERD_NAME_ANNOTATION } from './layout-import.js';
import { blobEntryName } from './layout-source.js';
import { normalizeTagRef } from './resolve.js';

export type ExportFormat = 'oci-dir' | 'oci-tar' | 'docker-tar';

export interface ExportOptions {
  format: ExportFormat;
  /** For docker-tar of a multi-platform image: which platform (default: this machine's). */
  platform?: Platform;
}

interface ExportItem {
  /** Full reference, when the argument was a tagged name. */
  name?: string;
  /** What index.json lists. */
  descriptor: Descriptor;
  /** Blobs to include, in order, no duplicates. */
  blobs: Descriptor[];
  /** docker-tar: manifest.json entry. */
  docker?: { Config: string; RepoTags: string[]; Layers: string[] };
}

/** Writes `refs` to `dest` (a directory or tar path, or a stream for tars). */
export async function exportLayout(
  store: ContentStore,
  refs: string[],
  dest: string | Writable,
  opts: ExportOptions,
): Promise<void> {
  if (refs.length === 0)
    throw new InvalidInputError('nothing to export', 'name at least one image');
  const items: ExportItem[] = [];
  for (const ref of refs) items.push(await exportItem(store, ref, opts));
  if (opts.format === 'oci-dir') {
    if (typeof dest !== 'string')
      throw new InvalidInputError('oci-dir export needs a directory path');
    return writeDir(store, items, dest);
  }
  if (typeof dest !== 'string') return writeTar(store, items, dest, opts.format === 'docker-tar');
  const temp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeTar(
      store,
      items,
      createWriteStream(temp, { flags: 'wx' }),
      opts.format === 'docker-tar',
    );
    await fs.rename(temp, dest);
  } finally {
    await fs.rm(temp, { force: true });
  }
}

async function exportItem(
  store: ContentStore,
  ref: string,
  opts: ExportOptions,
): Promise<ExportItem> {
  const resolved = await store.resolve(ref);
  const name = await taggedName(store, ref, resolved.digest);
  const bare = { mediaType: resolved.mediaType, digest: resolved.digest, size: resolved.size };
  if (opts.format !== 'docker-tar') {
    return {
      name,
      descriptor: bare as Descriptor,
      blobs: await closure(store, bare as Descriptor),
    };
  }
  const image = await loadImageByDescriptor(store, bare as Descriptor, opts.platform);
  const blobs = [image.descriptor, image.configDescriptor, ...image.manifest.layers];
  const docker = {
    Config: blobEntryName(image.configDescriptor.digest),
    RepoTags: name ? [familiarName(parseReference(name))] : [],
    Layers: image.manifest.layers.map((l) => blobEntryName(l.digest)),
  };
  return { name, descriptor: image.descriptor, blobs: dedupe(blobs), docker };
}

/** The full name `ref` tags, if it is a stored tag of `digest`. */
async function taggedName(
  store: ContentStore,
  ref: string,
  digest: string,
): Promise<string | undefined> {
  let name: string;
  try {
    name = normalizeTagRef(ref);
  } catch {
    return undefined;
  }
  const hit = (await store.listImages()).find(
    (i) => i.name === name && i.descriptor.digest === digest,
  );
  return hit?.name;
}

/** The descriptor and everything it references that is stored (an index may be partial). */
async function closure(store: ContentStore, root: Descriptor): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  const visit = async (d: Descriptor, optional: boolean): Promise<void> => {
    if ((await store.statBlob(d.digest)) === undefined) {
      if (optional) return;
      await store.readBlob(d.digest); // throws NotFoundError naming the blob
    }
    out.push(d);
    if (!isManifestMediaType(d.mediaType)) return;
    const parsed = parseManifest(await store.readBlob(d.digest), d.mediaType);
    if (parsed.kind === 'index') {
      for (const m of parsed.manifest.manifests) await visit(m, true);
    } else {
      for (const b of [parsed.manifest.config, ...parsed.manifest.layers]) await visit(b, false);
    }
  };
  await visit(root, false);
  return dedupe(out);
}

function dedupe(list: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return list.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}

function indexEntry(item: ExportItem): Descriptor {
  if (!item.name) return item.descriptor;
  const annotations = { [REF_NAME_ANNOTATION]: item.name, [CONTAINERD_NAME_ANNOTATION]: item.name };
  return { ...item.descriptor, annotations };
}

function indexDocument(entries: Descriptor[]): Buffer {
  return Buffer.from(
    `${JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: entries })}\n`,
  );
}

const LAYOUT_FILE = Buffer.from('{"imageLayoutVersion":"1.0.0"}');

/** Writes (or adds to) an OCI layout directory; index.json last, atomically. */
async function writeDir(store: ContentStore, items: ExportItem[], dir: string): Promise<void> {
  for (const item of items) {
    for (const b of item.blobs) {
      const target = join(dir, blobEntryName(b.digest));
      if ((await fs.stat(target).catch(() => undefined))?.size === b.size) continue;
      await fs.mkdir(join(target, '..'), { recursive: true });
      await fs.copyFile(store.blobPath(b.digest), `${target}.tmp`);
      await fs.rename(`${target}.tmp`, target);
    }
  }
  await fs.writeFile(join(dir, 'oci-layout'), LAYOUT_FILE);
  const existing = await readIndexFile(join(dir, 'index.json'));
  const added = items.map(indexEntry);
  const names = new Set(added.map((d) => d.annotations?.[REF_NAME_ANNOTATION]).filter(Boolean));
  const digestsUnnamed = new Set(added.filter((d) => !d.annotations).map((d) => d.digest));
  const kept = existing.manifests.filter((d) => {
    const n = d.annotations?.[REF_NAME_ANNOTATION];
    return n ? !names.has(n) : !digestsUnnamed.has(d.digest);
  });
  await writeFileAtomic(join(dir, 'index.json'), indexDocument([...kept, ...added]));
}

/** Streams a tar: oci-layout, blobs, index.json, manifest.json (docker-tar). */
async function writeTar(
  store: ContentStore,
  items: ExportItem[],
  out: Writable,
  docker: boolean,
): Promise<void> {
  const pack = tar.pack();
  const done = new Promise<void>((resolve, reject) => {
    out.on('error', (err) => {
      pack.destroy(err);
      reject(err);
    });
    out.on('finish', resolve);
    pack.on('error', reject);
  });
  done.catch(() => undefined);
  pack.pipe(out);
  try {
    await writeEntries(store, items, pack, docker);
  } catch (err) {
    pack.destroy(err as Error);
    out.destroy();
    throw err;
  }
  pack.finalize();
  await done;
}

type Pack = ReturnType<typeof tar.pack>;
const HEADER = { mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };

async function writeEntries(
  store: ContentStore,
  items: ExportItem[],
  pack: Pack,
  docker: boolean,
): Promise<void> {
  const addFile = (name: string, data: Buffer): Promise<void> =>
    new Promise((resolve, reject) =>
      pack.entry({ ...HEADER, name, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())),
    );
  await addFile('oci-layout', LAYOUT_FILE);
  for (const dir of ['blobs/', 'blobs/sha256/']) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ ...HEADER, name: dir, type: 'directory', mode: 0o755 }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  const written = new Set<string>();
  for (const b of items.flatMap((i) => i.blobs)) {
    if (written.has(b.digest)) continue;
    written.add(b.digest);
    await addBlob(store, pack, { ...HEADER, name: blobEntryName(b.digest), mode: 0o644 }, b);
  }
  await addFile('index.json', indexDocument(items.map(indexEntry)));
  if (docker)
    await addFile('manifest.json', Buffer.from(`${JSON.stringify(dockerManifest(items))}\n`));
}

/** manifest.json of `docker save`: one entry per image, all its names in RepoTags. */
function dockerManifest(items: ExportItem[]): NonNullable<ExportItem['docker']>[] {
  const byConfig = new Map<string, NonNullable<ExportItem['docker']>>();
  for (const i of items) {
    const d = i.docker!;
    const seen = byConfig.get(d.Config);
    if (seen) seen.RepoTags.push(...d.RepoTags.filter((t) => !seen.RepoTags.includes(t)));
    else byConfig.set(d.Config, { ...d, RepoTags: [...d.RepoTags] });
  }
  return [...byConfig.values()];
}

async function addBlob(
  store: ContentStore,
  pack: Pack,
  header: Partial<tar.Header> & { name: string },
  b: Descriptor,
): Promise<void> {
  const size = await store.statBlob(b.digest);
  let entry!: ReturnType<typeof pack.entry>;
  const finishedEntry = new Promise<void>((resolve, reject) => {
    entry = pack.entry({ ...header, size }, (err?: Error | null) =>
      err ? reject(err) : resolve(),
    );
  });
  for await (const chunk of store.openBlob(b.digest)) {
    if (!entry.write(chunk as Buffer)) await once(entry as unknown as NodeJS.EventEmitter, 'drain');
  }
  (entry as unknown as { end(): void }).end();
  await finishedEntry;
}
