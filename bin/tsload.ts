#!/usr/bin/env node
// tsload: load images from an archive (docker load): a `docker save` tar, an OCI layout tar, or an
// OCI layout directory (-i), or a tar on stdin; gzip is recognised. -t names the image.
import { runCommand, UsageError, type ParsedFlags } from '../shared/cli.js';
import { familiarName, parseReference } from '../shared/reference.js';
import { ContentStore } from '../shared/store/content-store.js';
import { loadImageByDescriptor } from '../shared/store/image.js';
import { importLayout, importLayoutStream } from '../shared/store/layout-io.js';
import { tsloadCommand } from './commands/tsload.js';

async function main({ values }: ParsedFlags<(typeof tsloadCommand)['flags']>): Promise<number> {
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

void runCommand(tsloadCommand, main);
