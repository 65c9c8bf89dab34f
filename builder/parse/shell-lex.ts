// Variable expansion and word processing exactly like BuildKit's shell lexer
// (frontend/dockerfile/shell/lex.go): $v, ${v}, ${v:-w}, ${v-w}, ${v:+w}, ${v+w}, ${v:?w},
// ${v#p} ${v%p} (## %%), quotes, and the escape token (\ or `).

/** Looks a variable up; undefined means unset (different from empty for `-`, `+`, `?`). */
export type EnvLookup = (name: string) => string | undefined;

export interface LexOptions {
  /** The escape token: `\` by default, or backtick via `# escape=`. */
  escape?: string;
  /** Keep quotes as they are (heredoc content): only variables are expanded. */
  skipProcessQuotes?: boolean;
  /** Keep escape tokens in the output. */
  rawEscapes?: boolean;
}

/** Thrown for shell syntax errors; callers attach the Dockerfile line. */
export class ShellSyntaxError extends Error {}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

export function envLookup(...maps: ReadonlyMap<string, string>[]): EnvLookup {
  return (name) => {
    for (const m of maps) if (m.has(name)) return m.get(name);
    return undefined;
  };
}

/** Expands one word: quotes removed, escapes processed, variables replaced. */
export function processWord(word: string, env: EnvLookup, opts: LexOptions = {}): string {
  return new ShellWord(word, env, opts).run().value;
}

/** Expands and splits into words like BuildKit's ProcessWords (used for EXPOSE and friends). */
export function processWords(word: string, env: EnvLookup, opts: LexOptions = {}): string[] {
  return new ShellWord(word, env, opts).run().words;
}

/** Collects words: expanded variables split on whitespace, quoted text stays whole. */
class Words {
  private readonly out: string[] = [];
  private cur = '';
  private inWord = false;
  addChar(ch: string): void {
    if (/\s/.test(ch) && this.inWord) {
      this.flush();
    } else if (!/\s/.test(ch)) this.addRaw(ch);
  }
  addRaw(s: string): void {
    this.cur += s;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.addRaw(s);
  }
  flush(): void {
    if (this.cur !== '') this.out.push(this.cur);
    this.cur = '';
    this.inWord = false;
  }
  result(): string[] {
    this.flush();
    return this.out;
  }
}

class ShellWord {
  private pos = 0;
  private readonly chars: string[];
  private readonly esc: string;
  constructor(
    input: string,
    private readonly env: EnvLookup,
    private readonly opts: LexOptions,
  ) {
    this.chars = [...input];
    this.esc = opts.escape ?? '\\';
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  run(): { value: string; words: string[] } {
    const r = this.processStopOn(undefined, this.opts.rawEscapes ?? false);
    return { value: r.value, words: r.words };
  }

  private processStopOn(stop: string | undefined, rawEscapes: boolean) {
    let result = '';
    const words = new Words();
    while (this.peek() !== undefined) {
      const ch = this.peek()!;
      if (stop !== undefined && ch === stop) {
        this.next();
        return { value: result, words: words.result(), stopped: true };
      }
      const quote = !this.opts.skipProcessQuotes && (ch === "'" || ch === '"');
      if (quote || ch === '$') {
        const tmp =
          ch === "'" ? this.singleQuote() : ch === '"' ? this.doubleQuote() : this.dollar();
        result += tmp;
        if (ch === '$') words.addString(tmp);
        else words.addRawString(tmp);
        continue;
      }
      let c = this.next()!;
      if (c === this.esc) {
        if (rawEscapes) {
          words.addRaw(c);
          result += c;
        }
        const n = this.next();
        if (n === undefined) break;
        c = n;
        words.addRaw(c);
      } else {
        words.addChar(c);
      }
      result += c;
    }
    if (stop !== undefined) {
      throw new ShellSyntaxError(`unexpected end of statement while looking for matching ${stop}`);
    }
    return { value: result, words: words.result(), stopped: false };
  }

  private singleQuote(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === undefined)
        throw new ShellSyntaxError(
          'unexpected end of statement while looking for matching single-quote',
        );
      if (c === "'") return out;
      out += c;
    }
  }

  private doubleQuote(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined)
        throw new ShellSyntaxError(
          'unexpected end of statement while looking for matching double-quote',
        );
      if (ch === '"') {
        this.next();
        return out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      let c = this.next()!;
      if (c === this.esc) {
        if (this.opts.rawEscapes) out += c;
        const p = this.peek();
        if (p === undefined) continue;
        if (p === '"' || p === '$' || p === this.esc) c = this.next()!;
      }
      out += c;
    }
  }

  private name(): string {
    let name = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) return name;
      if (name === '' && /\d/.test(ch)) {
        while (this.peek() !== undefined && /\d/.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next()!;
      if (!/[\p{L}\p{N}_]/u.test(ch)) return name;
      name += this.next();
    }
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.env(name) ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':')
      throw new ShellSyntaxError('syntax error: bad substitution');
    const name = this.name();
    const ch = this.next();
    if (ch === '}') return this.env(name) ?? '';
    if (ch === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
    if (ch === ':') return this.colonModifier(name);
    if (ch === '-' || ch === '+' || ch === '?' || ch === '#' || ch === '%') {
      return this.plainModifier(name, ch);
    }
    throw new ShellSyntaxError(`unsupported modifier (${ch}) in substitution`);
  }

  private modifierWord(rawEscapes: boolean): string {
    try {
      return this.processStopOn('}', rawEscapes).value;
    } catch (e) {
      if (this.peek() === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
      throw e;
    }
  }

  private colonModifier(name: string): string {
    const modifier = this.next();
    const word = this.modifierWord(false);
    const value = this.env(name);
    const nonEmpty = value !== undefined && value !== '';
    switch (modifier) {
      case '+':
        return nonEmpty ? word : '';
      case '-':
        return nonEmpty ? value! : word;
      case '?':
        if (value === undefined)
          throw new ShellSyntaxError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (value === '')
          throw new ShellSyntaxError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      default:
        throw new ShellSyntaxError(`unsupported modifier (${modifier ?? ''}) in substitution`);
    }
  }

  private plainModifier(name: string, ch: string): string {
    let op = ch;
    if ((ch === '#' || ch === '%') && this.peek() === ch) op += this.next();
    const word = this.modifierWord(ch === '#' || ch === '%');
    const value = this.env(name);
    switch (op) {
      case '-':
        return value ?? word;
      case '+':
        return value !== undefined ? word : '';
      case '?':
        if (value === undefined)
          throw new ShellSyntaxError(`${name}: ${word || 'is not allowed to be unset'}`);
        return value;
      default:
        return trimPattern(value ?? '', word, op);
    }
  }
}

/** ${v#p} ${v##p} ${v%p} ${v%%p}: remove a shell glob from the start or end. */
function trimPattern(value: string, pattern: string, op: string): string {
  const re = globToRegex(pattern);
  const prefix = op[0] === '#';
  const greedy = op.length === 2;
  const lengths = [...Array(value.length + 1).keys()];
  if (greedy) lengths.reverse();
  for (const n of lengths) {
    const part = prefix ? value.slice(0, n) : value.slice(value.length - n);
    if (re.test(part)) return prefix ? value.slice(n) : value.slice(0, value.length - n);
  }
  return value;
}

function globToRegex(glob: string): RegExp {
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else if (c === '\\' && i + 1 < glob.length) src += escapeRe(glob[++i]!);
    else src += escapeRe(c);
  }
  return new RegExp(`^${src}$`, 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
