// A subset of Go's text/template, enough for docker's `--format`: `{{.Id}}`, `{{.Config.Env}}`,
// `{{json .Config}}`, `{{index .Config.Labels "k"}}`, `{{join .Config.Cmd " "}}`, pipelines
// `{{.X | json}}`, `{{range .RepoTags}}{{.}} {{end}}`, `{{if .X}}..{{else}}..{{end}}`, `{{with}}`,
// `$` for the root, variables (`{{range $p, $conf := .Ports}}{{$p}}{{end}}`, `{{$x := .A}}`),
// trim markers `{{- -}}`. Values print as Go's fmt %v prints them.
import { InvalidInputError } from './errors.js';

type BlockNode = {
  kind: 'range' | 'if' | 'with';
  pipe: Command[];
  assign: string[];
  body: Node[];
  alt: Node[];
};
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Command[]; assign: string[] }
  | BlockNode;
type Arg =
  | { kind: 'field'; base: 'dot' | 'var'; name?: string; path: string[] }
  | { kind: 'literal'; value: unknown }
  | { kind: 'ident'; name: string }
  | { kind: 'paren'; pipe: Command[]; path: string[] };
type Command = Arg[];

/** Renders `template` with `data` (compiled each time; templates are tiny). */
export function renderTemplate(template: string, data: unknown): string {
  const nodes = parse(template);
  return exec(nodes, data, new Map([['$', data]]));
}

/** Checks a template parses; throws InvalidInputError with what is wrong. */
export function compileTemplate(template: string): (data: unknown) => string {
  const nodes = parse(template);
  return (data) => exec(nodes, data, new Map([['$', data]]));
}

function fail(problem: string): InvalidInputError {
  return new InvalidInputError(
    `template: ${problem}`,
    'see the Go text/template syntax, e.g. {{.Id}} or {{json .Config}}',
  );
}

// ---- parsing ----

function parse(src: string): Node[] {
  const tokens = split(src);
  let i = 0;
  const block = (ends: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t.kind === 'text') {
        if (t.text) nodes.push({ kind: 'text', text: t.text });
        continue;
      }
      const words = lex(t.text);
      const head = words[0];
      if (head === 'end' || head === 'else') {
        if (!ends.includes(head)) throw fail(`unexpected {{${head}}}`);
        return { nodes, end: head };
      }
      if (head === 'range' || head === 'if' || head === 'with') {
        const { assign, rest } = declarations(words.slice(1));
        const pipe = parsePipe(rest);
        const body = block(['end', 'else']);
        const alt = body.end === 'else' ? block(['end']).nodes : [];
        nodes.push({ kind: head, pipe, assign, body: body.nodes, alt });
        continue;
      }
      if (words.length === 0) throw fail('empty action {{}}');
      const { assign, rest } = declarations(words);
      nodes.push({ kind: 'action', pipe: parsePipe(rest), assign });
    }
    if (ends.length > 0) throw fail('missing {{end}}');
    return { nodes, end: '' };
  };
  return block([]).nodes;
}

/** `$a, $b := pipeline` -> the variable names and the pipeline's words. */
function declarations(words: string[]): { assign: string[]; rest: string[] } {
  const at = words.indexOf(':=');
  if (at < 0) return { assign: [], rest: words };
  const assign = words
    .slice(0, at)
    .join(' ')
    .split(/[\s,]+/)
    .filter(Boolean);
  if (assign.length === 0 || assign.length > 2 || assign.some((v) => !/^\$\w+$/.test(v))) {
    throw fail(`bad variable declaration "${words.join(' ')}"`);
  }
  return { assign, rest: words.slice(at + 1) };
}

