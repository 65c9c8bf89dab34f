// Multipart primitives of the S3 driver: an upload that collects parts (uploaded bytes or
// server-side ranges of another object, UploadPartCopy) and completes or aborts, plus the
// split of a byte range into copy parts S3 accepts (every part but the last >= 5 MiB).
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { MIN_PART_SIZE } from './s3-config.js';

export class MultipartUpload {
  private readonly parts: Array<{ PartNumber: number; ETag: string }> = [];
  private constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly uploadId: string,
  ) {}

  static async create(client: S3Client, bucket: string, key: string): Promise<MultipartUpload> {
    const res = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    if (!res.UploadId) throw new Error(`no upload id for ${key}`);
    return new MultipartUpload(client, bucket, key, res.UploadId);
  }

  /** Uploads the next part from memory. */
  async uploadPart(body: Buffer): Promise<void> {
    const PartNumber = this.parts.length + 1;
    this.parts.push({ PartNumber, ETag: '' });
    const res = await this.client.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
        PartNumber,
        Body: body,
        ContentLength: body.length,
      }),
    );
    this.parts[PartNumber - 1]!.ETag = res.ETag ?? '';
  }

  /** Adds parts copied server-side from `sourceKey` bytes `start..end` (inclusive each). */
  async copyParts(
    sourceKey: string,
    ranges: Array<[number, number]>,
    concurrency: number,
  ): Promise<void> {
    const base = this.parts.length;
    const jobs = ranges.map(([start, end], i) => async () => {
      const PartNumber = base + i + 1;
      const res = await this.client.send(
        new UploadPartCopyCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          PartNumber,
          CopySource: copySource(this.bucket, sourceKey),
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      this.parts[PartNumber - 1] = { PartNumber, ETag: res.CopyPartResult?.ETag ?? '' };
    });
    await runLimited(jobs, concurrency);
  }

  get partCount(): number {
    return this.parts.length;
  }

  async complete(): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
        MultipartUpload: { Parts: this.parts },
      }),
    );
  }

  async abort(): Promise<void> {
    await this.client.send(
      new AbortMultipartUploadCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
      }),
    );
  }
}

/** `bucket/key` for CopySource, each key segment URL-encoded. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Splits bytes 0..size-1 into inclusive ranges of about `chunk` bytes, none but the last
 * smaller than S3's 5 MiB minimum (a short tail joins the range before it).
 */
export function copyRanges(size: number, chunk: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let start = 0; start < size; start += chunk)
    out.push([start, Math.min(start + chunk, size) - 1]);
  if (out.length > 1 && size - out[out.length - 1]![0] < MIN_PART_SIZE) {
    const last = out.pop()!;
    out[out.length - 1]![1] = last[1];
  }
  return out;
}

/** Runs async jobs, at most `limit` at a time; rejects with the first failure. */
export async function runLimited(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
