// Shell completion scripts made from the commands' CommandSpecs (shared/cli.ts), the same flag
// definitions the parser uses: bash (`complete -F`) and zsh (`compdef` with `_arguments`).
// Flags complete after `-`; a flag's value completes from its choices, else as files,
// directories or nothing (FlagSpec.complete); a first argument from the sub-commands.
import type { CommandSpec, FlagSpec, FlagSpecs } from './cli.js';

export interface CompletionCommand {
  spec: CommandSpec;
  /** The spec's flags with --help. */
  flags: FlagSpecs;
}

/** `--memory -m` (with aliases): every spelling of a flag. */
function spellings(long: string, f: FlagSpec): string[] {
  return [
    `--${long}`,
    ...(f.aliases ?? []).map((a) => `--${a}`),
    ...(f.short ? [`-${f.short}`] : []),
  ];
}

/** Quotes for a POSIX shell single-quoted word. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function bashCompletion(commands: readonly CompletionCommand[]): string {
  const cases = commands.map(({ spec, flags }) => {
    const all: string[] = [];
    const valueCases: string[] = [];
    for (const [long, f] of Object.entries(flags)) {
      const names = spellings(long, f);
      all.push(...names.filter((n) => n.startsWith('--') || f.description !== undefined));
      if (f.type === 'boolean') continue;
      const action = f.choices
        ? `COMPREPLY=($(compgen -W ${sq(f.choices.join(' '))} -- "$cur"))`
        : f.complete === 'none'
          ? 'COMPREPLY=()'
          : f.complete === 'directory'
            ? 'COMPREPLY=($(compgen -d -- "$cur"))'
            : 'COMPREPLY=($(compgen -f -- "$cur"))';
      valueCases.push(`        ${names.join('|')}) ${action}; return ;;`);
    }
    const subs = spec.commands ? Object.keys(spec.commands).join(' ') : '';
    return [
      `    ${spec.name})`,
      `      flags=${sq(all.join(' '))}`,
      `      subs=${sq(subs)}`,
      '      case "$prev" in',
      ...valueCases,
      '      esac ;;',
    ].join('\n');
  });
  return `# bash completion for the tsdock commands (made by: tsdock completion bash)
_tsdock_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local flags="" subs=""
  COMPREPLY=()
  case "\${COMP_WORDS[0]##*/}" in
${cases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n "$subs" && $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _tsdock_complete ${commands.map((c) => c.spec.name).join(' ')}
`;
}

/** Escapes text for inside a zsh _arguments spec in single quotes: [ ] : and '. */
function zq(s: string): string {
  return s
    .replace(/\\/g, '\\\\')
    .replace(/([[\]:])/g, '\\$1')
    .replace(/'/g, `'\\''`);
}

export function zshCompletion(commands: readonly CompletionCommand[]): string {
  const fns = commands.map(({ spec, flags }) => {
    const specs: string[] = [];
    for (const [long, f] of Object.entries(flags)) {
      const desc = zq(f.description ?? long);
      const value =
        f.type === 'boolean'
          ? ''
          : `:${zq(f.valueName ?? 'value')}:${
              f.choices
                ? `(${f.choices.join(' ')})`
                : f.complete === 'none'
                  ? ' '
                  : f.complete === 'directory'
                    ? '_files -/'
                    : '_files'
            }`;
      const repeat = f.multiple ? '*' : '';
      for (const n of spellings(long, f)) specs.push(`'${repeat}${n}[${desc}]${value}'`);
    }
    const rest = spec.commands
      ? `'1:command:(${Object.keys(spec.commands).join(' ')})' '*:file:_files'`
      : `'*:file:_files'`;
    const fn = `_tsdock_${spec.name.replace(/[^a-z0-9]/g, '_')}`;
    return `${fn}() {\n  _arguments -s -S \\\n    ${[...specs, rest].join(' \\\n    ')}\n}\ncompdef ${fn} ${spec.name}`;
  });
  return `#compdef ${commands.map((c) => c.spec.name).join(' ')}
# zsh completion for the tsdock commands (made by: tsdock completion zsh)
${fns.join('\n')}
`;
}
