// The shape of a command line: flags with their help text and checks (FlagSpec), a command's
// usage, argument counts and cross-flag checks (CommandSpec), and what parsing gives back.
// Types only; shared/cli.ts parses with them, shared/cli-help.ts makes --help from them.
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** One-letter alias: `-d`. */
  short?: string;
  /** Other long names for the same flag (`--net` for `--network`); not shown in help. */
  aliases?: readonly string[];
  /** Repeatable: values collect into an array (`-e A=1 -e B=2`). */
  multiple?: boolean;
  default?: string | boolean | string[] | boolean[];
  /** One line for --help (a flag without one is accepted but not listed). */
  description?: string;
  /** The value's name in --help (`-m, --memory bytes`); default `string`, or `list`. */
  valueName?: string;
  /** The only values accepted (checked while parsing, offered by shell completion). */
  choices?: readonly string[];
  /** Checks a value while parsing, before the command does anything: throws if it is bad. */
  check?: (value: string) => unknown;
  /** What shell completion offers for the value: files (default), directories or nothing. */
  complete?: 'file' | 'directory' | 'none';
}
export type FlagSpecs = Record<string, FlagSpec>;

/** A command's whole command line: what parses it, what --help shows, what completion offers. */
export interface CommandSpec<T extends FlagSpecs = FlagSpecs> {
  name: string;
  /** What follows `Usage: NAME [OPTIONS]`, e.g. `IMAGE [COMMAND] [ARG...]`. */
  usage: string;
  /** One sentence for --help. */
  summary: string;
  flags: T;
  /** How many positional arguments are allowed (counted after flags). */
  args?: { min?: number; max?: number };
  /** Flags end at the first positional (tsrun IMAGE CMD...: the command's own flags stay). */
  stopAtFirstPositional?: boolean;
  /** Sub-commands (first positional) with a line each, for --help and completion. */
  commands?: Record<string, string>;
  /** More help text, after the options. */
  notes?: string;
  /** Checks across flags and arguments, before any work: throws what is wrong. */
  validate?(parsed: ParsedFlags<T>): void;
}

type ValueOf<S extends FlagSpec> = S['type'] extends 'boolean'
  ? S['multiple'] extends true
    ? boolean[]
    : boolean
  : S['multiple'] extends true
    ? string[]
    : string;
export type FlagValues<T extends FlagSpecs> = { [K in keyof T]?: ValueOf<T[K]> };

export interface ParsedFlags<T extends FlagSpecs> {
  values: FlagValues<T>;
  positionals: string[];
}
