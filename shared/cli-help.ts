// --help text made from a command's CommandSpec (shared/cli.ts), in docker's layout: one usage
// line `Usage: NAME [OPTIONS] ARGS`, the summary, sub-commands, then the options with a line
// each (`-m, --memory bytes   Memory limit`), then notes. Every command prints it the same way.
import type { CommandSpec, FlagSpec, FlagSpecs } from './cli-spec.js';

/** `-m, --memory bytes` / `    --rm`: a flag as help lists it. */
export function flagLabel(long: string, f: FlagSpec): string {
  const names = f.short ? `-${f.short}, --${long}` : `    --${long}`;
  if (f.type === 'boolean') return names;
  return `${names} ${f.valueName ?? (f.multiple ? 'list' : 'string')}`;
}

/** The usage line: `Usage: tsrun [OPTIONS] IMAGE [COMMAND] [ARG...]`. */
export function usageLine(spec: CommandSpec): string {
  const hasOptions = Object.values(spec.flags).some((f) => f.description !== undefined);
  return ['Usage:', spec.name, hasOptions ? '[OPTIONS]' : '', spec.usage]
    .filter((s) => s !== '')
    .join(' ');
}

/** The whole --help text; `flags` are the spec's flags with --help added. */
export function helpText(spec: CommandSpec, flags: FlagSpecs): string {
  const out = [usageLine(spec), '', spec.summary];
  if (spec.commands) {
    out.push('', 'Commands:');
    const width = Math.max(...Object.keys(spec.commands).map((c) => c.length));
    for (const [c, line] of Object.entries(spec.commands))
      out.push(`  ${c.padEnd(width)}   ${line}`);
  }
  const listed = Object.entries(flags).filter(([, f]) => f.description !== undefined);
  out.push('', 'Options:');
  const labels = listed.map(([long, f]) => flagLabel(long, f));
  const width = Math.max(...labels.map((l) => l.length));
  listed.forEach(([, f], i) => {
    const choices = f.choices ? ` (${f.choices.join(', ')})` : '';
    const def =
      typeof f.default === 'string' && f.default !== '' ? ` (default "${f.default}")` : '';
    out.push(`  ${labels[i]!.padEnd(width)}   ${f.description}${choices}${def}`);
  });
  if (spec.notes) out.push('', spec.notes.trimEnd());
  return `${out.join('\n')}\n`;
}
