// A throwaway one-node Ceph cluster with radosgw (memstore OSD, auth none) for S3 tests,
// started by scripts/radosgw-cluster.sh in a temp dir and stopped by PID. `bucket()` creates a
// fresh bucket; `config()` gives the S3 driver's settings for it (path-style, us-east-1).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  normalizeS3Config,
  type S3StorageConfig,
} from '../../registry/storage/drivers/s3/s3-config.js';

const run = promisify(execFile);
const script = join(import.meta.dirname, '..', '..', '..', 'scripts', 'radosgw-cluster.sh');

export interface TestRadosgw {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  client: S3Client;
  /** Creates a bucket with a fresh name and returns the name. */
  bucket(): Promise<string>;
  /** S3 driver settings for `bucket` (extra fields override). */
  config(bucket: string, extra?: Record<string, unknown>): S3StorageConfig;
  close(): Promise<void>;
}

/**
 * Holds a machine-wide lock until release() (or until this process dies: the lock is held by a
 * `flock` child whose stdin is ours). Test files run in parallel, and two one-node clusters
 * running at once on one machine were seen to leave the second OSD never coming up.
 */
async function machineLock(path: string): Promise<{ release(): void }> {
  const child = spawn('flock', [path, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock ${path} exited with ${code}`)));
    child.stdout!.once('data', () => resolve());
  });
  child.removeAllListeners('exit');
  return { release: () => child.stdin!.end() };
}

export async function startRadosgw(): Promise<TestRadosgw> {
  const lock = await machineLock(join(tmpdir(), 'tsdock-radosgw.lock'));
  let dir = '';
  let out = '';
  // A fresh cluster (new fsid, ports, directory) per attempt: now and then the one OSD is
  // refused by its monitor ('wrong fsid') and never comes up; a new cluster does.
  for (let attempt = 1; ; attempt++) {
    dir = mkdtempSync(join(tmpdir(), 'tsdock-rgw-'));
    try {
      out = (await run('bash', [script, 'start', dir], { timeout: 180_000 })).stdout;
      break;
    } catch (err) {
      await run('bash', [script, 'stop', dir]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      if (attempt < 3) {
        process.stderr.write(
          `radosgw cluster start ${attempt} failed, starting another: ${String(err)}\n`,
        );
        continue;
      }
      lock.release();
      throw err;
    }
  }
  const field = (name: string): string => {
    const m = new RegExp(`^${name}=(.*)$`, 'm').exec(out);
    if (!m) throw new Error(`radosgw-cluster.sh printed no ${name}: ${out}`);
    return m[1]!;
  };
  const endpoint = field('endpoint');
  const accessKey = field('accesskey');
  const secretKey = field('secretkey');
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    accessKey,
    secretKey,
    client,
    async bucket() {
      const name = `tsdock-${randomBytes(6).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    config(bucket, extra = {}) {
      return normalizeS3Config({
        region: 'us-east-1',
        regionendpoint: endpoint,
        bucket,
        accesskey: accessKey,
        secretkey: secretKey,
        forcepathstyle: true,
        ...extra,
      });
    },
    async close() {
      if (!existsSync(dir)) return;
      client.destroy();
      try {
        await run('bash', [script, 'stop', dir]);
        rmSync(dir, { recursive: true, force: true });
      } finally {
        lock.release();
      }
    },
  };
}
