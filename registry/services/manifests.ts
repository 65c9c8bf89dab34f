// Manifests of a repository (spec "Pulling/Pushing manifests"): stored byte-exact as blobs,
// indexed per repository in the metadata store, bytes cached by digest (they never change). When
// this process is the store's one writer (the embedded store) tags and manifests are served from
// bounded caches too. With a shared store (PostgreSQL) another replica may move a tag or delete a
// manifest at any moment, and a cache would answer with what was true before until that
// replica's notice arrived: every read asks the store what the tag names, or whether the digest
// is still there (one indexed query), so what one replica acknowledged every replica serves.
import { digestOf, parseDigest } from '../../shared/digest.js';
import { manifestReferences, parseManifest, type ParsedManifest } from '../../shared/manifest.js';
import { createHash } from 'node:crypto';
import { RegistryError } from '../errors.js';
import { Lru } from '../lru.js';
import type { ManifestRecord, MetadataStore } from '../metadata/store.js';
import type { BlobStore } from './blob-store.js';
import { withReferencesHeld } from '../gc-holds.js';
import { InvalidManifestError } from '../../shared/errors.js';
import { duplicateKeyPath } from '../../shared/json-duplicate-keys.js';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  subject?: string;
  /** Digests it references (so the cache can drop it should any of them go). */
  refs: string[];
}

export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

export class ManifestService {
  /** `${repo}:${tag}` -> digest */
  private readonly tags = new Lru<string, string>(20_000);
  /** `${repo}@${digest}` -> manifest (bytes are immutable per digest) */
  private readonly manifests = new Lru<string, StoredManifest>(5_000);
  /** Bumped by every delete and forget: a lookup that raced one does not fill the caches. */
  private epoch = 0;

  /** Other processes write to the store: reads ask it (only bytes are cached). */
  readonly shared: boolean;

  constructor(
    private readonly meta: MetadataStore,
    private readonly blobs: BlobStore,
  ) {
    // A store that can tell of other processes' writes (watch) has other writers.
    this.shared = meta.watch !== undefined;
  }

  /** Cached lookup only (fast path): the manifest for a tag or digest, or undefined. */
  cached(repo: string, reference: string): StoredManifest | undefined {
    if (this.shared) return undefined;
    const digest = isDigestReference(reference) ? reference : this.tags.get(`${repo}:${reference}`);
    return digest === undefined ? undefined : this.manifests.get(`${repo}@${digest}`);
  }

