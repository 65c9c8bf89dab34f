// Where tsdock keeps its state and configuration. One place computes every top-level
// directory; modules below them (the store, containers, build cache) own their own layout.
//
//   $TSDOCK_ROOT (root: /var/lib/tsdock, else $XDG_DATA_HOME/tsdock, ~/.local/share/tsdock)
//   ├── images/     the local content store (an OCI image layout: oci-layout, index.json, blobs/)
//   ├── registry/   tsregistry's data (storage driver root and metadata), when served from here
//   ├── layers/     unpacked-layer cache (by diff_id)
//   ├── containers/ container state
//   ├── build-cache/
//   └── tmp/        temporary files, on the store's filesystem so renames are atomic
//   $TSDOCK_CONFIG (else $XDG_CONFIG_HOME/tsdock, ~/.config/tsdock): auth.json
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The state root: `$TSDOCK_ROOT`, else `/var/lib/tsdock` for root, else the XDG data dir. */
export function tsdockRoot(): string {
  const env = process.env['TSDOCK_ROOT'];
  if (env) return resolve(env);
  if (process.getuid?.() === 0) return '/var/lib/tsdock';
  return join(xdgDir('XDG_DATA_HOME', '.local/share'), 'tsdock');
}

/** The config dir: `$TSDOCK_CONFIG`, else `$XDG_CONFIG_HOME/tsdock` (~/.config/tsdock). */
export function configDir(): string {
  const env = process.env['TSDOCK_CONFIG'];
  if (env) return resolve(env);
  return join(xdgDir('XDG_CONFIG_HOME', '.config'), 'tsdock');
}

/** The local content store (an OCI image layout) used by the build, run, pull and push tools. */
export function storeRoot(): string {
  return join(tsdockRoot(), 'images');
}

/** The registry server's data (blobs, uploads, metadata) by default. */
export function registryRoot(): string {
  return join(tsdockRoot(), 'registry');
}

export function containersRoot(): string {
  return join(tsdockRoot(), 'containers');
}

/** The unpacked-layer cache. */
export function layersRoot(): string {
  return join(tsdockRoot(), 'layers');
}

export function buildCacheRoot(): string {
  return join(tsdockRoot(), 'build-cache');
}

/** Temporary files, on the same filesystem as the store so renames into it are atomic. */
export function tmpRoot(): string {
  return join(tsdockRoot(), 'tmp');
}

function xdgDir(variable: string, fallback: string): string {
  const env = process.env[variable];
  // The XDG spec says relative values are invalid and must be ignored.
  if (env && env.startsWith('/')) return env;
  return join(homedir(), fallback);
}

/** tmpfs scratch of a container (see runner/containers.ts). */
export function runtimeRoot(): string {
  if (process.env.TSDOCK_RUNTIME) return process.env.TSDOCK_RUNTIME;
  if (process.getuid?.() === 0) return '/run/tsdock'; // container ids are unique across roots
  return join(process.env.XDG_RUNTIME_DIR ?? join(containersRoot(), '..', 'run'), 'tsdock');
}
