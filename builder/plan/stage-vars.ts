// The ARG/ENV state of one stage while its instructions are dispatched: what `$v` expands to
// and the environment a RUN sees (one state as in BuildKit: the latest ENV or valued ARG of a
// name wins; a stage starts from its image's Env, which wins over inherited ARGs), and the ARG values that go into
// RUN cache keys and history (`|2 A=1 B=2 /bin/sh -c ...`). A stage built `FROM` an earlier
// stage starts with that stage's ARGs, values and declarations (BuildKit's dispatchState.init).
import type { SourceLocation } from '../errors.js';
import type { ArgDecl, KeyValue } from '../instructions/types.js';
import { processWords, ShellSyntaxError, type EnvLookup } from '../parse/shell-lex.js';
import { errorAt } from '../errors.js';
import { expandAt, PROXY_ARGS } from './build-args.js';

export interface StageVarsInput {
  /** Global ARG values (declared before FROM, plus the automatic platform ones). */
  globals: ReadonlyMap<string, string | undefined>;
  buildArgs: ReadonlyMap<string, string>;
  escape: string;
  /** The base image's Env (`K=V` strings). */
  imageEnv: readonly string[];
  /** Build-arg names consumed, to warn about the others. */
  used: Set<string>;
  /** The ARGs of the stage this one is built from (`FROM <stage>`). */
  inherited?: DeclaredArgs;
}

/** The ARGs a stage declared: their values, and every declared name in order. */
export interface DeclaredArgs {
  values: ReadonlyMap<string, string>;
  names: readonly string[];
}

export class StageVars {
  /** ENV, in order (the image config's Env). */
  readonly env = new Map<string, string>();
  /** Declared ARGs that have a value, in declaration order. */
  readonly args: Map<string, string>;
  /** Every declared ARG name, with or without a value, first declaration first. */
  private readonly names: Set<string>;
  /** Names an ARG with a value set after the ENV of the same name (BuildKit: the ARG wins). */
  private readonly argOverEnv = new Set<string>();
  readonly lookup: EnvLookup = (n) =>
    this.env.has(n) && !this.argOverEnv.has(n) ? this.env.get(n) : this.args.get(n);

  constructor(private readonly input: StageVarsInput) {
    this.args = new Map(input.inherited?.values);
    this.names = new Set(input.inherited?.names);
    for (const kv of input.imageEnv) {
      const eq = kv.indexOf('=');
      if (eq > 0) this.env.set(kv.slice(0, eq), kv.slice(eq + 1));
      else if (kv) this.env.set(kv, '');
    }
  }

  get escape(): string {
    return this.input.escape;
  }

  /**
   * ARG name[=default]: build-arg, else default, else the global's value, else the value it
   * already has (declared earlier in this stage or in the stage it is built from).
   */
  declareArg(decl: ArgDecl, loc: SourceLocation): void {
    const { buildArgs, globals, used } = this.input;
    let value: string | undefined;
    if (buildArgs.has(decl.name)) {
      value = buildArgs.get(decl.name);
      used.add(decl.name);
    } else if (decl.defaultValue !== undefined) value = this.expand(decl.defaultValue, loc);
    else value = globals.get(decl.name);
    if (value !== undefined) {
      this.args.set(decl.name, value);
      this.argOverEnv.add(decl.name);
    }
    this.names.add(decl.name);
  }

  /** What a stage built from this one inherits. */
  declared(): DeclaredArgs {
    return { values: new Map(this.args), names: [...this.names] };
  }

  /** ENV a=1 b=$a: every value sees the state before this instruction. */
  setEnv(pairs: KeyValue[], loc: SourceLocation): KeyValue[] {
    const expanded = pairs.map((p) => ({
      key: this.expand(p.key, loc),
      value: this.expand(p.value, loc),
    }));
    for (const p of expanded) {
      this.argOverEnv.delete(p.key);
      this.env.delete(p.key);
      this.env.set(p.key, p.value);
    }
    return expanded;
  }

  expand(word: string, loc: SourceLocation): string {
    return expandAt(word, this.lookup, loc, this.input.escape);
  }

  expandWords(word: string, loc: SourceLocation): string[] {
    try {
      return processWords(word, this.lookup, { escape: this.input.escape });
    } catch (e) {
      if (e instanceof ShellSyntaxError) throw errorAt(loc, e.message);
      throw e;
    }
  }

  /** The image config Env. */
  configEnv(): string[] {
    return [...this.env].map(([k, v]) => `${k}=${v}`);
  }

  /** ARGs a RUN sees (not shadowed by a later ENV), as `K=V`, for its env and cache key. */
  runArgs(): string[] {
    return [...this.args]
      .filter(([k]) => !this.env.has(k) || this.argOverEnv.has(k))
      .map(([k, v]) => `${k}=${v}`);
  }

  /**
   * The `|N K=V ...` list of a RUN's history entry: every declared ARG once, valued as the RUN
   * sees it (no value at all prints `K=`), as BuildKit does.
   */
  historyArgs(): string[] {
    return [...this.names].map((k) => `${k}=${this.lookup(k) ?? ''}`);
  }

  /** Proxy build-args: in RUN's environment only, never in keys or history. */
  proxyEnv(): string[] {
    const out: string[] = [];
    for (const name of PROXY_ARGS) {
      const v = this.input.buildArgs.get(name);
      if (v !== undefined && !this.args.has(name) && !this.env.has(name)) {
        this.input.used.add(name);
        out.push(`${name}=${v}`);
      }
    }
    return out;
  }

  /** The full environment of a RUN process (each name once). */
  runEnv(): string[] {
    const env = [...this.env].filter(([k]) => !this.argOverEnv.has(k) || !this.args.has(k));
    return [...this.runArgs(), ...env.map(([k, v]) => `${k}=${v}`), ...this.proxyEnv()];
  }
}
