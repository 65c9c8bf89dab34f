// Small validators for JSON documents from peers (manifests, image configs): each error is an
// InvalidInputError naming the field path, e.g. `config.rootfs.diff_ids[1]: invalid digest`.
import { type Digest, parseDigest } from './digest.js';
import { InvalidInputError, TsdockError } from './errors.js';

/** Parses JSON that must be an object; `what` names the document in errors. */
export function parseJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new InvalidInputError(`${what}: invalid JSON: ${(err as Error).message}`);
  }
  return asObject(doc, what);
}

export function asObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw field(path, `must be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A required non-empty string member. */
export function reqString(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') {
    const problem = v === undefined ? 'is required' : `must be a non-empty string, got ${show(v)}`;
    throw field(joinPath(path, key), problem);
  }
  return v;
}

export function optString(
  o: Record<string, unknown>,
  key: string,
  path: string,
): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw field(joinPath(path, key), `must be a string, got ${show(v)}`);
  return v;
}

export function optBoolean(
  o: Record<string, unknown>,
  key: string,
  path: string,
): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean')
    throw field(joinPath(path, key), `must be true or false, got ${show(v)}`);
  return v;
}

export function optInteger(
  o: Record<string, unknown>,
  key: string,
  path: string,
): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw field(joinPath(path, key), `must be an integer, got ${show(v)}`);
  }
  return v;
}

export function stringArray(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) throw field(path, `must be an array of strings, got ${show(value)}`);
  value.forEach((v, i) => {
    if (typeof v !== 'string') throw field(`${path}[${i}]`, `must be a string, got ${show(v)}`);
  });
  return value as string[];
}

export function stringMap(value: unknown, path: string): Record<string, string> {
  const o = asObject(value, path);
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'string') throw field(joinPath(path, k), `must be a string, got ${show(v)}`);
  }
  return o as Record<string, string>;
}

/** An object whose values must be objects (docker's `{"80/tcp": {}}` sets). */
export function objectSet(value: unknown, path: string): Record<string, object> {
  const o = asObject(value, path);
  for (const [k, v] of Object.entries(o)) asObject(v, joinPath(path, k));
  return o as Record<string, object>;
}

export function digestField(value: unknown, path: string): Digest {
  if (typeof value !== 'string') {
    throw field(path, value === undefined ? 'is required' : `must be a string, got ${show(value)}`);
  }
  try {
    parseDigest(value);
  } catch (err) {
    const hint = err instanceof TsdockError ? err.hint : undefined;
    throw new InvalidInputError(`${path}: ${(err as Error).message}`, hint);
  }
  return value as Digest;
}

/** An InvalidInputError about one field. */
export function field(path: string, problem: string): InvalidInputError {
  return new InvalidInputError(`${path}: ${problem}`);
}

/** `a.b` for identifiers, `a["os.version"]` otherwise. */
export function joinPath(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}

/** A short rendering of a wrong value for an error message. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return clip(JSON.stringify(v));
}

/** A value quoted for a one-line message: JSON escapes (no raw newlines), clipped. */
export function quote(s: string): string {
  return JSON.stringify(clip(s));
}

export function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
