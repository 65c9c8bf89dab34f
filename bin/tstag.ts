#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tstag: give an image another name (docker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]).
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { ContentStore } from '../shared/store/content-store.js';

const HELP = `Usage:  tstag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]

Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { help: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError(
      '"tstag" requires exactly 2 arguments',
      'usage: tstag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
    );
  }
  const store = await ContentStore.open();
  const desc = await store.resolve(positionals[0]!);
  await store.tag(positionals[1]!, {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
  });
  return 0;
}

void runCli('tstag', main);
