// Limits on what unpacking a layer may write, so a small hostile blob (a gzip bomb: 48 MB that
// inflate to 10 GiB of zeros) cannot fill the disk or the inode table: the unpacked size of one
// layer, of one image's layers together, and the entry count of one layer. Docker has none of
// these; the defaults are far above any real image and each is raised by an env var:
//
//   TSDOCK_MAX_LAYER_SIZE    64g        file bytes in one layer (k, m, g, t suffixes: 1024-based)
//   TSDOCK_MAX_IMAGE_SIZE    128g       file bytes of the layers one image unpacks together
//   TSDOCK_MAX_LAYER_ENTRIES 1000000    entries (files, dirs, links...) in one layer
//
// A value of 0 turns that limit off. Exceeding one is an UnpackLimitError naming the limit and
// the variable; the caller discards the partial tree, so nothing half-unpacked is cached.
import { InvalidInputError, TsdockError } from '../errors.js';

export interface UnpackLimits {
  layerBytes: number;
  imageBytes: number;
  layerEntries: number;
}

const GiB = 1024 ** 3;
export const DEFAULT_LIMITS: UnpackLimits = {
  layerBytes: 64 * GiB,
  imageBytes: 128 * GiB,
  layerEntries: 1_000_000,
};

const VARS = {
  layerBytes: 'TSDOCK_MAX_LAYER_SIZE',
  imageBytes: 'TSDOCK_MAX_IMAGE_SIZE',
  layerEntries: 'TSDOCK_MAX_LAYER_ENTRIES',
} as const;

/** The limits from the environment over the defaults. */
export function unpackLimits(env = process.env): UnpackLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(VARS) as (keyof UnpackLimits)[]) {
    const v = env[VARS[key]];
    if (v !== undefined && v !== '') out[key] = parseAmount(v, VARS[key]);
  }
  return out;
}

/** "64g", "512m", "100000", "0" -> a number (1024-based suffixes). */
export function parseAmount(text: string, name: string): number {
  const m = /^(\d+)([kmgt]?)b?$/i.exec(text.trim());
  if (!m) throw new InvalidInputError(`invalid ${name} "${text}"`, 'use a number, e.g. 64g or 0');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * mult;
}

/** Unpacked bytes shared by the layers of one image (pass the same budget to each). */
export class ImageBudget {
  used = 0;
  /** Set when one layer failed: the others stop too. */
  stopped = false;
}

/** A limit was exceeded while unpacking. */
export class UnpackLimitError extends TsdockError {}

/** Counts one layer's entries and bytes against the limits (and an image's budget). */
export class UnpackMeter {
  private entries = 0;
  private bytes = 0;

  constructor(
    private readonly limits: UnpackLimits,
    private readonly image?: ImageBudget,
    private readonly what = 'layer',
  ) {}

  /** Call once per entry with the bytes its body will write; throws past a limit. */
  add(size: number): void {
    if (this.image?.stopped) throw new TsdockError(`${this.what}: stopped, another layer failed`);
    const l = this.limits;
    if (l.layerEntries && ++this.entries > l.layerEntries) {
      throw this.fail(`has more than ${l.layerEntries} entries`, 'layerEntries');
    }
    this.bytes += size;
    if (l.layerBytes && this.bytes > l.layerBytes) {
      throw this.fail(`unpacks to more than ${human(l.layerBytes)}`, 'layerBytes');
    }
    if (this.image && size) {
      this.image.used += size;
      if (l.imageBytes && this.image.used > l.imageBytes) {
        throw this.fail(`makes its image unpack to more than ${human(l.imageBytes)}`, 'imageBytes');
      }
    }
  }

  private fail(what: string, key: keyof UnpackLimits): UnpackLimitError {
    return new UnpackLimitError(
      `${this.what} ${what} (limit ${VARS[key]})`,
      `refused, nothing of it kept; if you trust the image, raise the limit, e.g. ${VARS[key]}=${suggest(key, this.limits[key])}, or 0 for none`,
    );
  }
}

function human(n: number): string {
  for (const [unit, size] of [
    ['TiB', 1024 * GiB],
    ['GiB', GiB],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}

function suggest(key: keyof UnpackLimits, current: number): string {
  if (key === 'layerEntries') return String(current * 2);
  const g = Math.ceil((current * 2) / GiB);
  return `${g}g`;
}
