// Export of stored images (`tssave`, tsbuild --output): an OCI image layout directory, an OCI
// layout tar, or a `docker save` tar (the OCI layout plus manifest.json with Config/RepoTags/
// Layers, as Docker >= 25 writes it, which `docker load` of any version reads). Tars are
// deterministic: fixed order, mtime 0, root-owned.
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidInputError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { encodeHeader, padding, trailer } from '../tar/tar-format.js';
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
  // stdout stays open for whatever the process writes after (as with a pipe's `end: false`).
  await pipeline(Readable.from(tarChunks(store, items, docker)), out, {
    end: out !== process.stdout,
  });
}

/** Entries are root-owned with mtime 0, so the same images always give the same bytes. */
const OWNER = { uid: 0, gid: 0, mtime: 0 };

async function* tarChunks(
  store: ContentStore,
  items: ExportItem[],
  docker: boolean,
): AsyncGenerator<Buffer> {
  yield* smallFile('oci-layout', LAYOUT_FILE);
  for (const path of ['blobs', 'blobs/sha256'])
    yield encodeHeader({ ...OWNER, path, type: 'dir', mode: 0o755, size: 0 });
  const written = new Set<string>();
  for (const b of items.flatMap((i) => i.blobs)) {
    if (written.has(b.digest)) continue;
    written.add(b.digest);
    yield* blobFile(store, b);
  }
  yield* smallFile('index.json', indexDocument(items.map(indexEntry)));
  if (docker)
    yield* smallFile('manifest.json', Buffer.from(`${JSON.stringify(dockerManifest(items))}\n`));
  yield trailer();
}

function smallFile(path: string, data: Buffer): Buffer[] {
  const header = encodeHeader({ ...OWNER, path, type: 'file', mode: 0o644, size: data.length });
  return [header, data, padding(data.length)];
}

/** A stored blob as a tar entry; its size is checked against what the header announced. */
async function* blobFile(store: ContentStore, b: Descriptor): AsyncGenerator<Buffer> {
  const size = await store.statBlob(b.digest);
  if (size === undefined) await store.readBlob(b.digest); // throws NotFoundError naming the blob
  const path = blobEntryName(b.digest);
  yield encodeHeader({ ...OWNER, path, type: 'file', mode: 0o644, size: size! });
  let sent = 0;
  for await (const chunk of store.openBlob(b.digest)) {
    sent += (chunk as Buffer).length;
    if (sent > size!) break;
    yield chunk as Buffer;
  }
  if (sent !== size)
    throw new InvalidInputError(`blob ${b.digest} changed size while it was exported`);
  yield padding(size);
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
