// Dockerfile text -> raw instructions with line numbers. dockerfile-ast finds the instructions,
// their line ranges and the parser directives; this module adds what BuildKit's parser does on
// top: validated directives (`syntax`, `escape`), continuation lines joined with comment and
// empty lines dropped, and heredocs (`<<EOF`, `<<-EOF`, quoted delimiters) cut out of the text.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { errorAt, type SourceLocation } from '../errors.js';
import { processWord, processWords, ShellSyntaxError } from './shell-lex.js';

export interface Heredoc {
  /** The delimiter word, unquoted. */
  name: string;
  /** The body, one `\n` after each line; leading tabs already stripped for `<<-`. */
  content: string;
  /** False when the delimiter was quoted: no variable expansion in the body. */
  expand: boolean;
  chomp: boolean;
}

export interface RawInstruction extends SourceLocation {
  /** Upper-cased keyword (`RUN`). */
  keyword: string;
  /** The logical line after the keyword: continuations joined, heredoc bodies removed. */
  args: string;
  heredocs: Heredoc[];
  endLine: number;
  /** The logical line as written (keyword included), for history and progress output. */
  original: string;
}

export interface Directives {
  syntax?: string;
  escape: string;
  check?: string;
}

export interface ParsedDockerfile {
  directives: Directives;
  instructions: RawInstruction[];
}

// dockerfile-ast (and the language-server types it pulls in) costs ~50 ms to load: required
// on first use only, so cache-hit rebuilds that reuse a parsed Dockerfile never pay for it.
type DockerfileAst = typeof import('dockerfile-ast');
let ast: DockerfileAst | undefined;
function dockerfileAst(): DockerfileAst {
  ast ??= createRequire(import.meta.url)('dockerfile-ast') as DockerfileAst;
  return ast;
}

/**
 * Which parser made a ParsedDockerfile, for the on-disk cache of parsed Dockerfiles: this
 * module's own file (the command's bundle once installed: any change to the parser changes it)
 * and dockerfile-ast's version. A parse cached by another build of the tool is never reused.
 */
export function parserIdentity(): string {
  const self = fileURLToPath(import.meta.url);
  const st = statSync(self, { throwIfNoEntry: false });
  let astVersion = '?';
  try {
    const pkg = createRequire(import.meta.url).resolve('dockerfile-ast/package.json');
    astVersion = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    // no package.json to read: the file identity still tells builds apart
  }
  return `${PARSED_FORMAT} ${self} ${st?.size}:${st?.mtimeMs} dockerfile-ast@${astVersion}`;
}

/** Bumped when ParsedDockerfile's shape changes (the file identity covers code changes). */
const PARSED_FORMAT = 'parsed-v2';

const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);
const HEREDOC_RE = /^(\d*)<<(-?)\s*([^<]*)$/;

/** Parses a Dockerfile; `file` names it in error messages (e.g. `Dockerfile`). */
export function parseDockerfile(text: string, file = 'Dockerfile'): ParsedDockerfile {
  const src = text.replace(/^\uFEFF/, '');
  const directives = readDirectives(src, file);
  const lines = src.split(/\r?\n/);
  const doc = dockerfileAst().DockerfileParser.parse(src);
  const instructions: RawInstruction[] = [];
  for (const ins of doc.getInstructions()) {
    const range = ins.getRange();
    const keyword = ins.getInstruction().toUpperCase();
    const loc = { file, line: range.start.line + 1 };
    const slice = lines.slice(range.start.line, range.end.line + 1);
    instructions.push(buildInstruction(keyword, slice, loc, directives.escape));
  }
  return { directives, instructions };
}

function readDirectives(src: string, file: string): Directives {
  const out: Directives = { escape: '\\' };
  const seen = new Set<string>();
  const lines = src.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(lines[i]!);
    if (!m) break;
    const name = m[1]!.toLowerCase();
    const value = m[2]!;
    if (name !== 'syntax' && name !== 'escape' && name !== 'check') break;
    if (seen.has(name))
      throw errorAt({ file, line: i + 1 }, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (value !== '\\' && value !== '`')
        throw errorAt(
          { file, line: i + 1 },
          `invalid escape token '${value}' does not match ` + '` or \\',
        );
      out.escape = value;
    } else out[name] = value;
  }
  return out;
}

function buildInstruction(
  keyword: string,
  slice: string[],
  loc: SourceLocation,
  escape: string,
): RawInstruction {
  const { logical, next } = joinContinuations(slice, escape);
  const trimmed = logical.trim();
  const args = trimmed.slice(keyword.length).replace(/^\s+/, '');
  const heredocs: Heredoc[] = [];
  if (HEREDOC_KEYWORDS.has(keyword)) {
    let pos = next;
    for (const h of findHeredocs(args, escape, loc)) {
      const body = readHeredocBody(slice, pos, h, loc);
      heredocs.push({ ...h, content: body.content });
      pos = body.next;
    }
  }
  return {
    ...loc,
    keyword,
    args,
    heredocs,
    endLine: loc.line + slice.length - 1,
    original: trimmed,
  };
}

/** Joins `\`-continued lines, dropping comment and empty lines inside the continuation. */
function joinContinuations(slice: string[], escape: string): { logical: string; next: number } {
  const cont = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  let logical = '';
  let i = 0;
  for (; i < slice.length; i++) {
    const line = slice[i]!;
    if (i > 0 && (/^\s*#/.test(line) || line.trim() === '')) continue;
    if (cont.test(line)) {
      logical += line.replace(cont, '');
      continue;
    }
    logical += line;
    i++;
    break;
  }
  return { logical, next: i };
}

type HeredocHead = Omit<Heredoc, 'content'>;

/** The heredoc markers of a logical line, in order (BuildKit's heredocsFromLine). */
export function findHeredocs(args: string, escape: string, loc: SourceLocation): HeredocHead[] {
  let words: string[];
  try {
    words = processWords(args, () => undefined, {
      escape,
      skipProcessQuotes: true,
      rawEscapes: true,
    });
  } catch {
    return [];
  }
  const out: HeredocHead[] = [];
  for (const w of words) {
    const m = HEREDOC_RE.exec(w);
    if (!m) continue;
    const rawName = m[3]!;
    if (rawName === '') throw errorAt(loc, 'heredoc delimiter is empty', 'write <<EOF');
    let name: string;
    try {
      name = processWord(rawName, () => undefined, { escape });
    } catch (e) {
      if (e instanceof ShellSyntaxError) throw errorAt(loc, `bad heredoc delimiter: ${e.message}`);
      throw e;
    }
    const quoted = name !== rawName;
    out.push({ name, expand: !quoted, chomp: m[2] === '-' });
  }
  return out;
}

function readHeredocBody(
  slice: string[],
  start: number,
  h: HeredocHead,
  loc: SourceLocation,
): { content: string; next: number } {
  let content = '';
  for (let i = start; i < slice.length; i++) {
    let line = slice[i]!;
    if (h.chomp) line = line.replace(/^\t+/, '');
    if (line === h.name) return { content, next: i + 1 };
    content += `${line}\n`;
  }
  throw errorAt(loc, `unterminated heredoc: no line "${h.name}" ends it`);
}