  /** The manifest for a tag or digest; MANIFEST_UNKNOWN when the repository does not hold it. */
  async get(repo: string, reference: string): Promise<StoredManifest> {
    const hit = this.cached(repo, reference);
    if (hit) return hit;
    const epoch = this.epoch;
    const digest = isDigestReference(reference)
      ? reference
      : await this.meta.getTag(repo, reference);
    if (digest === undefined)
      throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag: reference });
    // A tag read from the store names a manifest it holds; a digest is asked about.
    const known = this.manifests.get(`${repo}@${digest}`);
    const record =
      known && !isDigestReference(reference)
        ? undefined
        : await this.meta.getManifest(repo, digest);
    if (known && (record || !isDigestReference(reference))) return known;
    if (!record) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest });
    const bytes = await this.blobs.get(digest).catch(() => {
      throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest });
    });
    const stored: StoredManifest = {
      digest,
      mediaType: record.mediaType,
      bytes,
      subject: record.subject,
      refs: record.refs,
    };
    this.remember(repo, reference, stored, epoch);
    return stored;
  }

  /** Validates and stores a manifest under a tag or digest reference. */
  async put(
    repo: string,
    reference: string,
    bytes: Buffer,
    contentType: string | undefined,
  ): Promise<StoredManifest> {
    const parsed = parseManifest(bytes, contentType);
    const duplicate = duplicateKeyPath(bytes.toString('utf8'));
    if (duplicate !== undefined)
      throw new InvalidManifestError(
        `manifest: member "${duplicate}" appears twice`,
        'each name may appear once per JSON object',
      );
    const digest = this.digestFor(reference, bytes);
    const record = recordOf(parsed, bytes.length);
    const epoch = this.epoch;
    // Held (see gc-holds.ts): GC deletes neither the references nor this manifest's own blob
    // between the checks below and the record that makes them reachable.
    await withReferencesHeld(this.meta, [...record.refs, digest], async (commit) => {
      await this.checkReferences(repo, parsed);
      await this.blobs.put(digest, bytes);
      commit();
      await this.meta.putManifest(
        repo,
        digest,
        record,
        isDigestReference(reference) ? undefined : reference,
      );
    });
    const stored: StoredManifest = {
      digest,
      mediaType: record.mediaType,
      bytes,
      subject: record.subject,
      refs: record.refs,
    };
    this.remember(repo, reference, stored, epoch);
    return stored;
  }

  /** Caches a manifest read or written since `epoch`, unless a delete or GC ran meanwhile. */
  private remember(repo: string, reference: string, stored: StoredManifest, epoch: number): void {
    if (epoch !== this.epoch) return;
    if (!this.shared && !isDigestReference(reference))
      this.tags.set(`${repo}:${reference}`, stored.digest);
    this.manifests.set(`${repo}@${stored.digest}`, stored);
  }

  /** Deletes a tag (only the tag) or a manifest by digest (with its tags). */
  async delete(repo: string, reference: string): Promise<void> {
    const found = isDigestReference(reference)
      ? await this.meta.deleteManifest(repo, reference)
      : await this.meta.deleteTag(repo, reference);
    this.epoch++;
    this.tags.deleteWhere((k) => k.startsWith(`${repo}:`));
    this.manifests.delete(`${repo}@${reference}`);
    if (!found) throw new RegistryError('MANIFEST_UNKNOWN');
  }

  /** Forgets cached entries of a manifest (after GC removed it). */
  forget(repo: string, digest: string): void {
    this.epoch++;
    this.manifests.delete(`${repo}@${digest}`);
    this.tags.deleteWhere((k) => k.startsWith(`${repo}:`));
  }

  /** Forgets everything cached. */
  forgetAll(): void {
    this.epoch++;
    this.tags.clear();
    this.manifests.clear();
  }

  /**
   * Forgets every cached manifest that is, or references, a blob GC deleted. One scan for a
   * whole batch: a scan per blob blocked the event loop for 1 s per 1000 blobs (5000 cached).
   */
  forgetBlobs(digests: ReadonlySet<string>): void {
    if (digests.size === 0) return;
    this.epoch++;
    this.manifests.deleteWhere(
      (_k, m) => digests.has(m.digest) || m.refs.some((r) => digests.has(r)),
    );
  }

  private digestFor(reference: string, bytes: Buffer): string {
    if (!isDigestReference(reference)) return digestOf(bytes);
    const { algorithm } = parseDigest(reference);
    const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
    if (actual !== reference)
      throw new RegistryError('DIGEST_INVALID', 'manifest digest did not match the reference', {
        expected: reference,
        actual,
      });
    return actual;
  }

  /**
   * Every descriptor must name something the repository holds (a linked blob, or for an index a
   * manifest) and give its exact size: a wrong size is refused, not served to clients to trip on.
   */
  private async checkReferences(repo: string, parsed: ParsedManifest): Promise<void> {
    for (const { digest, size } of manifestReferences(parsed)) {
      const stored =
        parsed.kind === 'index'
          ? (await this.meta.getManifest(repo, digest))?.size
          : (await this.meta.hasLink(repo, digest))
            ? await this.blobs.size(digest, { fresh: true })
            : undefined;
      if (stored === undefined)
        throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { digest });
      if (stored !== size)
        throw new RegistryError(
          'MANIFEST_INVALID',
          `descriptor size ${size} of ${digest} does not match the stored ${stored} bytes`,
          { digest, size, stored },
        );
    }
  }
}

/** The metadata record of a parsed manifest (also used by the proxy to cache upstream manifests). */
export function recordOf(parsed: ParsedManifest, size: number): ManifestRecord {
  const m = parsed.manifest;
  const record: ManifestRecord = {
    mediaType: parsed.mediaType,
    size,
    refs: [...new Set(manifestReferences(parsed).map((d) => d.digest as string))],
  };
  if (m.subject) record.subject = m.subject.digest;
  const artifactType =
    m.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
  if (artifactType) record.artifactType = artifactType;
  if (m.annotations) record.annotations = m.annotations;
  return record;
}
