// Locates the compiled C helpers (built by scripts/build-native.mjs next to the compiled JS).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TsdockError } from './errors.js';

/** Absolute path of a native helper binary, e.g. nativeBinary('sandbox'). */
export function nativeBinary(name: string): string {
  const path = fileURLToPath(new URL(`../native/${name}`, import.meta.url));
  if (!existsSync(path)) {
    throw new TsdockError(
      `native helper "${name}" is not built`,
      'run "npm run build" (needs a C compiler: cc)',
    );
  }
  return path;
}