/** Splits into text and action tokens, applying `{{-` / `-}}` whitespace trimming. */
function split(src: string): { kind: 'text' | 'action'; text: string }[] {
  const out: { kind: 'text' | 'action'; text: string }[] = [];
  let pos = 0;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    if (open < 0) {
      out.push({ kind: 'text', text: src.slice(pos) });
      break;
    }
    let text = src.slice(pos, open);
    const close = src.indexOf('}}', open + 2);
    if (close < 0) throw fail('unclosed action: missing }}');
    let inner = src.slice(open + 2, close);
    if (/^-\s/.test(inner)) {
      text = text.trimEnd();
      inner = inner.slice(1);
    }
    let next = close + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      const rest = src.slice(next);
      next += rest.length - rest.trimStart().length;
    }
    out.push({ kind: 'text', text }, { kind: 'action', text: inner.trim() });
    pos = next;
  }
  return out;
}

/** Words of an action: strings (with quotes kept), parentheses, `|`, and bare words. */
function lex(s: string): string[] {
  const words: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\)(?:\.\w+)*|[(|]|[^\s()|"`]+)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    words.push(m[1]!);
    end = re.lastIndex;
  }
  if (s.slice(end).trim() !== '') throw fail(`cannot parse "${s}"`);
  return words;
}

function parsePipe(words: string[]): Command[] {
  const cmds: Command[] = [[]];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '|') {
      cmds.push([]);
      continue;
    }
    if (w === '(') {
      let depth = 1;
      let j = i + 1;
      for (; j < words.length && depth > 0; j++)
        depth += words[j] === '(' ? 1 : words[j]!.startsWith(')') ? -1 : 0;
      if (depth !== 0) throw fail('unbalanced parentheses');
      const close = words[j - 1]!; // `)` or `).Field.Sub`
      const path = close.length > 1 ? close.slice(2).split('.') : [];
      cmds[cmds.length - 1]!.push({
        kind: 'paren',
        pipe: parsePipe(words.slice(i + 1, j - 1)),
        path,
      });
      i = j - 1;
      continue;
    }
    cmds[cmds.length - 1]!.push(parseArg(w));
  }
  if (cmds.some((c) => c.length === 0)) throw fail('empty command in pipeline');
  return cmds;
}

function parseArg(w: string): Arg {
  if (w.startsWith('"')) return { kind: 'literal', value: JSON.parse(w) as string };
  if (w.startsWith('`')) return { kind: 'literal', value: w.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(w)) return { kind: 'literal', value: Number(w) };
  if (w === 'true' || w === 'false') return { kind: 'literal', value: w === 'true' };
  if (w === 'nil') return { kind: 'literal', value: null };
  if (w === '.') return { kind: 'field', base: 'dot', path: [] };
  if (w.startsWith('.')) return { kind: 'field', base: 'dot', path: w.slice(1).split('.') };
  const v = /^(\$\w*)((?:\.\w+)*)$/.exec(w);
  if (v)
    return { kind: 'field', base: 'var', name: v[1]!, path: v[2] ? v[2].slice(1).split('.') : [] };
  if (/^[A-Za-z_]\w*$/.test(w)) return { kind: 'ident', name: w };
  throw fail(`unexpected "${w}"`);
}

// ---- evaluation ----

type Vars = Map<string, unknown>;

function exec(nodes: Node[], dot: unknown, vars: Vars): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'action') {
      const v = pipe(n.pipe, dot, vars);
      if (n.assign.length > 0) vars.set(n.assign[0]!, v);
      else out += print(v);
    } else {
      const v = pipe(n.pipe, dot, vars);
      const scope = new Map(vars);
      if (n.kind !== 'range' && n.assign.length > 0) scope.set(n.assign[0]!, v);
      if (n.kind === 'if') out += exec(truthy(v) ? n.body : n.alt, dot, truthy(v) ? scope : vars);
      else if (n.kind === 'with')
        out += truthy(v) ? exec(n.body, v, scope) : exec(n.alt, dot, vars);
      else out += execRange(n, v, dot, vars);
    }
  }
  return out;
}

