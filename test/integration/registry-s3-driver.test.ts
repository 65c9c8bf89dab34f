// The StorageDriver contract (test/helpers/driver-contract.ts) on the S3 driver against a real
// radosgw, with parts and copy thresholds at S3's 5 MiB minimum so multipart writes, resumed
// appends and UploadPartCopy moves are exercised; plus the purge of abandoned multipart uploads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { S3Driver } from '../../registry/storage/drivers/s3/s3-driver.js';
import { driverContract } from '../helpers/driver-contract.js';
import { startRadosgw, type TestRadosgw } from '../helpers/radosgw.js';

let rgw: TestRadosgw;
let bucket: string;
before(async () => {
  rgw = await startRadosgw();
  bucket = await rgw.bucket();
});
after(async () => await rgw?.close());

const mib = 1024 * 1024;

async function leftovers(root: string): Promise<string[]> {
  const objects = await rgw.client.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: `${root}/` }),
  );
  const uploads = await rgw.client.send(
    new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${root}/` }),
  );
  return [
    ...(objects.Contents ?? []).map((o) => o.Key!),
    ...(uploads.Uploads ?? []).map((u) => `incomplete upload ${u.Key}`),
  ];
}

driverContract({
  name: 's3 (radosgw)',
  make() {
    const root = `t-${randomBytes(4).toString('hex')}`;
    const driver = new S3Driver(
      rgw.config(bucket, {
        rootdirectory: root,
        chunksize: 5 * mib,
        multipartcopychunksize: 5 * mib,
        multipartcopythresholdsize: 5 * mib,
      }),
    );
    return { driver, leftovers: () => leftovers(root), cleanup: () => driver.client.destroy() };
  },
});

test('s3: check() names a missing bucket; purgeIncomplete aborts only old uploads', async () => {
  const missing = new S3Driver(rgw.config('no-such-bucket-tsdock'));
  await assert.rejects(missing.check(), /no-such-bucket-tsdock.*no such bucket/);
  missing.client.destroy();
  const root = `p-${randomBytes(4).toString('hex')}`;
  const driver = new S3Driver(rgw.config(bucket, { rootdirectory: root }));
  await driver.check();
  // A writer cut off by a crash leaves an incomplete multipart upload behind.
  await rgw.client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${root}/uploads/x/data` }),
  );
  assert.equal(await driver.purgeIncomplete('/uploads', new Date(Date.now() - 3600_000)), 0);
  assert.equal((await leftovers(root)).length, 1);
  assert.equal(await driver.purgeIncomplete('/uploads', new Date(Date.now() + 60_000)), 1);
  assert.deepEqual(await leftovers(root), []);
  driver.client.destroy();
});
