// The image configuration (OCI image-spec config.md, Docker's container.image.v1): types and
// validation with field-named errors. Docker writes `null` for empty lists and maps; those are
// dropped so callers see `undefined`. Unknown fields are kept as they are.
import type { Digest } from './digest.js';
import {
  asObject,
  digestField,
  field,
  joinPath,
  objectSet,
  optBoolean,
  optInteger,
  optString,
  parseJsonObject,
  reqString,
  show,
  stringArray,
  stringMap,
} from './json-check.js';

export interface Healthcheck {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: Healthcheck;
  OnBuild?: string[];
  Shell?: string[];
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

const STRING_FIELDS = ['User', 'WorkingDir', 'StopSignal'] as const;
const LIST_FIELDS = ['Env', 'Entrypoint', 'Cmd', 'OnBuild', 'Shell'] as const;
const SET_FIELDS = ['ExposedPorts', 'Volumes'] as const;

/** Parses and validates an image config blob; errors name the field (`config.rootfs...`). */
export function parseImageConfig(bytes: Buffer): ImageConfig {
  const doc = parseJsonObject(bytes, 'config');
  return validateImageConfig(doc);
}

/** Validates an already-parsed image config object. */
export function validateImageConfig(doc: Record<string, unknown>): ImageConfig {
  dropNulls(doc, [
    'created',
    'author',
    'config',
    'history',
    'variant',
    'os.version',
    'os.features',
  ]);
  optString(doc, 'created', 'config');
  optString(doc, 'author', 'config');
  reqString(doc, 'architecture', 'config');
  reqString(doc, 'os', 'config');
  optString(doc, 'variant', 'config');
  optString(doc, 'os.version', 'config');
  if (doc['os.features'] !== undefined) stringArray(doc['os.features'], 'config["os.features"]');
  if (doc['config'] !== undefined) validateContainerConfig(doc['config'], 'config.config');
  validateRootfs(doc['rootfs']);
  if (doc['history'] !== undefined) {
    const history = doc['history'];
    if (!Array.isArray(history))
      throw field('config.history', `must be an array, got ${show(history)}`);
    history.forEach((h, i) => validateHistory(h, `config.history[${i}]`));
  }
  return doc as unknown as ImageConfig;
}

function validateContainerConfig(value: unknown, path: string): void {
  const c = asObject(value, path);
  dropNulls(c, [
    ...STRING_FIELDS,
    ...LIST_FIELDS,
    ...SET_FIELDS,
    'Labels',
    'Healthcheck',
    'ArgsEscaped',
  ]);
  for (const k of STRING_FIELDS) optString(c, k, path);
  for (const k of LIST_FIELDS) if (c[k] !== undefined) stringArray(c[k], joinPath(path, k));
  for (const k of SET_FIELDS) if (c[k] !== undefined) objectSet(c[k], joinPath(path, k));
  if (c['Labels'] !== undefined) stringMap(c['Labels'], `${path}.Labels`);
  optBoolean(c, 'ArgsEscaped', path);
  if (c['Healthcheck'] !== undefined) {
    const h = asObject(c['Healthcheck'], `${path}.Healthcheck`);
    if (h['Test'] !== undefined && h['Test'] !== null)
      stringArray(h['Test'], `${path}.Healthcheck.Test`);
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']) {
      optInteger(h, k, `${path}.Healthcheck`);
    }
  }
}

function validateRootfs(value: unknown): void {
  if (value === undefined) throw field('config.rootfs', 'is required');
  const r = asObject(value, 'config.rootfs');
  if (r['type'] !== 'layers')
    throw field('config.rootfs.type', `must be "layers", got ${show(r['type'])}`);
  const ids = r['diff_ids'];
  if (!Array.isArray(ids))
    throw field('config.rootfs.diff_ids', `must be an array, got ${show(ids)}`);
  ids.forEach((d, i) => digestField(d, `config.rootfs.diff_ids[${i}]`));
}

function validateHistory(value: unknown, path: string): void {
  const h = asObject(value, path);
  for (const k of ['created', 'created_by', 'author', 'comment']) optString(h, k, path);
  optBoolean(h, 'empty_layer', path);
}

function dropNulls(o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) if (o[k] === null) delete o[k];
}
