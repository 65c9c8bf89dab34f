// Build arguments: `--build-arg` values, the predefined ARGs (proxies, platform), and the global
// ARGs declared before the first FROM (usable in FROM lines; inside a stage only once redeclared).
// The platform ARGs themselves are made in platforms.ts.
import { errorAt } from '../errors.js';
import type { ArgInstruction } from '../instructions/types.js';
import { processWord, ShellSyntaxError, type EnvLookup } from '../parse/shell-lex.js';

/** Passed with --build-arg they reach RUN without an ARG line, and stay out of cache keys. */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];

export type { Platform } from './platforms.js';
/** Kept here for callers that import them with the other build-arg helpers. */
export { hostPlatform, platformArgs } from './platforms.js';

/** Expands with a Dockerfile location attached to syntax errors. */
export function expandAt(
  word: string,
  env: EnvLookup,
  loc: { file: string; line: number },
  escape: string,
): string {
  try {
    return processWord(word, env, { escape });
  } catch (e) {
    if (e instanceof ShellSyntaxError) throw errorAt(loc, e.message);
    throw e;
  }
}

/** The values of the global ARGs, in declaration order (unset ones map to undefined). */
export function resolveGlobalArgs(
  decls: ArgInstruction[],
  buildArgs: ReadonlyMap<string, string>,
  auto: ReadonlyMap<string, string>,
  escape: string,
  used: Set<string>,
): Map<string, string | undefined> {
  const globals = new Map<string, string | undefined>(auto);
  const lookup: EnvLookup = (n) => globals.get(n);
  for (const ins of decls) {
    for (const a of ins.args) {
      let value: string | undefined;
      if (buildArgs.has(a.name)) {
        value = buildArgs.get(a.name);
        used.add(a.name);
      } else if (a.defaultValue !== undefined)
        value = expandAt(a.defaultValue, lookup, ins, escape);
      // Declared without a value it is unset, even a platform ARG (BuildKit: the declaration
      // replaces the automatic value; `ARG TARGETARCH` belongs inside the stage).
      else value = undefined;
      globals.set(a.name, value);
    }
  }
  return globals;
}
