// Common plumbing for the bin/ entries: the one docker-style (pflag-like) flag parser every
// command uses, driven by a CommandSpec (flags with their help text and value checks, usage,
// argument counts) that --help and shell completion (shared/cli-help.ts) are made from too;
// runCommand/runCli turn errors into one stderr line and docker's exit codes; password input.
// Kept lean on purpose: tsrun's start latency matters, so nothing heavy is imported here.
import { ExitCode, TsdockError, errorLine } from './errors.js';
import { helpText } from './cli-help.js';
import type { CommandSpec, FlagSpec, FlagSpecs, FlagValues, ParsedFlags } from './cli-spec.js';

/** A command-line mistake; exits 125 like docker, with a hint to read --help. */
export class UsageError extends TsdockError {}

/** A bad flag, flag value or argument count: `<what is wrong>; see 'NAME --help'`. */
export class FlagError extends UsageError {
  constructor(message: string, name: string) {
    super(escapeControls(message), `see '${name} --help'`);
  }
  override toLine(): string {
    return `${this.message}; ${this.hint}`;
  }
}

export type { CommandSpec, FlagSpec, FlagSpecs, FlagValues, ParsedFlags } from './cli-spec.js';

/** Declares a command (a typed identity: keeps the flag names as literal types). */
export function defineCommand<const T extends FlagSpecs>(spec: CommandSpec<T>): CommandSpec<T> {
  return spec;
}

export interface ParseFlagsOptions {
  /** Stop at the first positional; it and everything after are returned untouched. */
  stopAtFirstPositional?: boolean;
  /** Command name for the `see 'NAME --help'` hint (default: the script's name). */
  name?: string;
}

/** --help on every command; -h too where the command does not use -h itself. */
function withHelp(flags: FlagSpecs): FlagSpecs {
  const shortTaken = Object.values(flags).some((f) => f.short === 'h');
  return {
    ...flags,
    help: { type: 'boolean', description: 'Print usage', ...(shortTaken ? {} : { short: 'h' }) },
  };
}

/** The flags a command accepts, --help included (for help text and completion). */
export function commandFlags(spec: CommandSpec): FlagSpecs {
  return withHelp(spec.flags);
}

/**
 * Parses a command line against its spec: flags, their values' checks, the argument count and
 * the spec's own validate, all before the command does any work. Undefined means --help.
 */
export function parseCommand<const T extends FlagSpecs>(
  spec: CommandSpec<T>,
  argv: readonly string[],
): ParsedFlags<T> | undefined {
  const parsed = parseFlags(argv, withHelp(spec.flags), {
    name: spec.name,
    stopAtFirstPositional: spec.stopAtFirstPositional,
  }) as ParsedFlags<T> & { values: { help?: boolean } };
  if (parsed.values.help) return undefined;
  const n = parsed.positionals.length;
  const { min = 0, max = Infinity } = spec.args ?? {};
  if (n < min || n > max) {
    const count = (k: number) => `${k} argument${k === 1 ? '' : 's'}`;
    const want =
      max === 0
        ? 'accepts no arguments'
        : min === max
          ? `requires exactly ${count(min)}`
          : n < min
            ? `requires at least ${count(min)}`
            : `accepts at most ${count(max)}`;
    throw new FlagError(`"${spec.name}" ${want}`, spec.name);
  }
  try {
    spec.validate?.(parsed);
  } catch (err) {
    if (err instanceof FlagError) throw err;
    throw new FlagError(errorLine(err), spec.name);
  }
  return parsed;
}

/**
 * Runs a command: parses its command line (--help prints the help and exits 0; a mistake is
 * one line and exit 125), then main with the parsed flags; exits as runCli does.
 */
export function runCommand<const T extends FlagSpecs>(
  spec: CommandSpec<T>,
  main: (parsed: ParsedFlags<T>) => Promise<number | void>,
): Promise<never> {
  return runCli(spec.name, async (argv) => {
    const parsed = parseCommand(spec, argv);
    if (parsed === undefined) {
      process.stdout.write(helpText(spec, commandFlags(spec)));
      return 0;
    }
    return main(parsed);
  });
}

