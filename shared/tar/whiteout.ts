// OCI whiteout conventions (image-spec layer.md) and their overlayfs counterparts, shared by
// the layer writer (overlay upper -> OCI) and the extractor (OCI -> flattened dir or overlay).
import { posix } from 'node:path';

/** `.wh.<name>` in a layer deletes `<name>` from the layers below. */
export const WHITEOUT_PREFIX = '.wh.';
/** `.wh..wh..opq` in a directory hides everything the layers below have in it. */
export const OPAQUE_MARKER = '.wh..wh..opq';
/** Overlayfs marks an opaque upper directory with one of these xattrs set to "y". */
export const OVERLAY_OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque'] as const;
/** Overlayfs xattr-style whiteouts (newer kernels, userxattr mounts). */
export const OVERLAY_WHITEOUT_XATTRS = ['trusted.overlay.whiteout', 'user.overlay.whiteout'];

export type WhiteoutKind =
  | { kind: 'none' }
  | { kind: 'opaque'; dir: string }
  | { kind: 'whiteout'; dir: string; target: string };

/** Classifies an archive path (already cleaned, relative, no trailing slash). */
export function classifyWhiteout(path: string): WhiteoutKind {
  const base = posix.basename(path);
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  const dir = posix.dirname(path);
  const d = dir === '.' ? '' : dir;
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir: d };
  const name = base.slice(WHITEOUT_PREFIX.length);
  return { kind: 'whiteout', dir: d, target: d ? `${d}/${name}` : name };
}

/** The OCI whiteout path for a deleted `path`. */
export function whiteoutPath(path: string): string {
  const dir = posix.dirname(path);
  const name = `${WHITEOUT_PREFIX}${posix.basename(path)}`;
  return dir === '.' ? name : `${dir}/${name}`;
}

/** Whether an xattr is overlayfs-private (never copied into a layer). */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

/** Xattrs that go into layers and come out of them: not trusted.*, not SELinux labels. */
export function isPortableXattr(name: string): boolean {
  return (
    !name.startsWith('trusted.') &&
    name !== 'security.selinux' &&
    !isOverlayXattr(name) &&
    /^(security|user|system)\./.test(name)
  );
}