function execRange(n: BlockNode, v: unknown, dot: unknown, vars: Vars): string {
  const entries: [unknown, unknown][] = Array.isArray(v)
    ? v.map((x, i) => [i, x])
    : v && typeof v === 'object'
      ? Object.keys(v)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]])
      : [];
  if (entries.length === 0) return exec(n.alt, dot, vars);
  let out = '';
  for (const [key, item] of entries) {
    const scope = new Map(vars);
    if (n.assign.length === 1) scope.set(n.assign[0]!, item);
    if (n.assign.length === 2) scope.set(n.assign[0]!, key).set(n.assign[1]!, item);
    out += exec(n.body, item, scope);
  }
  return out;
}

function pipe(cmds: Command[], dot: unknown, vars: Vars): unknown {
  let prev: unknown[] = [];
  let value: unknown;
  for (const cmd of cmds) {
    const [head, ...rest] = cmd;
    if (head!.kind === 'ident') {
      const args = [...rest.map((a) => arg(a, dot, vars)), ...prev];
      value = call(head!.name, args);
    } else {
      if (rest.length > 0 || prev.length > 0) throw fail('can only call functions with arguments');
      value = arg(head!, dot, vars);
    }
    prev = [value];
  }
  return value;
}

function arg(a: Arg, dot: unknown, vars: Vars): unknown {
  switch (a.kind) {
    case 'literal':
      return a.value;
    case 'paren':
      return a.path.reduce<unknown>((v, key) => field(v, key), pipe(a.pipe, dot, vars));
    case 'ident':
      return call(a.name, []);
    case 'field': {
      if (a.base === 'var' && !vars.has(a.name!)) throw fail(`undefined variable "${a.name}"`);
      const base = a.base === 'var' ? vars.get(a.name!) : dot;
      return a.path.reduce<unknown>((v, key) => field(v, key), base);
    }
  }
}

function field(v: unknown, key: string): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object') throw fail(`can't evaluate field ${key} in type ${typeof v}`);
  return (v as Record<string, unknown>)[key];
}

const FUNCS: Record<string, (...args: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v ?? null),
  join: (list, sep) => (Array.isArray(list) ? list.map(print).join(String(sep)) : print(list)),
  split: (s, sep) => String(s).split(String(sep)),
  index: (v, ...keys) =>
    keys.reduce<unknown>(
      (x, k) =>
        x && typeof x === 'object' ? (x as Record<string, unknown>)[String(k)] : undefined,
      v,
    ),
  len: (v) =>
    Array.isArray(v) || typeof v === 'string'
      ? v.length
      : v && typeof v === 'object'
        ? Object.keys(v).length
        : 0,
  upper: (s) => String(s).toUpperCase(),
  lower: (s) => String(s).toLowerCase(),
  title: (s) => String(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  print: (...a) => a.map(print).join(''),
  println: (...a) => `${a.map(print).join(' ')}\n`,
  printf: (fmt, ...a) => printf(String(fmt), a),
  eq: (a, ...b) => b.some((x) => x === a),
  ne: (a, b) => a !== b,
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
};

function call(name: string, args: unknown[]): unknown {
  const f = FUNCS[name];
  if (!f) throw fail(`function "${name}" not defined`);
  return f(...args);
}

function printf(fmt: string, args: unknown[]): string {
  let i = 0;
  return fmt.replace(/%([-+ #0]*\d*(?:\.\d+)?)([svdqtf%])/g, (_m, _flags: string, verb: string) => {
    if (verb === '%') return '%';
    const v = args[i++];
    if (verb === 'q') return JSON.stringify(print(v));
    if (verb === 'f') return Number(v).toFixed(6);
    return print(v);
  });
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Go's fmt %v for JSON-shaped values: [a b], map[k:v], <no value> for missing. */
export function print(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(print).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.keys(v)
      .sort()
      .map((k) => `${k}:${print((v as Record<string, unknown>)[k])}`);
    return `map[${entries.join(' ')}]`;
  }
  return String(v);
}
