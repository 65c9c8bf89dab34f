// Pull-through fetches on a storage driver other than the filesystem (the in-memory driver
// here, S3 in production): the fetch's files live in a directory of this process, the verified
// bytes are copied into the driver and moved to the blob's key, and two clients asking at once
// share one upstream fetch and get the whole blob; nothing is left in the local directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import pino from 'pino';
import { Metrics } from '../../registry/metrics.js';
import { openMetadataStore } from '../../registry/metadata/open.js';
import { ProxyService } from '../../registry/proxy/service.js';
import type { Upstream } from '../../registry/proxy/upstream.js';
import { Registry } from '../../registry/services/registry.js';
import { InMemoryDriver } from '../../registry/storage/drivers/inmemory/inmemory-driver.js';
import { sha256 } from '../helpers/registry-server.js';
import { writeStreamToFd } from '../../shared/client/file-download.js';

test('a fetch on the in-memory driver is shared, stored and linked, and leaves nothing behind', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsreg-proxymem-'));
  const meta = await openMetadataStore(root, undefined);
  const registry = new Registry({ driver: new InMemoryDriver(), meta });
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const digest = sha256(data);
  let fetches = 0;
  const upstream: Upstream = {
    url: 'http://upstream.invalid',
    blobToFile: async (_repo, _digest, fd, events) => {
      fetches++;
      await events.onSize(data.length);
      const chunks = Array.from({ length: 50 }, (_, i) =>
        data.subarray((i * data.length) / 50, ((i + 1) * data.length) / 50),
      );
      return writeStreamToFd(Readable.from(chunks), fd, events.onWritten);
    },
    manifest: () => Promise.reject(new Error('not used')),
    manifestDigest: () => Promise.reject(new Error('not used')),
    blobSize: () => Promise.reject(new Error('not used')),
    tags: () => Promise.reject(new Error('not used')),
  };
  const proxy = new ProxyService(
    registry,
    {
      maxsize: 0,
      upstreams: [
        {
          prefix: 'up',
          remoteurl: upstream.url,
          ttl: 60,
          tls: { insecureskipverify: false },
          local: [],
        },
      ],
    },
    pino({ level: 'silent' }),
    new Metrics(),
    undefined,
    () => upstream,
  );
  try {
    const target = proxy.resolve('up/library/x')!;
    const pull = async (): Promise<string> => {
      const opened = (await proxy.blobs.open(target, digest))!;
      assert.equal(opened.size, data.length);
      const sink = new PassThrough();
      const hash = createHash('sha256');
      sink.on('data', (c: Buffer) => hash.update(c));
      await opened.sendTo(sink);
      await opened.done;
      return `sha256:${hash.digest('hex')}`;
    };
    assert.deepEqual(await Promise.all([pull(), pull()]), [digest, digest]);
    assert.equal(fetches, 1, 'one upstream fetch for both');
    assert.equal(await registry.blobs.size(digest, { fresh: true }), data.length);
    assert.ok(await meta.hasLink('up/library/x', digest));
    const local = join(tmpdir(), `tsregistry-proxy-${process.pid}`);
    assert.deepEqual(existsSync(local) ? readdirSync(local) : [], []);
  } finally {
    await proxy.idle();
    await registry.close();
    rmSync(root, { recursive: true, force: true });
  }
});
