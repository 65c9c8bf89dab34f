#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tsexec: run a command in a running container (docker exec): joins all its namespaces and
// its cgroup. Flags: -i, -t (-it), -e K=V, -w DIR, -u USER[:GROUP].
import { execInContainer } from '../runner/lifecycle.js';
import { errorLine, InvalidInputError } from '../shared/errors.js';

async function main(args: string[]): Promise<number> {
  const env: string[] = [];
  let workdir: string | undefined;
  let user: string | undefined;
  let tty = false;
  let interactive = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) break;
    if (a === '-e' || a === '--env') env.push(args[++i] ?? '');
    else if (a === '-w' || a === '--workdir') workdir = args[++i];
    else if (a === '-u' || a === '--user') user = args[++i];
    else if (/^-[it]+$/.test(a)) {
      tty ||= a.includes('t');
      interactive ||= a.includes('i');
    } else if (a === '--tty') tty = true;
    else if (a === '--interactive') interactive = true;
    else
      throw new InvalidInputError(
        `unknown flag: ${a}`,
        'usage: tsexec [-it] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...',
      );
  }
  const ref = args[i];
  const argv = args.slice(i + 1);
  if (!ref || !argv.length) {
    throw new InvalidInputError(
      'tsexec requires a container and a command',
      'tsexec [-it] CONTAINER CMD...',
    );
  }
  return execInContainer(ref, { argv, env, workdir, user, tty, interactive });
}
main(process.argv.slice(2)).then(
  (c) => process.exit(c),
  (err: unknown) => {
    process.stderr.write(`tsexec: ${errorLine(err)}\n`);
    process.exit((err as { exitCode?: number }).exitCode ?? 125);
  },
);
