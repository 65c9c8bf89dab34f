// The build context: a directory (or none, with `-`: the Dockerfile comes on stdin), the
// Dockerfile (`-f`, default <context>/Dockerfile), and the .dockerignore rules with docker's
// semantics (`!` re-includes, `**`) via @balena/dockerignore. `<Dockerfile>.dockerignore` next to
// the Dockerfile wins over the context's, as in BuildKit. The Dockerfile and .dockerignore
// themselves are still sent (docker does too) unless a rule excludes them.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as dockerignoreModule from '@balena/dockerignore';
import { InvalidInputError, NotFoundError } from '../../shared/errors.js';

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
    text = await readFile(dfPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT')
        throw new NotFoundError(`cannot read Dockerfile ${dfPath}`, 'no such file; pass -f PATH');
      if (e.code === 'EISDIR')
        throw new InvalidInputError(`${dfPath} is a directory`, 'pass -f FILE');
      throw e;
    });
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
  const candidates = [
    ...(dfPath ? [join(dirname(dfPath), `${basename(dfPath)}.dockerignore`)] : []),
    join(dir, '.dockerignore'),
  ];
  for (const p of candidates) {
    const text = await readFile(p, 'utf8').catch(() => undefined);
    if (text !== undefined) return parseIgnore(text);
  }
  return [];
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
