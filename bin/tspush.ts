#!/usr/bin/env node
// tspush: push an image from the local store to a registry (docker push), optionally under
// another name (`tspush LOCAL REMOTE`). Progress on a TTY, plain lines otherwise.
import { push } from '../shared/client/transfer.js';
import { runCommand } from '../shared/cli.js';
import { createProgress } from '../shared/progress.js';
import { formatName, formatReference, parseReference } from '../shared/reference.js';
import { ContentStore } from '../shared/store/content-store.js';
import { tspushCommand } from './commands/tspush.js';

void runCommand(tspushCommand, async ({ values, positionals }) => {
  const [source, target] = positionals as [string, string | undefined];
  const dest = parseReference(target ?? source);
  const mode = values.quiet ? 'quiet' : (values.progress as 'auto' | 'tty' | 'plain' | 'quiet');
  const store = await ContentStore.open();
  // docker push -q prints only the pushed reference
  if (mode !== 'quiet')
    process.stdout.write(`The push refers to repository [${formatName(dest)}]\n`);
  const progress = createProgress(process.stdout, { mode });
  const result = await push(store, source, {
    ...(mode === 'quiet' ? {} : { progress }),
    ...(target ? { target } : {}),
    ...(values.insecure ? { insecure: true } : {}),
  }).finally(() => progress.end());
  if (mode === 'quiet') process.stdout.write(`${formatReference(dest)}\n`);
  else process.stdout.write(`${result.ref}: digest: ${result.digest} size: ${result.size}\n`);
  return 0;
});
