// Build arguments: `--build-arg` values, the predefined ARGs (proxies, platform), and the global
// ARGs declared before the first FROM (usable in FROM lines; inside a stage only once redeclared).
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

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };

export function hostPlatform(): Platform {
  return { os: 'linux', architecture: ARCH[process.arch] ?? process.arch };
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  return { os: os || 'linux', architecture: architecture || hostPlatform().architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** BUILDPLATFORM, TARGETPLATFORM and their OS/ARCH/VARIANT parts. */
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
      else value = auto.get(a.name);
      globals.set(a.name, value);
    }
  }
  return globals;
}
