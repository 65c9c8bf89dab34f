// The S3 driver's FileWriter. Bytes are buffered to `chunksize` parts of one multipart upload
// on the object's own key; commit() completes it, so the object is replaced atomically and is
// readable (a session resumed on another replica re-hashes it). Appending to an object of at
// least 5 MiB starts the new upload with server-side copies of it (UploadPartCopy); a smaller
// one is read back into the first part. Nothing lives only in memory between chunks: the
// committed object is the state. A write that fails or is cancelled aborts its upload; one cut
// short by a crash is left incomplete for the purge (S3Driver.purgeIncomplete).
import { Writable } from 'node:stream';
import type { FileWriter } from '../../driver.js';
import { MIN_PART_SIZE } from './s3-config.js';
import { MultipartUpload, copyRanges } from './s3-multipart.js';
import type { S3Driver } from './s3-driver.js';

export async function openS3Writer(
  driver: S3Driver,
  path: string,
  append: boolean,
): Promise<FileWriter> {
  const key = driver.key(path);
  const existing = append ? await driver.statObject(key) : undefined;
  const base = existing?.size ?? 0;
  const chunk = driver.config.chunksize;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  if (existing && base > 0 && base < MIN_PART_SIZE) {
    pending.push(await driver.getContent(path));
    pendingBytes = base;
  }
  let copyFirst = existing !== undefined && base >= MIN_PART_SIZE;
  let upload: MultipartUpload | undefined;
  let written = 0;

  const flush = async (): Promise<void> => {
    upload ??= await MultipartUpload.create(driver.client, driver.config.bucket, key);
    if (copyFirst) {
      copyFirst = false;
      await upload.copyParts(
        key,
        copyRanges(base, driver.config.multipartcopychunksize),
        driver.config.multipartcopymaxconcurrency,
      );
    }
    if (pendingBytes === 0) return;
    const body = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await upload.uploadPart(body);
  };

  const stream = new Writable({
    highWaterMark: 1 << 20,
    write(data: Buffer, _enc, cb) {
      pending.push(data);
      pendingBytes += data.length;
      written += data.length;
      if (pendingBytes < chunk) return cb();
      flush().then(() => cb(), cb);
    },
  });
  stream.on('error', () => {});

  const finished = (): Promise<boolean> =>
    new Promise((resolve) => {
      if (stream.errored || stream.destroyed)
        return resolve(!stream.errored && stream.writableFinished);
      if (stream.writableFinished) return resolve(true);
      stream.once('finish', () => resolve(true));
      stream.once('close', () => resolve(stream.writableFinished && !stream.errored));
      if (!stream.writableEnded) stream.end();
    });

  let done: Promise<void> | undefined;
  const commit = async (): Promise<void> => {
    if (!(await finished())) {
      await upload?.abort().catch(() => {});
      throw stream.errored ?? new Error(`write to ${path} was interrupted`);
    }
    try {
      if (upload || (copyFirst && written > 0)) {
        await flush();
        await upload!.complete();
      } else if (!(existing && written === 0)) {
        await driver.putObject(key, Buffer.concat(pending, pendingBytes));
      }
    } catch (err) {
      await upload?.abort().catch(() => {});
      throw err;
    }
  };

  return {
    stream,
    size: () => base + written,
    commit: () => (done ??= commit()),
    cancel: async () => {
      stream.destroy();
      await upload?.abort().catch(() => {});
      await driver.deleteObject(key);
    },
  };
}
