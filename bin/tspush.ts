#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tspush: push an image from the local store to a registry (docker push), optionally under
// another name (`tspush LOCAL REMOTE`). Progress on a TTY, plain lines otherwise.
import { push } from '../shared/client/transfer.js';
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { createProgress } from '../shared/progress.js';
import { formatName, formatReference, parseReference } from '../shared/reference.js';
import { ContentStore } from '../shared/store/content-store.js';

const HELP = `Usage: tspush [OPTIONS] NAME[:TAG] [TARGET[:TAG]]

Push an image to a registry (to TARGET if given).

Options:
      --insecure          Allow plain HTTP and unverified TLS
  -q, --quiet             Suppress progress output
      --progress string   auto, tty, plain or quiet (default auto)
`;

runCli('tspush', async (argv) => {
  const { values, positionals } = parseFlags(argv, {
    insecure: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    progress: { type: 'string', default: 'auto' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError(
      'tspush requires an image name (and optionally a target name)',
      "see 'tspush --help'",
    );
  }
  const [source, target] = positionals as [string, string | undefined];
  const dest = parseReference(target ?? source);
  const mode = values.quiet ? 'quiet' : progressMode(values.progress);
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

function progressMode(v: string | undefined): 'auto' | 'tty' | 'plain' | 'quiet' {
  if (v === 'auto' || v === 'tty' || v === 'plain' || v === 'quiet') return v;
  throw new UsageError(`invalid --progress "${v}"`, 'use auto, tty, plain or quiet');
}
