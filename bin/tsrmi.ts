#!/usr/bin/env node
// tsrmi: remove images (docker rmi). Untags each name; an image with no name left is deleted
// and its unshared blobs are freed. -f removes an id with several names, or one a container uses.
import { runCommand, type ParsedFlags } from '../shared/cli.js';
import { errorLine } from '../shared/errors.js';
import { ContentStore } from '../shared/store/content-store.js';
import { removeImage, type InUseCheck } from '../shared/store/remove-image.js';
import { tsrmiCommand } from './commands/tsrmi.js';

/** Which container (if any) uses an image, from the runner's state; none if it is absent. */
async function inUseCheck(store: ContentStore): Promise<InUseCheck> {
  let list: (() => Promise<{ name?: string; id: string; imageId?: string }[]>) | undefined;
  try {
    list = ((await import('../runner/containers.js')) as { listContainers?: typeof list })
      .listContainers;
  } catch {
    list = undefined;
  }
  return async (manifestDigest) => {
    if (!list) return undefined;
    const { loadImage } = await import('../shared/store/image.js');
    const id = (await loadImage(store, manifestDigest)).configDescriptor.digest;
    const user = (await list().catch(() => [])).find((c) => c.imageId === id);
    return user ? (user.name ?? user.id.slice(0, 12)) : undefined;
  };
}

async function main({
  values,
  positionals,
}: ParsedFlags<(typeof tsrmiCommand)['flags']>): Promise<number> {
  const store = await ContentStore.open();
  const inUse = await inUseCheck(store);
  let failed = false;
  for (const ref of positionals) {
    try {
      const res = await removeImage(store, ref, { force: values.force, inUse });
      for (const n of res.untagged) process.stdout.write(`Untagged: ${n}\n`);
      for (const d of res.deleted) process.stdout.write(`Deleted: ${d}\n`);
    } catch (err) {
      process.stderr.write(`tsrmi: ${errorLine(err)}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

void runCommand(tsrmiCommand, main);
