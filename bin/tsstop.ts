#!/usr/bin/env node
// tsstop: stop containers (docker stop): SIGTERM, then SIGKILL after -t seconds (default 10).
import { runCommand } from '../shared/cli.js';
import { forEachContainer } from './common/for-each-container.js';
import { tsstopCommand } from './commands/tsstop.js';

void runCommand(tsstopCommand, async ({ values, positionals }) => {
  const { stopContainer } = await import('../runner/lifecycle.js');
  const timeout = Number(values.time);
  return forEachContainer('tsstop', positionals, (ref) => stopContainer(ref, timeout));
});
