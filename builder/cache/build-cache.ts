// The build cache index: cache key -> the layer a step produced (digest, diffId, size), plus,
// per step position, the inputs of the last build so a miss can be explained ("the content of
// app.py changed", "ENV PATH changed"...). Keys are computed like BuildKit's: the parent key +
// the step's expanded inputs (for COPY/ADD the content identity of the files, never mtimes).
//
//   <buildCacheRoot>/
//   ├── keys/<key hex>.json        CacheRecord (written atomically)
//   ├── last/<step id hex>.json    the CacheRecord a given step position produced last time
//   ├── parsed/<hex>.json          parsed Dockerfiles by parser identity, name and text
//   │                              (a rebuild skips loading dockerfile-ast)
//   ├── file-digests.json          context file digests by stat stamp (see exec/file-digests.ts)
//   └── mounts/<id hex>/           RUN --mount=type=cache directories
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface LayerRef {
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
}

export interface CacheRecord {
  key: string;
  /** Absent for a step that left the filesystem unchanged. */
  layer?: LayerRef;
  /** Step inputs by name (values or their digests), for miss explanations. */
  inputs: Record<string, string>;
  /** When the step first ran (RFC 3339): cached steps keep their time, so rebuilds are identical. */
  created?: string;
  /** COPY/ADD: per-file identity (path -> digest), capped, to name changed files. */
  files?: Record<string, string>;
}

export const FILE_LIST_CAP = 5000;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** key = sha256(parent key + the step's inputs in a canonical order). */
export function cacheKey(parent: string, inputs: Record<string, string>): string {
  const canon = Object.keys(inputs)
    .sort()
    .map((k) => `${k}=${JSON.stringify(inputs[k])}`)
    .join('\n');
  return `sha256:${sha(`${parent}\n${canon}`)}`;
}

export class BuildCache {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<BuildCache> {
    await Promise.all(
      ['keys', 'last', 'mounts', 'parsed'].map((d) => mkdir(join(root, d), { recursive: true })),
    );
    return new BuildCache(root);
  }

  get fileDigestTable(): string {
    return join(this.root, 'file-digests.json');
  }

  mountDir(id: string): string {
    return join(this.root, 'mounts', sha(id));
  }

  /** A Dockerfile parsed earlier (same name and text, by the same `parser`), or undefined. */
  async parsed<T>(parser: string, name: string, text: string): Promise<T | undefined> {
    return readJson(this.parsedPath(parser, name, text));
  }

  async putParsed(parser: string, name: string, text: string, value: unknown): Promise<void> {
    await writeJson(this.parsedPath(parser, name, text), value);
  }

  private parsedPath(parser: string, name: string, text: string): string {
    return join(this.root, 'parsed', `${sha(`${parser}\0${name}\0${text}`)}.json`);
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    return readJson(join(this.root, 'keys', `${key.replace(/^sha256:/, '')}.json`));
  }

  async put(rec: CacheRecord): Promise<void> {
    await writeJson(join(this.root, 'keys', `${rec.key.replace(/^sha256:/, '')}.json`), rec);
  }

  async last(stepId: string): Promise<CacheRecord | undefined> {
    return readJson(join(this.root, 'last', `${sha(stepId)}.json`));
  }

  async setLast(stepId: string, rec: CacheRecord): Promise<void> {
    await writeJson(join(this.root, 'last', `${sha(stepId)}.json`), rec);
  }
}

/** Why a step missed, compared with what the same step position recorded last time. */
export function explainMiss(
  prev: CacheRecord | undefined,
  inputs: Record<string, string>,
  files?: Record<string, string>,
): string {
  if (!prev) return 'no earlier build of this step on record';
  const changed: string[] = [];
  for (const k of new Set([...Object.keys(prev.inputs), ...Object.keys(inputs)])) {
    if (prev.inputs[k] === inputs[k]) continue;
    if (k === 'parent') changed.push('an earlier step changed (parent key differs)');
    else if (k === 'content' && files && prev.files) changed.push(describeFiles(prev.files, files));
    else changed.push(`${k}: ${short(prev.inputs[k])} -> ${short(inputs[k])}`);
  }
  return changed.length ? changed.join('; ') : 'the cache record is gone (pruned or layer missing)';
}

function describeFiles(before: Record<string, string>, after: Record<string, string>): string {
  const added = Object.keys(after).filter((p) => !(p in before));
  const removed = Object.keys(before).filter((p) => !(p in after));
  const modified = Object.keys(after).filter((p) => p in before && before[p] !== after[p]);
  const list = (label: string, xs: string[]) =>
    xs.length
      ? `${label} ${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ` (+${xs.length - 5})` : ''}`
      : '';
  return ['files:', list('changed', modified), list('added', added), list('removed', removed)]
    .filter(Boolean)
    .join(' ');
}

function short(v: string | undefined): string {
  if (v === undefined) return '(none)';
  return v.length > 60 ? `${v.slice(0, 57)}...` : v;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, path);
}
