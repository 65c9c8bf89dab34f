// MetadataStore: what the registry knows besides bytes: repositories, tags, the manifests each
// repository holds, referrers, blob links and upload sessions. LevelDB (level-store.ts) is the
// embedded default; PostgreSQL (postgres/) is shared by replicas; open.ts picks one from the
// config. Writes that belong together are applied atomically.

/** A manifest held by a repository. */
export interface ManifestRecord {
  mediaType: string;
  size: number;
  /** Digests this manifest references (config, layers, or child manifests). */
  refs: string[];
  subject?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The referrers API entry of a manifest that has a subject. */
export function referrerOf(digest: string, record: ManifestRecord): Descriptor {
  const desc: Descriptor = { mediaType: record.mediaType, digest, size: record.size };
  if (record.artifactType) desc.artifactType = record.artifactType;
  if (record.annotations) desc.annotations = record.annotations;
  return desc;
}

export interface UploadSession {
  uuid: string;
  repo: string;
  startedAt: string;
  /** Who opened it (token subject, else client address), for the per-client cap. */
  client?: string;
}

/** A writer's declaration that it is about to reference `digests` (see registry/gc-holds.ts). */
export interface ReferenceHold {
  id: string;
  digests: string[];
  /** Milliseconds since the epoch when the hold was taken. */
  at: number;
}

/**
 * A write another process made that can leave a cached entry stale (see `watch`). Tags are not
 * among them: with a shared store no process caches tags (services/manifests.ts).
 */
export type StoreChange =
  | { kind: 'manifest'; repo: string; digest: string }
  | { kind: 'link'; repo: string; digest: string }
  /** Some notices may have been missed: forget everything cached. */
  | { kind: 'all' };

export interface Page {
  last?: string;
  n?: number;
}

export interface MetadataStore {
  open(): Promise<void>;
  close(): Promise<void>;
  /** Tag -> digest, or undefined. */
  getTag(repo: string, tag: string): Promise<string | undefined>;
  /** Tags of a repository in lexical order after `last`, at most `n`. */
  listTags(repo: string, page?: Page): Promise<string[]>;
  /** Removes a tag; false when it did not exist. */
  deleteTag(repo: string, tag: string): Promise<boolean>;
  getManifest(repo: string, digest: string): Promise<ManifestRecord | undefined>;
  /** Records a manifest (its blob link, the repo, the tag and its referrer entry) atomically. */
  putManifest(repo: string, digest: string, record: ManifestRecord, tag?: string): Promise<void>;
  /** Removes a manifest, every tag pointing at it and its referrer entry; false when unknown. */
  deleteManifest(repo: string, digest: string): Promise<boolean>;
  /** Every manifest of every repository (for GC). */
  allManifests(): AsyncIterable<{ repo: string; digest: string; record: ManifestRecord }>;
  /** Every tag of every repository (for GC). */
  allTags(): AsyncIterable<{ repo: string; tag: string; digest: string }>;
  referrers(repo: string, subject: string): Promise<Descriptor[]>;
  hasLink(repo: string, digest: string): Promise<boolean>;
  putLink(repo: string, digest: string): Promise<void>;
  deleteLink(repo: string, digest: string): Promise<boolean>;
  allLinks(): AsyncIterable<{ repo: string; digest: string }>;
  repositoryExists(repo: string): Promise<boolean>;
  listRepositories(page?: Page): Promise<string[]>;
  putSession(session: UploadSession): Promise<void>;
  getSession(uuid: string): Promise<UploadSession | undefined>;
  deleteSession(uuid: string): Promise<void>;
  allSessions(): AsyncIterable<UploadSession>;
  // GC coordination (registry/gc-holds.ts): writers hold what they are about to reference, the
  // GC condemns what it is about to delete; each side writes its mark, then reads the other's.
  /** Records a hold (it must be visible to every later allHolds()). */
  putHold(hold: ReferenceHold): Promise<void>;
  deleteHold(id: string): Promise<void>;
  allHolds(): AsyncIterable<ReferenceHold>;
  /** Announces that GC may delete these digests (visible to every later condemned()). */
  condemn(digests: string[]): Promise<void>;
  /** Withdraws the announcement for these digests, or for every digest when none are given. */
  pardon(digests?: string[]): Promise<void>;
  /** Which of `digests` are condemned. */
  condemned(digests: string[]): Promise<string[]>;
  /**
   * Waits until no other collection runs on this store (in any process sharing it), then holds
   * that lock until the returned function is called.
   */
  lockCollection(): Promise<() => Promise<void>>;
  /**
   * Stores shared between processes tell each one what the others changed (resolves once it
   * listens); the embedded store, one process only, has nothing to tell and lacks it.
   */
  watch?(listener: (change: StoreChange) => void): Promise<void>;
}

/**
 * The store's database cannot be reached right now (down, restarting, out of connections).
 * Nothing was acknowledged; the request may be retried. The registry answers 503 UNAVAILABLE.
 */
export class MetadataUnavailableError extends Error {
  override readonly name = 'MetadataUnavailableError';
  constructor(
    message: string,
    /** Seconds a client should wait before retrying. */
    readonly retryAfter: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
