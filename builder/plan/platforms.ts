// The platforms of a build: `--platform linux/amd64,linux/arm64` parsed into the list of target
// platforms (normalised as BuildKit does: containerd's names, `arm64/v8` -> `arm64`), the build
// platform (this machine), and the automatic ARGs each plan sees (TARGETPLATFORM, BUILDARCH...).
import { InvalidInputError } from '../../shared/errors.js';
import type { Platform } from '../../shared/manifest.js';
import {
  currentPlatform,
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  platformsEqual,
} from '../../shared/platform.js';

export type { Platform };
export { formatPlatform };

/** A platform as BuildKit names it in TARGETPLATFORM: arm64's default variant v8 is dropped. */
export function buildkitPlatform(p: Platform): Platform {
  const n = normalizePlatform(p);
  if (n.architecture === 'arm64' && n.variant === 'v8') {
    const { variant: _v8, ...rest } = n;
    return rest;
  }
  return n;
}

/** BUILDPLATFORM: the machine tsbuild runs on. */
export function hostPlatform(): Platform {
  return buildkitPlatform(currentPlatform());
}

/** One `os/arch[/variant]` of a build (`--platform`, `FROM --platform=`). */
export function parseBuildPlatform(spec: string): Platform {
  return buildkitPlatform(parsePlatform(spec));
}

/**
 * The target platforms of `--platform` (comma-separated, duplicates dropped, order kept); the
 * host's when absent. Throws InvalidInputError naming the entry that is not a platform.
 */
export function targetPlatforms(spec: string | undefined): Platform[] {
  if (spec === undefined || spec.trim() === '') return [hostPlatform()];
  const out: Platform[] = [];
  for (const entry of spec.split(',')) {
    if (entry.trim() === '')
      throw new InvalidInputError(
        `invalid --platform "${spec}": empty entry`,
        'use os/arch[/variant] separated by commas, e.g. linux/amd64,linux/arm64',
      );
    const p = parseBuildPlatform(entry);
    if (!out.some((q) => platformsEqual(p, q))) out.push(p);
  }
  return out;
}

/** BUILDPLATFORM, TARGETPLATFORM and their OS/ARCH/VARIANT parts (BuildKit's automatic ARGs). */
export function platformArgs(
  target: Platform,
  build: Platform = hostPlatform(),
): Map<string, string> {
  const m = new Map<string, string>();
  for (const [prefix, p] of [
    ['BUILD', build],
    ['TARGET', target],
  ] as const) {
    m.set(`${prefix}PLATFORM`, formatPlatform(p));
    m.set(`${prefix}OS`, p.os);
    m.set(`${prefix}ARCH`, p.architecture);
    m.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return m;
}

/** Whether this machine runs `p`'s binaries without emulation. */
export function isNative(p: Platform): boolean {
  return platformsEqual(p, currentPlatform());
}

/**
 * BuildKit's InvalidBaseImagePlatform warning: a single-platform base image of another platform
 * than the stage's is used as it is (its binaries run as they are, natively or emulated).
 */
export function basePlatformWarning(
  ref: string,
  config: { os?: string; architecture?: string; variant?: string },
  want: Platform,
  line: number,
): string | undefined {
  if (!config.architecture) return undefined;
  const got: Platform = buildkitPlatform({
    os: config.os || 'linux',
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  });
  if (platformsEqual(got, want)) return undefined;
  return `[Warning] InvalidBaseImagePlatform: Base image ${ref} was pulled with platform "${formatPlatform(got)}", expected "${formatPlatform(want)}" for current build (line ${line})`;
}
