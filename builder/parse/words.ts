// Argument-splitting helpers of BuildKit's parser (parser/line_parsers.go): quote-aware word
// splitting that keeps quotes (for ENV/LABEL/ARG), JSON-or-shell forms, and `--flag=value`
// extraction at the start of an instruction.

/** BuildKit's parseWords: split on whitespace outside quotes, quotes and escapes kept. */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = [...rest];
  let word = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = chars[pos] ?? '';
    const end = pos === chars.length;
    if (phase === 'spaces') {
      if (end) break;
      if (/\s/.test(ch)) continue;
      phase = 'word';
    }
    if (end) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      ch = chars[++pos]!;
    }
    word += ch;
  }
  return words;
}

/** Splits on runs of blanks, no quote handling (parseStringsWhitespaceDelimited). */
export function splitBlanks(rest: string): string[] {
  return rest.split(/[\t\v\f\r ]+/).filter((w) => w !== '');
}

/** A JSON array of strings, or undefined when `rest` is not one (then it is shell form). */
export function parseJsonArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    return undefined;
  }
  return undefined;
}

export interface ExtractedFlags {
  /** Flag name (without `--`) -> values in order; a bare `--flag` has value `true`. */
  flags: Map<string, (string | true)[]>;
  rest: string;
}

/** Takes leading `--name[=value]` words off an instruction's arguments. */
export function extractFlags(args: string): ExtractedFlags {
  const flags = new Map<string, (string | true)[]>();
  let rest = args.replace(/^\s+/, '');
  for (;;) {
    if (!rest.startsWith('--')) break;
    const { word, after } = takeWord(rest);
    if (word === '--') {
      rest = after;
      break;
    }
    const eq = word.indexOf('=');
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    const value = eq < 0 ? true : unquote(word.slice(eq + 1));
    flags.set(name, [...(flags.get(name) ?? []), value]);
    rest = after;
  }
  return { flags, rest };
}

/** One whitespace-delimited word, quotes respected (and kept), plus the rest after blanks. */
function takeWord(s: string): { word: string; after: string } {
  let quote = '';
  let i = 0;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (/\s/.test(c)) break;
  }
  return { word: s.slice(0, i), after: s.slice(i).replace(/^\s+/, '') };
}

function unquote(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0]) return v.slice(1, -1);
  return v;
}
