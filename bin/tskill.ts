#!/usr/bin/env node
// tskill: send a signal (default SIGKILL) to containers' PID 1 (docker kill).
import { runCommand } from '../shared/cli.js';
import { forEachContainer } from './common/for-each-container.js';
import { tskillCommand } from './commands/tskill.js';

void runCommand(tskillCommand, async ({ values, positionals }) => {
  const { killContainer } = await import('../runner/lifecycle.js');
  return forEachContainer('tskill', positionals, (ref) => killContainer(ref, values.signal!));
});
