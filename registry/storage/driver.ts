// StorageDriver: where the registry's bytes live (blobs and upload sessions). Keys are
// slash-separated paths built only by ../paths.ts. The filesystem driver is the embedded default
// (drivers/filesystem); an in-memory driver (drivers/inmemory) serves tests; object stores fit
// the same contract. Every implementation must pass the contract in test/helpers/driver-contract.ts
// (drivers/s3 runs it on radosgw).
import type { Readable, Writable } from 'node:stream';

export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
  isDir: boolean;
}

/** An open writer: write to `stream`, then commit() to make the bytes visible atomically, or cancel(). */
export interface FileWriter {
  /** Bytes write through this stream are appended to the file. */
  readonly stream: Writable;
  /** Size of the file including everything written so far (after the stream finished). */
  size(): number;
  /** Flushes and closes; the content is then visible to readers. */
  commit(): Promise<void>;
  /** Closes and removes the file. */
  cancel(): Promise<void>;
}

export interface StorageDriver {
  readonly name: string;
  /** The whole content at path; throws PathNotFoundError when missing. */
  getContent(path: string): Promise<Buffer>;
  /** Replaces the content at path atomically (readers see old or new, never a mix). */
  putContent(path: string, content: Buffer): Promise<void>;
  /** A stream of the content from `offset` (and up to `end` inclusive when given). */
  reader(path: string, offset?: number, end?: number): Promise<Readable>;
  /**
   * Optional, for serving: writes bytes `offset..end` (inclusive) of path to `dest` (not ending
   * it) with the driver's own buffers. Throws PathNotFoundError, before writing anything, when
   * missing; rejects when `dest` fails or closes early. Without it, reader() is piped.
   */
  send?(path: string, dest: Writable, offset: number, end: number): Promise<void>;
  /** A writer at path; `append` continues an existing file instead of truncating it. */
  writer(path: string, opts: { append: boolean }): Promise<FileWriter>;
  /** Metadata of a file or directory; throws PathNotFoundError when missing. */
  stat(path: string): Promise<FileInfo>;
  /** Direct children of a directory (full paths); throws PathNotFoundError when missing. */
  list(path: string): Promise<string[]>;
  /** Shortens a file to `size` bytes (rolls back a rejected chunk). */
  truncate(path: string, size: number): Promise<void>;
  /** Moves a file atomically, replacing any file at `dest`; parents are created. */
  move(source: string, dest: string): Promise<void>;
  /** Removes a file or a directory tree; throws PathNotFoundError when missing. */
  delete(path: string): Promise<void>;
  /** Calls `fn` for every file (not directory) under path, depth first. */
  walk(path: string, fn: (info: FileInfo) => Promise<void> | void): Promise<void>;
  /**
   * Optional, for drivers whose writes can be left half-done by a crash (S3 multipart
   * uploads): discards those under path started before `before`; returns how many.
   */
  purgeIncomplete?(path: string, before: Date): Promise<number>;
  /** Optional: a URL clients may GET the file from directly, or undefined to stream it. */
  redirectURL?(path: string): Promise<string | undefined>;
}

/** The one error drivers throw for a missing key. */
export class PathNotFoundError extends Error {
  override readonly name = 'PathNotFoundError';
  constructor(readonly path: string) {
    super(`path not found: ${path}`);
  }
}

/** The storage backend cannot be reached (object store down, 5xx): requests answer 503. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  constructor(
    message: string,
    /** Seconds a client should wait before retrying. */
    readonly retryAfter = 10,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isPathNotFound(err: unknown): err is PathNotFoundError {
  return err instanceof PathNotFoundError;
}
