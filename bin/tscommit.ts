#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tscommit: create a new image from a container's changes (docker commit CONTAINER REF).
// Flags: -m/--message MSG, -a/--author NAME, -p/--pause (default true; --pause=false lets the
// container run while its files are read).
import { commitContainer } from '../runner/commit.js';
import { InvalidInputError } from '../shared/errors.js';
import { parseFlags, runCli } from '../shared/cli.js';

const USAGE = 'usage: tscommit [-m MSG] [-a AUTHOR] [--pause=false] CONTAINER REF';

void runCli('tscommit', async (args) => {
  const { values, positionals } = parseFlags(args, {
    message: { type: 'string', short: 'm' },
    author: { type: 'string', short: 'a' },
    pause: { type: 'boolean', short: 'p', default: true },
  });
  if (positionals.length !== 2)
    throw new InvalidInputError('tscommit needs a container and a reference', USAGE);
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