/**
 * Parses docker-style flags: `--x=v`, `--x v`, `-x v`, `-xv`, combined booleans `-it`,
 * `--flag=false`, repeated flags into arrays, `--` ends flags. Unknown flags are UsageErrors.
 */
export function parseFlags<const T extends FlagSpecs>(
  argv: readonly string[],
  spec: T,
  opts: ParseFlagsOptions = {},
): ParsedFlags<T> {
  const parser = new FlagParser(spec, opts.name ?? scriptName());
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      i += parser.long(arg, argv[i + 1]);
    } else if (arg.startsWith('-') && arg.length > 1) {
      i += parser.shorts(arg, argv[i + 1]);
    } else if (opts.stopAtFirstPositional) {
      positionals.push(...argv.slice(i));
      break;
    } else {
      positionals.push(arg);
    }
  }
  return { values: parser.withDefaults() as FlagValues<T>, positionals };
}

/** Flag state while parsing; `long` and `shorts` return how many next args they consumed. */
class FlagParser {
  private readonly values: Record<string, unknown> = {};
  private readonly byShort = new Map<string, string>();
  private readonly byAlias = new Map<string, string>();

  constructor(
    private readonly spec: FlagSpecs,
    private readonly name: string,
  ) {
    for (const [long, s] of Object.entries(spec)) {
      if (s.short) this.byShort.set(s.short, long);
      for (const a of s.aliases ?? []) this.byAlias.set(a, long);
    }
  }

  /** `--x`, `--x=v`, `--x v`. */
  long(arg: string, next: string | undefined): number {
    const eq = arg.indexOf('=');
    const given = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const long = Object.hasOwn(this.spec, given) ? given : this.byAlias.get(given);
    if (long === undefined) throw this.usage(`unknown flag: --${given}`);
    if (this.spec[long]!.type === 'boolean') {
      this.set(long, eq < 0 ? true : this.bool(arg.slice(eq + 1), `--${long}`));
      return 0;
    }
    if (eq >= 0) {
      this.set(long, arg.slice(eq + 1));
      return 0;
    }
    if (next === undefined) throw this.usage(`flag needs an argument: --${long}`);
    this.set(long, next);
    return 1;
  }

  /** A cluster of shorthands: booleans until a string flag takes the rest or the next arg. */
  shorts(arg: string, next: string | undefined): number {
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!;
      const long = this.byShort.get(c);
      if (long === undefined) throw this.usage(`unknown shorthand flag: '${c}' in ${arg}`);
      if (this.spec[long]!.type === 'boolean') {
        if (arg[j + 1] !== '=') {
          this.set(long, true);
          continue;
        }
        this.set(long, this.bool(arg.slice(j + 2), `-${c}`));
        return 0;
      }
      const rest = arg.slice(arg[j + 1] === '=' ? j + 2 : j + 1);
      if (rest !== '') {
        this.set(long, rest);
        return 0;
      }
      if (next === undefined) throw this.usage(`flag needs an argument: '${c}' in ${arg}`);
      this.set(long, next);
      return 1;
    }
    return 0;
  }

  withDefaults(): Record<string, unknown> {
    for (const [long, s] of Object.entries(this.spec)) {
      if (this.values[long] === undefined && s.default !== undefined) {
        this.values[long] = Array.isArray(s.default) ? [...s.default] : s.default;
      }
    }
    return this.values;
  }

  private set(long: string, value: string | boolean): void {
    const s = this.spec[long]!;
    if (typeof value === 'string') this.check(long, s, value);
    if (s.multiple) ((this.values[long] ??= []) as unknown[]).push(value);
    else this.values[long] = value;
  }

  /** A value outside the flag's choices, or one its check throws on: docker's wording. */
  private check(long: string, s: FlagSpec, value: string): void {
    const flag = s.short ? `-${s.short}, --${long}` : `--${long}`;
    if (s.choices && !s.choices.includes(value))
      throw this.usage(
        `invalid argument "${value}" for "${flag}" flag: use ${s.choices.join(', ')}`,
      );
    try {
      s.check?.(value);
    } catch (err) {
      throw this.usage(`invalid argument "${value}" for "${flag}" flag: ${errorLine(err)}`);
    }
  }

  private bool(v: string, flag: string): boolean {
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw this.usage(`invalid argument "${v}" for "${flag}" flag: expected true or false`);
  }

  /** Control characters from argv are escaped (by FlagError): the error stays on one line. */
  private usage(msg: string): FlagError {
    return new FlagError(msg, this.name);
  }
}

