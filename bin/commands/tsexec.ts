// tsexec's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { PROCESS_FLAGS } from '../../runner/run-flags.js';

export const tsexecCommand = defineCommand({
  name: 'tsexec',
  usage: 'CONTAINER COMMAND [ARG...]',
  summary: 'Run a command in a running container.',
  args: { min: 2 },
  stopAtFirstPositional: true,
  flags: PROCESS_FLAGS,
});
