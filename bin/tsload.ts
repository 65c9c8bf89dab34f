#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tsload: load images from an archive (docker load): a `docker save` tar, an OCI layout tar, or an
// OCI layout directory (-i), or a tar on stdin; gzip is recognised. -t names the image.
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { familiarName, parseReference } from '../shared/reference.js';
import { ContentStore } from '../shared/store/content-store.js';
import { loadImageByDescriptor } from '../shared/store/image.js';
import { importLayout, importLayoutStream } from '../shared/store/layout-io.js';

const HELP = `Usage:  tsload [OPTIONS]

Load images from a tar archive or OCI layout directory (or a tar on STDIN)

Options:
  -i, --input string   Read from this tar archive file or OCI layout directory, instead of STDIN
  -q, --quiet          Suppress the load output
  -t, --tag string     Name the loaded image (the archive must hold one image); repeatable
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    input: { type: 'string', short: 'i' },
    quiet: { type: 'boolean', short: 'q' },
    tag: { type: 'string', short: 't', multiple: true },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}"`, 'use -i FILE');
  const store = await ContentStore.open();
  const opts = { refs: values.tag };
  let images;
  if (values.input !== undefined) images = await importLayout(store, values.input, opts);
  else {
    if (process.stdin.isTTY) {
      throw new UsageError(
        'requested load from stdin, but stdin is empty',
        'pipe a tar in, or use -i FILE',
      );
    }
    images = await importLayoutStream(store, process.stdin, opts);
  }
  if (values.quiet) return 0;
  for (const img of images) {
    if (img.names.length > 0) {
      for (const n of img.names)
        process.stdout.write(`Loaded image: ${familiarName(parseReference(n))}\n`);
    } else {
      const id = await loadImageByDescriptor(store, img.descriptor)
        .then((i) => i.configDescriptor.digest)
        .catch(() => img.descriptor.digest);
      process.stdout.write(`Loaded image ID: ${id}\n`);
    }
  }
  return 0;
}

void runCli('tsload', main);
