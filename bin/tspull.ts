#!/usr/bin/env node
// tspull: pull an image from a registry into the local store (docker pull); `--platform` picks
// from multi-arch indexes. Progress on a TTY, plain lines otherwise.
import { pull } from '../shared/client/transfer.js';
import { runCommand } from '../shared/cli.js';
import { createProgress } from '../shared/progress.js';
import { familiarRepository, formatReference, parseReference } from '../shared/reference.js';
import { ContentStore } from '../shared/store/content-store.js';
import { tspullCommand } from './commands/tspull.js';

void runCommand(tspullCommand, async ({ values, positionals }) => {
  const ref = positionals[0]!;
  const r = parseReference(ref);
  const quiet = values.quiet === true;
  const mode = quiet ? 'quiet' : (values.progress as 'auto' | 'tty' | 'plain' | 'quiet');
  const store = await ContentStore.open();
  if (!quiet) process.stdout.write(`${r.tag ?? r.digest}: Pulling from ${familiarRepository(r)}\n`);
  const progress = createProgress(process.stdout, { mode });
  const result = await pull(store, ref, {
    ...(mode === 'quiet' ? {} : { progress }),
    ...(values.platform ? { platform: values.platform } : {}),
    ...(values.insecure ? { insecure: true } : {}),
  }).finally(() => progress.end());
  const full = formatReference(r);
  if (!quiet) {
    if (result.servedBy && result.servedBy !== r.registry)
      process.stdout.write(`Pulled through mirror ${result.servedBy}\n`);
    process.stdout.write(`Digest: ${result.digest}\n`);
    const status = result.downloaded > 0 ? 'Downloaded newer image for' : 'Image is up to date for';
    process.stdout.write(`Status: ${status} ${full}\n`);
  }
  process.stdout.write(`${full}\n`);
  return 0;
});
