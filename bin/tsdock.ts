#!/usr/bin/env node
// tsdock: the tool's own entry; `tsdock completion bash|zsh` prints a script that completes
// every ts* command and its flags, made from the same CommandSpecs the commands parse with.
import { commandFlags, runCommand } from '../shared/cli.js';
import { bashCompletion, zshCompletion } from '../shared/cli-completion.js';
import { ALL_COMMANDS } from './commands/index.js';
import { tsdockCommand } from './commands/tsdock.js';

void runCommand(tsdockCommand, async ({ positionals }) => {
  const commands = ALL_COMMANDS.map((spec) => ({ spec, flags: commandFlags(spec) }));
  const shell = positionals[1];
  process.stdout.write(shell === 'zsh' ? zshCompletion(commands) : bashCompletion(commands));
  return 0;
});