/**
 * Runs a command's main with process.argv.slice(2) and exits: main's number (default 0), or on
 * error `${name}: <one line>` on stderr and the error's exitCode (default 125).
 * `TSDOCK_DEBUG=1` prints the stack too.
 */
export async function runCli(
  name: string,
  main: (argv: string[]) => Promise<number | void>,
): Promise<never> {
  // `tsimages | head`: a closed stdout ends the command quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const fail = (err: unknown): never => {
    process.stderr.write(`${name}: ${errorLine(err)}\n`);
    if (process.env['TSDOCK_DEBUG'] && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    process.exit(exitCodeOf(err));
  };
  // Errors escaping main (a stray promise, an emitter without a listener) get the same one line.
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  let code: number;
  try {
    code = (await main(process.argv.slice(2))) ?? 0;
  } catch (err) {
    return fail(err);
  }
  // Writes to a pipe are asynchronous: exiting at once would cut `tssave | gzip` short.
  await flushed(process.stdout);
  process.exit(code);
}

/** Resolves once everything written to `out` so far has reached its file descriptor. */
function flushed(out: NodeJS.WriteStream): Promise<void> {
  if (out.writableLength === 0 || out.destroyed) return Promise.resolve();
  // a write's callback runs after every earlier write has completed
  return new Promise((resolve) => {
    out.once('error', () => resolve());
    out.write('', () => resolve());
  });
}

/** The exit code an error asks for: its numeric `exitCode`, else 125. */
export function exitCodeOf(err: unknown): number {
  const c = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255
    ? c
    : ExitCode.ToolError;
}

/** Reads all of stdin as a password (for --password-stdin); one trailing newline is dropped. */
export async function readPasswordFromStdin(
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\n$/, '') // like docker: one trailing "\n", then one "\r"
    .replace(/\r$/, '');
  if (text === '') {
    throw new UsageError(
      'no password on stdin',
      'pipe the password in: echo "$PW" | ... --password-stdin',
    );
  }
  return text;
}

/** Prompts on the terminal without echo. Fails if stdin is not a TTY. */
export function promptPassword(prompt: string): Promise<string> {
  return readTerminal(prompt, false);
}

/** Prompts on the terminal with echo (e.g. for a username). Fails if stdin is not a TTY. */
export function promptText(prompt: string): Promise<string> {
  return readTerminal(prompt, true);
}

function readTerminal(prompt: string, echo: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    return Promise.reject(
      new UsageError(
        'cannot prompt: stdin is not a terminal',
        'use --username and --password-stdin',
      ),
    );
  }
  // no echo before the prompt shows: what is typed right after it must not appear
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let input = '';
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(input);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new TsdockError('interrupted', undefined, 130));
        if (ch === '\u0004') {
          if (input === '') return finish(new UsageError('no input', 'end of input at the prompt'));
          return finish();
        }
        if (ch === '\u007f' || ch === '\b') {
          if (input.length > 0) {
            input = input.slice(0, -1);
            if (echo) process.stderr.write('\b \b');
          }
          continue;
        }
        input += ch;
        if (echo) process.stderr.write(ch);
      }
    };
    stdin.resume();
    stdin.on('data', onData);
  });
}

function escapeControls(s: string): string {
  let out = '';
  for (const c of s) {
    const code = c.charCodeAt(0);
    out += code < 0x20 || code === 0x7f ? JSON.stringify(c).slice(1, -1) : c;
  }
  return out;
}

function scriptName(): string {
  const script = process.argv[1] ?? 'tsdock';
  return (script.split('/').pop() ?? script).replace(/\.[cm]?js$/, '');
}
