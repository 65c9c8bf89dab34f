// The StorageDriver contract, written once and run against every implementation (filesystem,
// in-memory). Each case checks that nothing is left behind afterwards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
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

    withDriver('writer: many chunks across batch boundaries, append, size', async (d) => {
      // 64 KiB and odd-sized chunks, > 2 MiB in all: exercises the filesystem driver's batches.
      const chunks = Array.from({ length: 40 }, (_, i) =>
        Buffer.alloc(i % 3 === 0 ? 65_536 : 1000 + i * 7919, i),
      );
      const all = Buffer.concat(chunks);
      let w = await d.writer('/a/big', { append: false });
      await pipeline(Readable.from(chunks.slice(0, 25)), w.stream);
      await w.commit();
      w = await d.writer('/a/big', { append: true });
      await pipeline(Readable.from(chunks.slice(25)), w.stream);
      await w.commit();
      assert.equal(w.size(), all.length);
      assert.ok((await d.getContent('/a/big')).equals(all));
      // An interrupted body leaves only what was written before the failure started.
      w = await d.writer('/a/big', { append: true });
      const broken = new Readable({
        read() {
          this.push(Buffer.alloc(10));
          this.destroy(new Error('cut'));
        },
      });
      await assert.rejects(pipeline(broken, w.stream));
      await w.commit().catch(() => {});
      await d.truncate('/a/big', all.length);
      assert.ok((await d.getContent('/a/big')).equals(all));
    });

    withDriver('send: ranges, missing path, early close', async (d) => {
      if (!d.send) return;
      const data = Buffer.alloc(3 * 1024 * 1024 + 123);
      for (let i = 0; i + 4 <= data.length; i += 4) data.writeUInt32LE(i, i);
      await d.putContent('/a/s', data);
      const collect = async (start: number, end: number): Promise<Buffer> => {
        const parts: Buffer[] = [];
        const dest = new Writable({
          write(chunk: Buffer, _enc, cb) {
            parts.push(Buffer.from(chunk)); // the driver reuses its buffers after the callback
            setImmediate(cb);
          },
        });
        await d.send!('/a/s', dest, start, end);
        return Buffer.concat(parts);
      };
      assert.ok((await collect(0, data.length - 1)).equals(data));
      assert.ok((await collect(5, 1_500_000)).equals(data.subarray(5, 1_500_001)));
      assert.ok((await collect(data.length - 1, data.length - 1)).equals(data.subarray(-1)));
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      await rejectsNotFound(d.send('/a/missing', sink, 0, 10));
      const closing = new Writable({
        write(_c, _e, cb) {
          this.destroy();
          cb();
        },
      });
      await assert.rejects(d.send('/a/s', closing, 0, data.length - 1));
      await assert.rejects(d.send('/a/s', sink, 0, data.length + 10), /file ended/);
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
