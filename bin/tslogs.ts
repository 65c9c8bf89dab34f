#!/usr/bin/env node
// tslogs: print a detached container's logs (docker logs); -f follows until it exits.
import { runCommand } from '../shared/cli.js';
import { errorLine } from '../shared/errors.js';
import { tslogsCommand } from './commands/tslogs.js';

void runCommand(tslogsCommand, async ({ values, positionals }) => {
  const { showLogs } = await import('../runner/lifecycle.js');
  try {
    await showLogs(positionals[0]!, values.follow === true);
    return 0;
  } catch (err) {
    // as docker logs: a container that cannot be read is exit 1, not a usage error
    process.stderr.write(`tslogs: ${errorLine(err)}\n`);
    return 1;
  }
});
