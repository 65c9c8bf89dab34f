// Image transfer between the local store and registries: pullImage/pull and pushImage/push.
export {
  INDEX_DIGEST_ANNOTATION,
  pull,
  pullImage,
  type PullOptions,
  type PullResult,
} from './pull.js';
export { push, pushImage, type PushOptions, type PushResult } from './push.js';
export type { ProgressItem, TransferOptions, TransferProgress } from './transfer-common.js';
