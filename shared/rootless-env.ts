// Rootless mode as the process sees it: tsdock run by an ordinary user, either as that user
// (the fast paths: tsrun with cached layers, tsexec, tspull, tspush) or re-executed as root of
// the user's own user namespace (runner/rootless/userns.ts), which sets TSDOCK_ROOTLESS_UID so
// code that checks for root can tell the namespace's root from the real one.

/** True when tsdock runs for an ordinary user (in its user namespace or not). */
export function isRootless(): boolean {
  return process.getuid?.() !== 0 || inRootlessNamespace();
}

/** True when this process is root of a rootless user namespace (not the host's root). */
export function inRootlessNamespace(): boolean {
  return process.getuid?.() === 0 && /^\d+$/.test(process.env['TSDOCK_ROOTLESS_UID'] ?? '');
}
