// Manifests of a repository (spec "Pulling/Pushing manifests"): stored byte-exact as blobs,
// indexed per repository in the metadata store, tags resolved through a bounded cache.
import { digestOf, parseDigest } from '../../shared/digest.js';
import { InvalidInputError } from '../../shared/errors.js';
import { manifestReferences, parseManifest, type ParsedManifest } from '../../shared/manifest.js';
import { createHash } from 'node:crypto';
import { RegistryError } from '../errors.js';
import { Lru } from '../lru.js';
import type { ManifestRecord, MetadataStore } from '../metadata/store.js';
import type { BlobStore } from './blob-store.js';
import type { GcGuard } from '../gc-guard.js';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  subject?: string;
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

  constructor(
    private readonly meta: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly guard: GcGuard,
  ) {}

  /** Cached lookup only (fast path): the manifest for a tag or digest, or undefined. */
  cached(repo: string, reference: string): StoredManifest | undefined {
    const digest = isDigestReference(reference) ? reference : this.tags.get(`${repo}:${reference}`);
    return digest === undefined ? undefined : this.manifests.get(`${repo}@${digest}`);
  }

  /** The manifest for a tag or digest; MANIFEST_UNKNOWN when the repository does not hold it. */
  async get(repo: string, reference: string): Promise<StoredManifest> {
    const hit = this.cached(repo, reference);
    if (hit) return hit;
    const digest = isDigestReference(reference)
      ? reference
      : await this.meta.getTag(repo, reference);
    if (digest === undefined)
      throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag: reference });
    const record = await this.meta.getManifest(repo, digest);
    if (!record) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest });
    const bytes = await this.blobs.get(digest).catch(() => {
      throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest });
    });
    const stored: StoredManifest = {
      digest,
      mediaType: record.mediaType,
      bytes,
      subject: record.subject,
    };
    if (!isDigestReference(reference)) this.tags.set(`${repo}:${reference}`, digest);
    this.manifests.set(`${repo}@${digest}`, stored);
    return stored;
  }

  /** Validates and stores a manifest under a tag or digest reference. */
  async put(
    repo: string,
    reference: string,
    bytes: Buffer,
    contentType: string | undefined,
  ): Promise<StoredManifest> {
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(bytes, contentType);
    } catch (err) {
      if (err instanceof InvalidInputError)
        throw new RegistryError('MANIFEST_INVALID', err.message);
      throw err;
    }
    const digest = this.digestFor(reference, bytes);
    const record = recordOf(parsed, bytes.length);
    await this.guard.shared(async () => {
      await this.checkReferences(repo, parsed, record.refs);
      this.guard.touch(digest);
      await this.blobs.put(digest, bytes);
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
    };
    if (!isDigestReference(reference)) this.tags.set(`${repo}:${reference}`, digest);
    this.manifests.set(`${repo}@${digest}`, stored);
    return stored;
  }

  /** Deletes a tag (only the tag) or a manifest by digest (with its tags). */
  async delete(repo: string, reference: string): Promise<void> {
    const found = isDigestReference(reference)
      ? await this.meta.deleteManifest(repo, reference)
      : await this.meta.deleteTag(repo, reference);
    this.tags.deleteWhere((k) => k.startsWith(`${repo}:`));
    this.manifests.delete(`${repo}@${reference}`);
    if (!found) throw new RegistryError('MANIFEST_UNKNOWN');
  }

  /** Forgets cached entries of a manifest (after GC removed it). */
  forget(repo: string, digest: string): void {
    this.manifests.delete(`${repo}@${digest}`);
    this.tags.deleteWhere((k) => k.startsWith(`${repo}:`));
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

  private async checkReferences(
    repo: string,
    parsed: ParsedManifest,
    refs: string[],
  ): Promise<void> {
    for (const digest of refs) {
      const known =
        parsed.kind === 'index'
          ? (await this.meta.getManifest(repo, digest)) !== undefined
          : (await this.meta.hasLink(repo, digest)) &&
            (await this.blobs.size(digest)) !== undefined;
      if (!known) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { digest });
      this.guard.touch(digest);
    }
  }
}

function recordOf(parsed: ParsedManifest, size: number): ManifestRecord {
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
