// The build context: a directory (or none, with `-`: the Dockerfile comes on stdin), the
// Dockerfile (`-f`, default <context>/Dockerfile), and the .dockerignore rules with docker's
// semantics (`!` re-includes, `**`) via @balena/dockerignore. `<Dockerfile>.dockerignore` next to
// the Dockerfile wins over the context's, as in BuildKit. The Dockerfile and .dockerignore
// themselves are still sent (docker does too) unless a rule excludes them.
// The Dockerfile and the .dockerignore files are read inside their directory, as BuildKit's
// local sources read them: a symlink is followed only within it (an absolute target is taken
// from that directory, as if it were `/`), so a context whose Dockerfile links to a host file
// (`Dockerfile -> /etc/shadow`) finds nothing instead of printing the file in an error.
import { closeSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as dockerignoreModule from '@balena/dockerignore';
import { InvalidInputError, NotFoundError } from '../../shared/errors.js';
import { openSelected, resolveInRoot } from './select.js';

export interface BuildContext {
  /** Absolute context directory; undefined for a stdin-only build (`-`). */
  dir?: string;
  dockerfileText: string;
  /** The name errors use (`Dockerfile`, or the -f file's base name). */
  dockerfileName: string;
  /** The raw .dockerignore patterns (they go into nothing but selection). */
  ignorePatterns: string[];
  /** True when a context-relative path (`a/b`, no leading slash) is excluded. */
  isIgnored(rel: string): boolean;
  /** Whether `!` rules exist: then excluded directories must still be walked. */
  hasExceptions: boolean;
}

export interface ContextOptions {
  /** The CONTEXT argument: a directory or `-`. */
  context: string;
  /** -f: a path (relative to the current directory) or `-` for stdin. */
  file?: string;
  /** Reads stdin (injected by tests). */
  readStdin?: () => Promise<string>;
}

export async function openContext(opts: ContextOptions): Promise<BuildContext> {
  const readStdin = opts.readStdin ?? readProcessStdin;
  const stdinContext = opts.context === '-';
  const dir = stdinContext ? undefined : resolve(opts.context);
  let text: string;
  let name = 'Dockerfile';
  let dfPath: string | undefined;
  if (stdinContext || opts.file === '-') {
    text = await readStdin();
  } else {
    dfPath = opts.file ? resolve(opts.file) : join(dir!, 'Dockerfile');
    name = basename(dfPath);
    const read = await readInDir(dirname(dfPath), name);
    if (read === 'directory')
      throw new InvalidInputError(`${dfPath} is a directory`, 'pass -f FILE');
    if (read === 'missing')
      throw new NotFoundError(
        `cannot read Dockerfile ${dfPath}`,
        'no such file in its directory (a symlink must point inside it); pass -f PATH',
      );
    text = read.text;
  }
  const patterns = dir ? await readIgnore(dir, dfPath) : [];
  return {
    dir,
    dockerfileText: text,
    dockerfileName: name,
    ignorePatterns: patterns,
    isIgnored: ignoreMatcher(patterns),
    hasExceptions: patterns.some((p) => p.startsWith('!')),
  };
}

async function readIgnore(dir: string, dfPath: string | undefined): Promise<string[]> {
  const candidates: [string, string][] = [
    ...(dfPath ? [[dirname(dfPath), `${basename(dfPath)}.dockerignore`] as [string, string]] : []),
    [dir, '.dockerignore'],
  ];
  for (const [d, name] of candidates) {
    const read = await readInDir(d, name);
    if (typeof read === 'object') return parseIgnore(read.text);
  }
  return [];
}

/**
 * A file's text read inside `dir` (symlinks followed only within it, the file opened without
 * following a link: ./select.ts), or why there is none.
 */
async function readInDir(
  dir: string,
  name: string,
): Promise<{ text: string } | 'directory' | 'missing'> {
  const found = await resolveInRoot(dir, name).catch(() => undefined);
  if (!found || found.rel === '') return 'missing';
  if (found.stat.isDirectory()) return 'directory';
  if (!found.stat.isFile()) return 'missing';
  const fd = openSelected(found);
  try {
    return { text: readFileSync(fd, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

/** .dockerignore lines: comments and blanks dropped, whitespace trimmed. */
export function parseIgnore(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** A matcher with docker's rules; a directory that is excluded excludes what is below it. */
export function ignoreMatcher(patterns: string[]): (rel: string) => boolean {
  if (patterns.length === 0) return () => false;
  const factory = ignoreFactory();
  const ig = factory({ ignorecase: false }).add(patterns);
  return (rel: string) => rel !== '' && rel !== '.' && ig.ignores(rel.replace(/^\/+/, ''));
}

type IgnoreFactory = (o?: { ignorecase?: boolean }) => {
  add(p: string[]): { ignores(p: string): boolean };
};

/** The CommonJS export, whichever way the ESM interop wraps it. */
function ignoreFactory(): IgnoreFactory {
  let m: unknown = dockerignoreModule;
  while (typeof m !== 'function' && m && typeof m === 'object' && 'default' in m)
    m = (m as { default: unknown }).default;
  return m as IgnoreFactory;
}

function readProcessStdin(): Promise<string> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', rej);
  });
}
