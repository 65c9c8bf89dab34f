// Platforms (os/arch/variant): the one this machine runs, parsing `linux/arm64/v8`, and
// picking an image out of a multi-arch index with containerd's normalisation rules.
import { arch as nodeArch, endianness } from 'node:os';
import { InvalidInputError, NotFoundError } from './errors.js';
import type { Descriptor, ImageIndex, Platform } from './manifest.js';

export type { Platform } from './manifest.js';

/** The platform of this machine in OCI terms. */
export function currentPlatform(): Platform {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const a = nodeArch();
  switch (a) {
    case 'x64':
      return { os, architecture: 'amd64' };
    case 'arm64':
      return { os, architecture: 'arm64', variant: 'v8' };
    case 'arm': {
      const v = (process.config.variables as Record<string, unknown>)['arm_version'];
      return { os, architecture: 'arm', variant: `v${typeof v === 'string' && v ? v : '7'}` };
    }
    case 'ia32':
      return { os, architecture: '386' };
    case 'ppc64':
      return { os, architecture: endianness() === 'LE' ? 'ppc64le' : 'ppc64' };
    case 'mipsel':
      return { os, architecture: 'mipsle' };
    case 'mips64el' as string:
      return { os, architecture: 'mips64le' };
    default:
      return { os, architecture: a };
  }
}

/** Parses `os/arch[/variant]` (or just `arch`, or just `os`) and normalises it. */
export function parsePlatform(spec: string): Platform {
  const parts = spec.trim().toLowerCase().split('/');
  if (
    parts.some((p) => p === '') ||
    parts.length > 3 ||
    !/^[a-z0-9_./-]+$/.test(spec.trim().toLowerCase())
  ) {
    throw new InvalidInputError(
      `invalid platform ${JSON.stringify(spec)}`,
      'expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8',
    );
  }
  if (parts.length === 1) {
    const only = parts[0]!;
    if (KNOWN_OS.has(only))
      return normalizePlatform({ os: only, architecture: currentPlatform().architecture });
    return normalizePlatform({ os: 'linux', architecture: only });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform({ os, architecture, ...(variant ? { variant } : {}) });
}

/** `linux/arm64/v8`, `linux/amd64`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

/** Canonical names: x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7, `8` -> `v8`... */
export function normalizePlatform(p: Platform): Platform {
  let os = p.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (variant && /^\d/.test(variant)) variant = `v${variant}`;
  switch (architecture) {
    case 'i386':
    case 'i686':
    case 'x86':
      architecture = '386';
      variant = undefined;
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = undefined;
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === 'v8.0') variant = 'v8';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
  }
  const out: Platform = { ...p, os, architecture };
  if (variant) out.variant = variant;
  else delete out.variant;
  return out;
}

/**
 * Picks the manifest for `want` from an index: same os and architecture, variant equal after
 * normalisation (arm64: none = v8; arm: none = v7; amd64: none = v1), falling back to older arm
 * variants the machine can run. Attestation manifests are skipped.
 */
export function selectManifest(index: ImageIndex, want: Platform): Descriptor {
  const w = normalizePlatform(want);
  const wantVariant = defaultVariant(w);
  const candidates = index.manifests.filter((d) => d.platform !== undefined && !isAttestation(d));
  const matching = candidates.filter((d) => {
    const p = normalizePlatform(d.platform!);
    return p.os === w.os && p.architecture === w.architecture;
  });
  for (const variant of acceptableVariants(w.architecture, wantVariant)) {
    const hit = matching.find((d) => defaultVariant(normalizePlatform(d.platform!)) === variant);
    if (hit) return hit;
  }
  const available = [...new Set(candidates.map((d) => formatPlatform(d.platform!)))];
  throw new NotFoundError(
    `no image for platform ${formatPlatform(w)} in the manifest list`,
    available.length > 0
      ? `available platforms: ${available.join(', ')}; choose one with --platform`
      : 'the index lists no platforms',
  );
}

/** Whether a descriptor is a BuildKit attestation (provenance/SBOM), not a runnable image. */
export function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] !== undefined;
}

/** Whether two platforms are the same after normalisation (default variants included). */
export function platformsEqual(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a);
  const y = normalizePlatform(b);
  return (
    x.os === y.os && x.architecture === y.architecture && defaultVariant(x) === defaultVariant(y)
  );
}

const KNOWN_OS = new Set([
  'linux',
  'windows',
  'darwin',
  'freebsd',
  'netbsd',
  'openbsd',
  'solaris',
  'illumos',
  'aix',
  'plan9',
]);

function defaultVariant(p: Platform): string {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  if (p.architecture === 'amd64') return 'v1';
  return '';
}

function acceptableVariants(architecture: string, variant: string): string[] {
  if (architecture === 'arm') {
    const order = ['v8', 'v7', 'v6', 'v5'];
    const i = order.indexOf(variant);
    return i >= 0 ? order.slice(i) : [variant];
  }
  if (architecture === 'amd64') {
    const order = ['v4', 'v3', 'v2', 'v1'];
    const i = order.indexOf(variant);
    return i >= 0 ? order.slice(i) : [variant];
  }
  return [variant];
}
