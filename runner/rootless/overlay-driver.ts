// Which overlay a rootless container's root is mounted with: the kernel's (a user namespace may
// mount overlayfs from Linux 5.11) or, on older kernels, fuse-overlayfs (Debian
// `fuse-overlayfs`, podman's fallback; the helper's --fuse-overlay, sandbox/fuse_overlay.c).
// TSDOCK_ROOTLESS_OVERLAY=fuse-overlayfs|kernel forces one (tests, or a kernel that refuses).
import { release } from 'node:os';
import { InvalidInputError } from '../../shared/errors.js';

export type OverlayDriver = 'kernel' | 'fuse-overlayfs';

/** The driver for rootless mounts, from the environment or the kernel's version. */
export function rootlessOverlayDriver(
  forced = process.env['TSDOCK_ROOTLESS_OVERLAY'],
  kernel = release(),
): OverlayDriver {
  if (forced === 'kernel' || forced === 'fuse-overlayfs') return forced;
  if (forced)
    throw new InvalidInputError(
      `TSDOCK_ROOTLESS_OVERLAY=${forced} is not an overlay driver`,
      'use kernel or fuse-overlayfs, or unset it',
    );
  const m = /^(\d+)\.(\d+)/.exec(kernel);
  const old = m !== null && (Number(m[1]) < 5 || (Number(m[1]) === 5 && Number(m[2]) < 11));
  return old ? 'fuse-overlayfs' : 'kernel';
}
