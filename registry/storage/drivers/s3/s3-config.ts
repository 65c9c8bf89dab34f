// `storage.s3`: the S3 driver's settings, named as in the reference registry's config
// (region, regionendpoint, bucket, accesskey/secretkey, rootdirectory, forcepathstyle,
// chunksize, multipartcopychunksize, multipartcopythresholdsize, multipartcopymaxconcurrency),
// plus `redirect` (presigned blob URLs, off by default). Sizes are bytes.
import { InvalidInputError } from '../../../../shared/errors.js';

export interface S3StorageConfig {
  region: string;
  /** Endpoint of an S3-compatible store (e.g. `http://127.0.0.1:7480`); AWS when absent. */
  regionendpoint?: string;
  bucket: string;
  /** Static keys; without them the SDK's default credential chain (env, profile, IMDS...). */
  accesskey?: string;
  secretkey?: string;
  /** Key prefix inside the bucket (no leading slash needed). */
  rootdirectory: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible stores need. */
  forcepathstyle: boolean;
  /** Part size of multipart writes (S3's minimum is 5 MiB). */
  chunksize: number;
  /** Part size of server-side multipart copies. */
  multipartcopychunksize: number;
  /** Objects above this size are copied with UploadPartCopy instead of CopyObject. */
  multipartcopythresholdsize: number;
  multipartcopymaxconcurrency: number;
  /** Blob GETs answer 307 to a presigned URL of the object instead of streaming it. */
  redirect: boolean;
}

export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest single copy (CopyObject, one UploadPartCopy). */
export const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024;

/** Fills defaults and checks `storage.s3` (as given in YAML or REGISTRY_STORAGE_S3_*). */
export function normalizeS3Config(raw: Record<string, unknown>): S3StorageConfig {
  const str = (k: string): string | undefined =>
    raw[k] === undefined || raw[k] === '' ? undefined : String(raw[k]);
  const size = (k: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = raw[k] === undefined ? def : Number(raw[k]);
    if (!Number.isInteger(v) || v < min || v > max)
      throw new InvalidInputError(
        `invalid storage.s3.${k} "${String(raw[k])}"`,
        `expected an integer from ${min} to ${max}`,
      );
    return v;
  };
  const bucket = str('bucket');
  if (!bucket)
    throw new InvalidInputError(
      'storage.s3.bucket is missing',
      'name the bucket to store blobs in',
    );
  const endpoint = str('regionendpoint');
  if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint))
    throw new InvalidInputError(
      `invalid storage.s3.regionendpoint "${endpoint}"`,
      'expected http(s)://host:port',
    );
  const accesskey = str('accesskey');
  const secretkey = str('secretkey');
  if (Boolean(accesskey) !== Boolean(secretkey))
    throw new InvalidInputError(
      'storage.s3 has only one of accesskey and secretkey',
      'give both, or neither to use the default credential chain',
    );
  return {
    region: str('region') ?? 'us-east-1',
    regionendpoint: endpoint,
    bucket,
    accesskey,
    secretkey,
    rootdirectory: (str('rootdirectory') ?? '').replace(/^\/+|\/+$/g, ''),
    forcepathstyle: raw.forcepathstyle === undefined ? Boolean(endpoint) : bool(raw.forcepathstyle),
    chunksize: size('chunksize', 10 * 1024 * 1024, MIN_PART_SIZE, MAX_COPY_SIZE),
    multipartcopychunksize: size(
      'multipartcopychunksize',
      32 * 1024 * 1024,
      MIN_PART_SIZE,
      MAX_COPY_SIZE - MIN_PART_SIZE,
    ),
    multipartcopythresholdsize: size(
      'multipartcopythresholdsize',
      32 * 1024 * 1024,
      0,
      MAX_COPY_SIZE,
    ),
    multipartcopymaxconcurrency: size('multipartcopymaxconcurrency', 100, 1),
    redirect: raw.redirect === undefined ? false : bool(raw.redirect),
  };
}

function bool(v: unknown): boolean {
  return v === true || v === 'true';
}
