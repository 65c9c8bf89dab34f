// Raw instruction (keyword + argument text) -> typed instruction, with BuildKit's argument
// rules per instruction and errors that name the line and what was expected.
import { errorAt } from '../errors.js';
import type { RawInstruction } from '../parse/dockerfile-parser.js';
import { extractFlags, parseJsonArray, parseWords, splitBlanks } from '../parse/words.js';
import { parseHealthcheck } from './healthcheck.js';
import {
  INSTRUCTION_KEYWORDS,
  type ArgDecl,
  type CommandLine,
  type CopyInstruction,
  type Instruction,
  type InstructionKind,
  type KeyValue,
} from './types.js';
import { editDistance } from '../../shared/edit-distance.js';

const ALLOWED_FLAGS: Partial<Record<InstructionKind, string[]>> = {
  FROM: ['platform'],
  COPY: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  ADD: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude'],
  RUN: ['mount', 'network', 'security'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};
const MULTI_FLAGS = new Set(['mount', 'exclude']);
const BOOL_FLAGS = new Set(['link', 'parents', 'keep-git-dir']);
const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;

type Flags = Map<string, (string | true)[]>;

/** Converts one raw instruction; `escape` is the Dockerfile's escape token. */
export function toInstruction(raw: RawInstruction, escape: string): Instruction {
  const kind = raw.keyword as InstructionKind;
  if (!INSTRUCTION_KEYWORDS.includes(kind)) {
    const guess = suggest(raw.keyword);
    throw errorAt(
      raw,
      `unknown instruction "${raw.keyword}"${guess ? ` (did you mean ${guess}?)` : ''}`,
    );
  }
  const hasFlags = kind in ALLOWED_FLAGS;
  const { flags, rest } = hasFlags ? extractFlags(raw.args) : { flags: new Map(), rest: raw.args };
  checkFlags(raw, kind, flags);
  const base = { file: raw.file, line: raw.line, endLine: raw.endLine, original: raw.original };
  const text = rest.trim();
  const need = (what = 'at least one argument') => {
    if (text === '') throw errorAt(raw, `${kind} requires ${what}`);
  };
  switch (kind) {
    case 'FROM':
      return { ...base, kind, ...parseFrom(raw, text), platform: str(flags, 'platform') };
    case 'WORKDIR':
      need('exactly one argument');
      return { ...base, kind, path: text };
    case 'COPY':
    case 'ADD':
      return { ...base, ...parseCopy(raw, kind, text, flags) };
    case 'RUN':
      need();
      return {
        ...base,
        kind,
        command: commandLine(text),
        heredocs: raw.heredocs,
        mounts: all(flags, 'mount'),
        network: enumFlag(raw, flags, 'network', ['default', 'none', 'host']),
        security: enumFlag(raw, flags, 'security', ['sandbox', 'insecure']),
      };
    case 'ENV':
      return { ...base, kind, pairs: parseNameVal(raw, 'ENV', text, escape) };
    case 'LABEL':
      return { ...base, kind, pairs: parseNameVal(raw, 'LABEL', text, escape) };
    case 'ARG':
      return { ...base, kind, args: parseArgs(raw, text, escape) };
    case 'EXPOSE':
      need();
      return { ...base, kind, ports: splitBlanks(text) };
    case 'USER':
      need('exactly one argument');
      return { ...base, kind, user: text };
    case 'VOLUME':
      need();
      return { ...base, kind, paths: parseJsonArray(text) ?? splitBlanks(text) };
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, kind, command: commandLine(text) };
    case 'SHELL': {
      const shell = parseJsonArray(text);
      if (!shell || shell.length === 0)
        throw errorAt(
          raw,
          'SHELL requires the arguments to be in JSON form',
          'SHELL ["/bin/sh", "-c"]',
        );
      return { ...base, kind, shell };
    }
    case 'STOPSIGNAL':
      need('exactly one argument');
      if (splitBlanks(text).length !== 1)
        throw errorAt(raw, 'STOPSIGNAL requires exactly one argument');
      return { ...base, kind, signal: text };
    case 'HEALTHCHECK':
      return { ...base, kind, health: parseHealthcheck(raw, text, flags) };
    case 'ONBUILD':
      return { ...base, kind, ...parseOnbuild(raw, text, escape) };
    case 'MAINTAINER':
      need('exactly one argument');
      return { ...base, kind, maintainer: text };
  }
}

function checkFlags(raw: RawInstruction, kind: InstructionKind, flags: Flags): void {
  const allowed = ALLOWED_FLAGS[kind] ?? [];
  for (const [name, values] of flags) {
    if (!allowed.includes(name)) {
      const expected = allowed.length
        ? ` (expected one of ${allowed.map((f) => `--${f}`).join(', ')})`
        : '';
      throw errorAt(raw, `unknown flag --${name} for ${kind}${expected}`);
    }
    if (values.length > 1 && !MULTI_FLAGS.has(name))
      throw errorAt(raw, `duplicate flag --${name} for ${kind}`);
    for (const v of values) {
      if (v === true && !BOOL_FLAGS.has(name))
        throw errorAt(raw, `flag --${name} for ${kind} needs a value`, `--${name}=VALUE`);
      if (v !== true && BOOL_FLAGS.has(name) && v !== 'true' && v !== 'false')
        throw errorAt(raw, `flag --${name} for ${kind} takes true or false, not "${v}"`);
    }
  }
}

