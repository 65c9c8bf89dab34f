// `storage.s3` in the config: defaults (region us-east-1, 10 MiB parts, path-style with an
// endpoint, redirect off), the REGISTRY_STORAGE_S3_* env override, and one-line errors for a
// missing bucket, half a key pair, or parts below S3's 5 MiB minimum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../registry/config.js';
import { copyRanges } from '../../registry/storage/drivers/s3/s3-multipart.js';

const mib = 1024 * 1024;

function withFile(yaml: string, fn: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-s3cfg-'));
  try {
    const file = join(dir, 'c.yml');
    writeFileSync(file, `version: 0.1\n${yaml}`);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('config: storage.s3 defaults and env override', () => {
  withFile(
    'storage:\n  s3:\n    regionendpoint: http://127.0.0.1:7480\n    bucket: reg\n    rootdirectory: /data/\n',
    (file) => {
      const c = loadConfig(file, {});
      assert.deepEqual(c.storage.s3, {
        region: 'us-east-1',
        regionendpoint: 'http://127.0.0.1:7480',
        bucket: 'reg',
        accesskey: undefined,
        secretkey: undefined,
        rootdirectory: 'data',
        forcepathstyle: true,
        chunksize: 10 * mib,
        multipartcopychunksize: 32 * mib,
        multipartcopythresholdsize: 32 * mib,
        multipartcopymaxconcurrency: 100,
        redirect: false,
      });
      const env = loadConfig(file, {
        REGISTRY_STORAGE_S3_BUCKET: 'other',
        REGISTRY_STORAGE_S3_CHUNKSIZE: String(6 * mib),
        REGISTRY_STORAGE_S3_ACCESSKEY: 'AK',
        REGISTRY_STORAGE_S3_SECRETKEY: 'SK',
        REGISTRY_STORAGE_S3_REDIRECT: 'true',
      });
      assert.equal(env.storage.s3?.bucket, 'other');
      assert.equal(env.storage.s3?.chunksize, 6 * mib);
      assert.equal(env.storage.s3?.accesskey, 'AK');
      assert.equal(env.storage.s3?.redirect, true);
    },
  );
  withFile('storage:\n  filesystem:\n    rootdirectory: /x\n', (file) => {
    assert.equal(loadConfig(file, {}).storage.s3, undefined, 'filesystem stays the default');
  });
});

test('config: storage.s3 errors name the setting', () => {
  const cases: Array<[string, RegExp]> = [
    ['storage:\n  s3:\n    region: eu-west-1\n', /storage\.s3\.bucket is missing/],
    ['storage:\n  s3:\n    bucket: b\n    accesskey: AK\n', /only one of accesskey and secretkey/],
    ['storage:\n  s3:\n    bucket: b\n    chunksize: 1048576\n', /invalid storage\.s3\.chunksize/],
    ['storage:\n  s3:\n    bucket: b\n    regionendpoint: 127.0.0.1:80\n', /regionendpoint/],
  ];
  for (const [yaml, message] of cases)
    withFile(yaml, (file) => assert.throws(() => loadConfig(file, {}), message));
});

test('copyRanges: parts of about the chunk size, none but the last under 5 MiB', () => {
  assert.deepEqual(copyRanges(10, 5 * mib), [[0, 9]]);
  assert.deepEqual(copyRanges(12 * mib, 5 * mib), [
    [0, 5 * mib - 1],
    [5 * mib, 12 * mib - 1],
  ]);
  assert.deepEqual(copyRanges(15 * mib, 5 * mib), [
    [0, 5 * mib - 1],
    [5 * mib, 10 * mib - 1],
    [10 * mib, 15 * mib - 1],
  ]);
});
