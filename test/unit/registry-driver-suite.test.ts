// The StorageDriver contract, written once and run against every implementation (filesystem,
// in-memory). Each case checks that nothing is left behind afterwards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPathNotFound, type StorageDriver } from '../../registry/storage/driver.js';
import { FilesystemDriver } from '../../registry/storage/drivers/filesystem/filesystem-driver.js';
import { InMemoryDriver } from '../../registry/storage/drivers/inmemory/inmemory-driver.js';

interface Factory {
  name: string;
  make(): { driver: StorageDriver; leftovers(): string[]; cleanup(): void };
}

const factories: Factory[] = [
  {
    name: 'filesystem',
    make() {
      const root = mkdtempSync(join(tmpdir(), 'tsreg-drv-'));
      const walk = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
        );
      return {
        driver: new FilesystemDriver(root),
        leftovers: () => walk(root),
        cleanup: () => rmSync(root, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'inmemory',
    make() {
      const driver = new InMemoryDriver();
      return {
        driver,
        leftovers: () => {
          const out: string[] = [];
          void driver.walk('/', (i) => void out.push(i.path));
          return out;
        },
        cleanup: () => {},
      };
    },
  },
];

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsNotFound(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err) => isPathNotFound(err));
}

for (const f of factories) {
  describe(`StorageDriver: ${f.name}`, () => {
    const withDriver = (name: string, fn: (d: StorageDriver) => Promise<void>) =>
      test(name, async () => {
        const { driver, leftovers, cleanup } = f.make();
        try {
          await fn(driver);
          await driver.delete('/a').catch(() => {});
          assert.deepEqual(leftovers(), [], 'nothing left behind');
        } finally {
          cleanup();
        }
      });

    withDriver('putContent/getContent/stat/delete', async (d) => {
      await d.putContent('/a/b/c', Buffer.from('hello'));
      assert.equal((await d.getContent('/a/b/c')).toString(), 'hello');
      const info = await d.stat('/a/b/c');
      assert.equal(info.size, 5);
      assert.equal(info.isDir, false);
      assert.equal((await d.stat('/a/b')).isDir, true);
      await d.putContent('/a/b/c', Buffer.from('bye'));
      assert.equal((await d.getContent('/a/b/c')).toString(), 'bye');
      await d.delete('/a/b/c');
      await rejectsNotFound(d.getContent('/a/b/c'));
      await rejectsNotFound(d.stat('/a/zz'));
      await rejectsNotFound(d.delete('/a/zz'));
    });

    withDriver('reader with offset and end', async (d) => {
      await d.putContent('/a/r', Buffer.from('0123456789'));
      assert.equal((await readAll(await d.reader('/a/r', 3))).toString(), '3456789');
      assert.equal((await readAll(await d.reader('/a/r', 2, 4))).toString(), '234');
      await rejectsNotFound(d.reader('/a/missing'));
    });

    withDriver('writer appends, truncates, commits, cancels', async (d) => {
      let w = await d.writer('/a/w', { append: false });
      await pipeline(Readable.from([Buffer.from('abc')]), w.stream);
      await w.commit();
      assert.equal(w.size(), 3);
      w = await d.writer('/a/w', { append: true });
      await pipeline(Readable.from([Buffer.from('def')]), w.stream);
      await w.commit();
      assert.equal(w.size(), 6);
      assert.equal((await d.getContent('/a/w')).toString(), 'abcdef');
      await d.truncate('/a/w', 2);
      assert.equal((await d.getContent('/a/w')).toString(), 'ab');
      const c = await d.writer('/a/x', { append: false });
      await c.cancel();
      await rejectsNotFound(d.stat('/a/x'));
    });

    withDriver('list, move, walk', async (d) => {
      await d.putContent('/a/d/1', Buffer.from('1'));
      await d.putContent('/a/d/2', Buffer.from('22'));
      await d.putContent('/a/d/sub/3', Buffer.from('333'));
      assert.deepEqual((await d.list('/a/d')).sort(), ['/a/d/1', '/a/d/2', '/a/d/sub']);
      await d.move('/a/d/1', '/a/e/moved');
      await rejectsNotFound(d.stat('/a/d/1'));
      assert.equal((await d.getContent('/a/e/moved')).toString(), '1');
      const seen: string[] = [];
      await d.walk('/a', (i) => void seen.push(`${i.path}:${i.size}`));
      assert.deepEqual(seen.sort(), ['/a/d/2:2', '/a/d/sub/3:3', '/a/e/moved:1']);
      await rejectsNotFound(d.list('/a/none'));
      await rejectsNotFound(d.move('/a/none', '/a/x'));
      await d.delete('/a');
      await rejectsNotFound(d.stat('/a/d/2'));
    });
  });
}