function str(flags: Flags, name: string): string | undefined {
  const v = flags.get(name)?.[0];
  return typeof v === 'string' ? v : undefined;
}

function bool(flags: Flags, name: string): boolean {
  const v = flags.get(name)?.[0];
  return v === true || v === 'true';
}

function all(flags: Flags, name: string): string[] {
  return (flags.get(name) ?? []).filter((v): v is string => typeof v === 'string');
}

function enumFlag<T extends string>(
  raw: RawInstruction,
  flags: Flags,
  name: string,
  values: readonly T[],
): T | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  if (!values.includes(v as T))
    throw errorAt(raw, `invalid --${name}=${v}`, `expected one of ${values.join(', ')}`);
  return v as T;
}

export function commandLine(text: string): CommandLine {
  const json = parseJsonArray(text);
  return json ? { shellForm: false, args: json } : { shellForm: true, args: [text] };
}

function parseFrom(raw: RawInstruction, text: string): { image: string; name?: string } {
  const words = splitBlanks(text);
  if (words.length !== 1 && words.length !== 3)
    throw errorAt(raw, 'FROM requires either one or three arguments', 'FROM image [AS name]');
  if (words.length === 1) return { image: words[0]! };
  if (words[1]!.toLowerCase() !== 'as')
    throw errorAt(raw, `expected "AS" in FROM, got "${words[1]}"`, 'FROM image AS name');
  const name = words[2]!.toLowerCase();
  if (!STAGE_NAME_RE.test(name))
    throw errorAt(
      raw,
      `invalid name for build stage: "${words[2]}"`,
      "a name can't start with a number or contain symbols",
    );
  return { image: words[0]!, name };
}

function parseCopy(
  raw: RawInstruction,
  kind: 'COPY' | 'ADD',
  text: string,
  flags: Flags,
): Omit<CopyInstruction, 'file' | 'line' | 'endLine' | 'original'> {
  const words = parseJsonArray(text) ?? splitBlanks(text);
  if (words.length < 2)
    throw errorAt(
      raw,
      `${kind} requires at least two arguments, but only ${words.length === 0 ? 'none were' : 'one was'} provided`,
      'Destination could not be determined',
    );
  return {
    kind,
    sources: words.slice(0, -1),
    dest: words.at(-1)!,
    heredocs: raw.heredocs,
    from: str(flags, 'from'),
    chown: str(flags, 'chown'),
    chmod: str(flags, 'chmod'),
    link: bool(flags, 'link'),
    checksum: str(flags, 'checksum'),
    exclude: all(flags, 'exclude'),
    keepGitDir: bool(flags, 'keep-git-dir'),
    parents: bool(flags, 'parents'),
  };
}

function parseNameVal(raw: RawInstruction, kind: string, text: string, escape: string): KeyValue[] {
  const words = parseWords(text, escape);
  if (words.length === 0)
    throw errorAt(
      raw,
      kind === 'LABEL' ? 'LABEL requires at least one argument' : 'ENV names can not be blank',
    );
  if (!words[0]!.includes('=')) {
    const parts = text.split(/[\t\v\f\r ]+/);
    const m = /^(\S+)\s+([\s\S]*)$/.exec(text);
    if (parts.length < 2 || !m)
      throw errorAt(raw, `${kind} must have two arguments`, `${kind} name=value`);
    return [{ key: m[1]!, value: m[2]! }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0)
      throw errorAt(raw, `Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) throw errorAt(raw, `${kind} names can not be blank`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

function parseArgs(raw: RawInstruction, text: string, escape: string): ArgDecl[] {
  const words = parseWords(text, escape);
  if (words.length === 0)
    throw errorAt(raw, 'ARG requires at least one argument', 'ARG name[=default]');
  return words.map((w) => {
    const eq = w.indexOf('=');
    const name = eq < 0 ? w : w.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw errorAt(raw, `invalid ARG name "${name}"`);
    return eq < 0 ? { name } : { name, defaultValue: w.slice(eq + 1) };
  });
}

function parseOnbuild(raw: RawInstruction, text: string, escape: string) {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
  if (!m) throw errorAt(raw, 'ONBUILD requires at least one argument');
  const keyword = m[1]!.toUpperCase();
  if (keyword === 'ONBUILD')
    throw errorAt(raw, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (keyword === 'FROM' || keyword === 'MAINTAINER')
    throw errorAt(raw, `${keyword} isn't allowed as an ONBUILD trigger`);
  const inner = {
    ...raw,
    keyword,
    args: m[2]!,
    heredocs: [],
    original: `${keyword} ${m[2]!}`.trim(),
  };
  return { expression: inner.original, trigger: toInstruction(inner, escape) };
}

/** The closest known keyword, for "did you mean". */
function suggest(word: string): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of INSTRUCTION_KEYWORDS) {
    const d = editDistance(word.toUpperCase(), k);
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  return best;
}
