#!/usr/bin/env node
// tsexec: run a command in a running container (docker exec): joins all its namespaces and
// its cgroup. Flags: -i, -t (-it), -e K=V, -w DIR, -u USER[:GROUP].
import { runCommand } from '../shared/cli.js';
import { tsexecCommand } from './commands/tsexec.js';

void runCommand(tsexecCommand, async ({ values: v, positionals }) => {
  const { execInContainer } = await import('../runner/lifecycle.js');
  const [ref, ...argv] = positionals as [string, ...string[]];
  return execInContainer(ref, {
    argv,
    env: v.env ?? [],
    workdir: v.workdir,
    user: v.user,
    tty: v.tty === true,
    interactive: v.interactive === true,
  });
});
