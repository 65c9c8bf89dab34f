#!/usr/bin/env node
// tscommit: create a new image from a container's changes (docker commit CONTAINER REF).
// Flags: -m/--message MSG, -a/--author NAME, -p/--pause (default true; --pause=false lets the
// container run while its files are read).
import { commitContainer } from '../runner/commit.js';
import { runCommand } from '../shared/cli.js';
import { tscommitCommand } from './commands/tscommit.js';

void runCommand(tscommitCommand, async ({ values, positionals }) => {
  let skipped = 0;
  const res = await commitContainer(positionals[0]!, positionals[1]!, {
    message: values.message,
    author: values.author,
    pause: values.pause,
    onSkip: () => skipped++,
  });
  if (skipped) {
    process.stderr.write(
      `tscommit: ${skipped} file(s) changed while being read and were left out (commit with --pause, the default, for a consistent image)\n`,
    );
  }
  console.log(res.id);
});
