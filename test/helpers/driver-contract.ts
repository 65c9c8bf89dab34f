// The StorageDriver contract, written once and run against every implementation (filesystem
// and in-memory in test/unit/registry-driver-suite, S3 on radosgw in
// test/integration/registry-s3-driver). Each case checks that nothing is left behind afterwards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPathNotFound, type StorageDriver } from '../../registry/storage/driver.js';

export interface DriverFactory {
  name: string;
  make(): Promise<DriverUnderTest> | DriverUnderTest;
}

export interface DriverUnderTest {
  driver: StorageDriver;
  /** Everything the driver still holds (files, incomplete uploads). */
  leftovers(): Promise<string[]> | string[];
  cleanup(): Promise<void> | void;
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsNotFound(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err) => isPathNotFound(err));
}

export function driverContract(f: DriverFactory): void {
  describe(`StorageDriver: ${f.name}`, () => {
    const withDriver = (name: string, fn: (d: StorageDriver) => Promise<void>) =>
      test(name, async () => {
        const { driver, leftovers, cleanup } = await f.make();
        try {
          await fn(driver);
          await driver.delete('/a').catch(() => {});
          assert.deepEqual(await leftovers(), [], 'nothing left behind');
        } finally {
          await cleanup();
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

    withDriver('large files: appends past 5 MiB parts, truncate, move', async (d) => {
      // Sizes around S3's 5 MiB part minimum: object stores must split, copy and resume parts.
      const mib = 1024 * 1024;
      const pattern = (n: number, seed: number): Buffer => {
        const b = Buffer.alloc(n);
        for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
        return b;
      };
      const first = pattern(6 * mib + 17, 1);
      const second = pattern(5 * mib - 3, 2);
      const third = pattern(3 * mib, 3);
      let w = await d.writer('/a/large', { append: false });
      await pipeline(Readable.from([first.subarray(0, mib), first.subarray(mib)]), w.stream);
      await w.commit();
      for (const more of [second, third]) {
        w = await d.writer('/a/large', { append: true });
        await pipeline(Readable.from([more]), w.stream);
        await w.commit();
      }
      const all = Buffer.concat([first, second, third]);
      assert.equal(w.size(), all.length);
      assert.equal((await d.stat('/a/large')).size, all.length);
      assert.ok((await readAll(await d.reader('/a/large'))).equals(all));
      assert.ok(
        (await readAll(await d.reader('/a/large', 6 * mib, 7 * mib))).equals(
          all.subarray(6 * mib, 7 * mib + 1),
        ),
      );
      await d.truncate('/a/large', first.length + second.length);
      assert.ok(
        (await d.getContent('/a/large')).equals(all.subarray(0, first.length + second.length)),
      );
      await d.move('/a/large', '/a/moved/large');
      await rejectsNotFound(d.stat('/a/large'));
      assert.ok(
        (await d.getContent('/a/moved/large')).equals(
          all.subarray(0, first.length + second.length),
        ),
      );
      // A cancelled writer leaves nothing, not even an incomplete upload.
      w = await d.writer('/a/cancelled', { append: false });
      await new Promise<void>((resolve, reject) =>
        w.stream.write(pattern(6 * mib, 4), (e) => (e ? reject(e) : resolve())),
      );
      await w.cancel();
      await rejectsNotFound(d.stat('/a/cancelled'));
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
