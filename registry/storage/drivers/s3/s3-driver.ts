// The S3 StorageDriver (AWS S3 and compatible stores such as Ceph radosgw). A key `/a/b` is
// the object `<rootdirectory>/a/b`; directories are key prefixes, so they exist while
// something lies below them. Writers are multipart uploads (./s3-writer.ts); moves are
// server-side copies (CopyObject, or UploadPartCopy parts above multipartcopythresholdsize)
// followed by a delete of the source; incomplete multipart uploads left by a crash are aborted
// by purgeIncomplete (called by the upload purger). Checksums are sent only where S3 requires
// them, which S3-compatible stores accept.
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  AbortMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  PathNotFoundError,
  StorageUnavailableError,
  type FileInfo,
  type FileWriter,
  type StorageDriver,
} from '../../driver.js';
import { MIN_PART_SIZE, type S3StorageConfig } from './s3-config.js';
import { MultipartUpload, copyRanges, copySource, runLimited } from './s3-multipart.js';
import { openS3Writer } from './s3-writer.js';

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly client: S3Client;
  private readonly prefix: string;

  constructor(readonly config: S3StorageConfig) {
    const options: S3ClientConfig = {
      region: config.region,
      endpoint: config.regionendpoint,
      forcePathStyle: config.forcepathstyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (config.accesskey && config.secretkey)
      options.credentials = { accessKeyId: config.accesskey, secretAccessKey: config.secretkey };
    this.client = new S3Client(options);
    // Outermost middleware: what still fails after the SDK's retries because the store is
    // down or overloaded becomes StorageUnavailableError (503 with Retry-After).
    this.client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          throw unavailable(err, config) ?? err;
        }
      },
      { step: 'initialize', name: 'tsdockStorageUnavailable' },
    );
    this.prefix = config.rootdirectory ? `${config.rootdirectory}/` : '';
  }

  /** Fails with a one-line reason when the bucket cannot be reached with these settings. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const why =
        status === 404 ? 'no such bucket' : status === 403 ? 'access denied' : errorText(err);
      throw new Error(
        `cannot use S3 bucket "${this.config.bucket}" at ${this.config.regionendpoint ?? 'AWS'}: ${why}`,
      );
    }
  }

  /** The object key of a driver path. */
  key(path: string): string {
    if (!path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '.'))
      throw new Error(`invalid storage path ${path}`);
    return this.prefix + path.slice(1);
  }

  private pathOf(key: string): string {
    return `/${key.slice(this.prefix.length)}`;
  }

  /** Directory prefix of a path ('' + root for '/'). */
  private dirPrefix(path: string): string {
    return path === '/' ? this.prefix : `${this.key(path)}/`;
  }

  async getContent(path: string): Promise<Buffer> {
    const res = await this.notFound(path, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(path) })),
    );
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    await this.putObject(this.key(path), content);
  }

  async putObject(key: string, body: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
      }),
    );
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    const ranged = offset > 0 || end !== undefined;
    try {
      const res = await this.notFound(path, () =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.config.bucket,
            Key: this.key(path),
            Range: ranged ? `bytes=${offset}-${end ?? ''}` : undefined,
          }),
        ),
      );
      return res.Body as Readable;
    } catch (err) {
      // A range starting at the end of the object (an empty upload) is no error for a reader.
      if (status(err) === 416 && (await this.stat(path)).size <= offset) return Readable.from([]);
      throw err;
    }
  }

  writer(path: string, opts: { append: boolean }): Promise<FileWriter> {
    return openS3Writer(this, path, opts.append);
  }

  /** Size and time of an object, or undefined when there is none. */
  async statObject(key: string): Promise<{ size: number; modTime: Date } | undefined> {
    try {
      const res = await this.client.send(
        new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }),
      );
      return { size: res.ContentLength ?? 0, modTime: res.LastModified ?? new Date() };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  async stat(path: string): Promise<FileInfo> {
    const obj = path === '/' ? undefined : await this.statObject(this.key(path));
    if (obj) return { path, size: obj.size, modTime: obj.modTime, isDir: false };
    const res = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.config.bucket,
        Prefix: this.dirPrefix(path),
        MaxKeys: 1,
      }),
    );
    if (!res.KeyCount) throw new PathNotFoundError(path);
    return { path, size: 0, modTime: new Date(), isDir: true };
  }

  async list(path: string): Promise<string[]> {
    const prefix = this.dirPrefix(path);
    const out: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: prefix,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      for (const c of res.Contents ?? []) out.push(this.pathOf(c.Key!));
      for (const p of res.CommonPrefixes ?? []) out.push(this.pathOf(p.Prefix!.slice(0, -1)));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    if (out.length === 0) throw new PathNotFoundError(path);
    return out;
  }

  async truncate(path: string, size: number): Promise<void> {
    const key = this.key(path);
    const obj = await this.statObject(key);
    if (!obj) throw new PathNotFoundError(path);
    if (size === obj.size) return;
    if (size > obj.size) throw new Error(`cannot extend ${path} by truncate`);
    if (size < MIN_PART_SIZE) {
      const head =
        size === 0 ? Buffer.alloc(0) : await readAll(await this.reader(path, 0, size - 1));
      return await this.putObject(key, head);
    }
    await this.copyInto(key, key, size);
  }

  async move(source: string, dest: string): Promise<void> {
    const from = this.key(source);
    const obj = await this.statObject(from);
    if (!obj) throw new PathNotFoundError(source);
    const to = this.key(dest);
    if (obj.size > this.config.multipartcopythresholdsize) await this.copyInto(from, to, obj.size);
    else
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.config.bucket,
          Key: to,
          CopySource: copySource(this.config.bucket, from),
        }),
      );
    await this.deleteObject(from);
  }

  /** Writes the first `size` bytes of `from` to `to` with UploadPartCopy parts. */
  private async copyInto(from: string, to: string, size: number): Promise<void> {
    const upload = await MultipartUpload.create(this.client, this.config.bucket, to);
    try {
      await upload.copyParts(
        from,
        copyRanges(size, this.config.multipartcopychunksize),
        this.config.multipartcopymaxconcurrency,
      );
      await upload.complete();
    } catch (err) {
      await upload.abort().catch(() => {});
      throw err;
    }
  }

  async delete(path: string): Promise<void> {
    const keys: string[] = [];
    if (path !== '/' && (await this.statObject(this.key(path)))) keys.push(this.key(path));
    await this.walk(path, (info) => void keys.push(this.key(info.path)));
    if (keys.length === 0) throw new PathNotFoundError(path);
    await runLimited(
      keys.map((k) => () => this.deleteObject(k)),
      16,
    );
    await this.purgeIncomplete(path, new Date(Date.now() + 60_000)).catch(() => {});
  }

  async deleteObject(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
  }

  async walk(path: string, fn: (info: FileInfo) => Promise<void> | void): Promise<void> {
    const prefix = this.dirPrefix(path);
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: prefix,
          ContinuationToken: token,
        }),
      );
      for (const c of res.Contents ?? [])
        await fn({
          path: this.pathOf(c.Key!),
          size: c.Size ?? 0,
          modTime: c.LastModified ?? new Date(),
          isDir: false,
        });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  /** Aborts multipart uploads at or below `path` started before `before`; returns how many. */
  async purgeIncomplete(path: string, before: Date): Promise<number> {
    const prefix = path === '/' ? this.prefix : this.key(path);
    let aborted = 0;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const res = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.config.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: idMarker,
        }),
      );
      for (const u of res.Uploads ?? []) {
        if (u.Initiated && u.Initiated >= before) continue;
        await this.client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.config.bucket,
            Key: u.Key,
            UploadId: u.UploadId,
          }),
        );
        aborted++;
      }
      keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
      idMarker = res.IsTruncated ? res.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return aborted;
  }

  /** A presigned GET URL of a file, valid for `seconds` (blob redirects). */
  async redirectURL(path: string, seconds = 1200): Promise<string | undefined> {
    if (!this.config.redirect) return undefined;
    return await getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(path) }),
      { expiresIn: seconds },
    );
  }

  private async notFound<T>(path: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (status(err) === 404 && (err as Error).name !== 'NoSuchBucket')
        throw new PathNotFoundError(path);
      throw err;
    }
  }
}

/** A StorageUnavailableError for network failures and 5xx answers; undefined otherwise. */
function unavailable(err: unknown, config: S3StorageConfig): StorageUnavailableError | undefined {
  const code = status(err);
  if (code !== undefined && code < 500) return undefined;
  const where = `${config.regionendpoint ?? 'AWS S3'} bucket ${config.bucket}`;
  return new StorageUnavailableError(
    `object storage unavailable (${where}): ${errorText(err)}`,
    10,
    {
      cause: err,
    },
  );
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function errorText(err: unknown): string {
  const e = err as Error & { code?: string };
  return (e.message || e.name || e.code || String(err)).split('\n')[0]!;
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
