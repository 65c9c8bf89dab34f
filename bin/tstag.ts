#!/usr/bin/env node
// tstag: give an image another name (docker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]).
import { runCommand, type ParsedFlags } from '../shared/cli.js';
import { ContentStore } from '../shared/store/content-store.js';
import { tstagCommand } from './commands/tstag.js';

async function main({ positionals }: ParsedFlags<(typeof tstagCommand)['flags']>): Promise<number> {
  const store = await ContentStore.open();
  const desc = await store.resolve(positionals[0]!);
  await store.tag(positionals[1]!, {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
  });
  return 0;
}

void runCommand(tstagCommand, main);
