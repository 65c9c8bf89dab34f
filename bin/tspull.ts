#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tspull: pull an image from a registry into the local store (docker pull); `--platform` picks
// from multi-arch indexes. Progress on a TTY, plain lines otherwise.
import { pull } from '../shared/client/transfer.js';
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { createProgress } from '../shared/progress.js';
import { familiarRepository, formatReference, parseReference } from '../shared/reference.js';
import { ContentStore } from '../shared/store/content-store.js';

const HELP = `Usage: tspull [OPTIONS] NAME[:TAG|@DIGEST]

Pull an image from a registry.

Options:
      --platform string   os/arch[/variant] to pick from a multi-platform image
      --insecure          Allow plain HTTP and unverified TLS
  -q, --quiet             Suppress progress output
      --progress string   auto, tty, plain or quiet (default auto)
`;

runCli('tspull', async (argv) => {
  const { values, positionals } = parseFlags(argv, {
    platform: { type: 'string' },
    insecure: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    progress: { type: 'string', default: 'auto' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError('tspull requires exactly one image name', "see 'tspull --help'");
  const ref = positionals[0]!;
  const r = parseReference(ref);
  const quiet = values.quiet === true;
  const mode = quiet ? 'quiet' : progressMode(values.progress);
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

function progressMode(v: string | undefined): 'auto' | 'tty' | 'plain' | 'quiet' {
  if (v === 'auto' || v === 'tty' || v === 'plain' || v === 'quiet') return v;
  throw new UsageError(`invalid --progress "${v}"`, 'use auto, tty, plain or quiet');
}
