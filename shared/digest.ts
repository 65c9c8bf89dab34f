// Content digests (OCI image-spec "descriptor.md#digests"): parse and validate `algo:hex`,
// hash streams in constant memory, and verify content while it flows.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError, InvalidDigestError } from './errors.js';

export type Algorithm = 'sha256' | 'sha512';
/** A validated digest string such as `sha256:e3b0c4...`. */
export type Digest = string & { readonly __digest: unique symbol };

const HEX_LENGTH: Record<Algorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export interface ParsedDigest {
  algorithm: Algorithm;
  hex: string;
}

/** Parses and validates a digest; throws InvalidDigestError naming what is wrong. */
export function parseDigest(value: string): ParsedDigest {
  const m = DIGEST_RE.exec(value);
  if (!m)
    throw new InvalidDigestError(
      `invalid digest "${truncate(value)}"`,
      'expected algorithm:hex, e.g. sha256:<64 hex chars>',
    );
  const algorithm = m[1] as Algorithm;
  const hex = m[2]!;
  if (!(algorithm in HEX_LENGTH)) {
    throw new InvalidDigestError(
      `unsupported digest algorithm "${truncate(algorithm)}"`,
      'use sha256 or sha512',
    );
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new InvalidDigestError(
      `invalid ${algorithm} digest "${truncate(value)}"`,
      `expected ${HEX_LENGTH[algorithm]} lowercase hex characters`,
    );
  }
  return { algorithm, hex };
}

/** Validates and brands a digest string. */
export function toDigest(value: string): Digest {
  parseDigest(value);
  return value as Digest;
}

export function isDigest(value: string): value is Digest {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

/** The digest of an in-memory buffer. */
export function digestOf(data: Buffer | string, algorithm: Algorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** A pass-through stream that hashes and counts what flows through it. */
export class DigestingStream extends Transform {
  private readonly hash: Hash;
  private count = 0;
  constructor(readonly algorithm: Algorithm = 'sha256') {
    super();
    this.hash = createHash(algorithm);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    cb(null, chunk);
  }
  /** Valid once the stream has ended. */
  digest(): Digest {
    return `${this.algorithm}:${this.hash.copy().digest('hex')}` as Digest;
  }
  get size(): number {
    return this.count;
  }
}

/** Hashes a file in constant memory. */
export async function digestFile(
  path: string,
  algorithm: Algorithm = 'sha256',
): Promise<{ digest: Digest; size: number }> {
  const hash = createHash(algorithm);
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `${algorithm}:${hash.digest('hex')}` as Digest, size };
}

/** Throws DigestMismatchError unless `actual` equals `expected`. */
export function assertDigest(expected: string, actual: string): void {
  if (expected !== actual) throw new DigestMismatchError(expected, actual);
}

/** The hex part of a digest, for file names. */
export function digestHex(digest: string): string {
  return parseDigest(digest).hex;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
