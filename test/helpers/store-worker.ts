// A separate process acting on a content store, for the store's crash and concurrency tests:
//   node store-worker.js ROOT write FILE [DIGEST]    write FILE's bytes as a blob, print {digest,size}
//   node store-worker.js ROOT write-stall DIGEST     write 1 MiB toward DIGEST, then hang (to be killed)
//   node store-worker.js ROOT tag MANIFEST_DIGEST PREFIX N   tag PREFIX-0..N-1 -> the manifest
//   node store-worker.js ROOT hold-lock              take the index lock, print "locked", hang
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { toDigest } from '../../shared/digest.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { withIndexLock } from '../../shared/store/index-file.js';

const [root, mode, ...args] = process.argv.slice(2);
const store = await ContentStore.open(root);
const hang = (): Promise<never> => new Promise(() => setInterval(() => undefined, 1000));

if (mode === 'write') {
  const res = await store.writeBlob(createReadStream(args[0]!), args[1] ? { digest: args[1] } : {});
  process.stdout.write(`${JSON.stringify(res)}\n`);
} else if (mode === 'write-stall') {
  let sent = false;
  const source = new Readable({
    read() {
      if (sent) return; // never ends
      sent = true;
      this.push(Buffer.alloc(1 << 20, 1));
      process.stdout.write('writing\n');
    },
  });
  await store.writeBlob(source, { digest: toDigest(args[0]!) });
} else if (mode === 'tag') {
  const digest = toDigest(args[0]!);
  const size = (await store.statBlob(digest))!;
  for (let i = 0; i < Number(args[2]); i++) {
    await store.tag(`${args[1]}-${i}`, {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest,
      size,
    });
  }
  process.stdout.write('done\n');
} else if (mode === 'hold-lock') {
  await withIndexLock(store.paths, async () => {
    process.stdout.write('locked\n');
    await hang();
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
