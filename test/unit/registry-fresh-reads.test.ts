// FreshReads (registry/metadata/postgres/fresh-reads.ts): concurrent reads of one key share a
// query, but no caller is answered by a query that began before it asked. The reads here are
// controlled by hand: each records the value current when it began, and resolves when told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FreshReads } from '../../registry/metadata/postgres/fresh-reads.js';

function controlled() {
  let value = 0;
  const started: Array<{ key: string; saw: number; finish: (err?: Error) => void }> = [];
  const reads = new FreshReads<number>(
    (key) =>
      new Promise<number>((resolve, reject) => {
        const saw = value;
        started.push({ key, saw, finish: (err) => (err ? reject(err) : resolve(saw)) });
      }),
  );
  const tick = () => new Promise((r) => setImmediate(r));
  return { reads, started, tick, write: (v: number) => (value = v) };
}

test('a caller arriving during a read waits for the next one, which later callers share', async () => {
  const { reads, started, tick, write } = controlled();
  const first = reads.get('k');
  await tick();
  assert.equal(started.length, 1);
  // A write is acknowledged elsewhere; then two more callers ask while the first read runs.
  write(1);
  const [second, third] = [reads.get('k'), reads.get('k')];
  await tick();
  assert.equal(started.length, 1, 'no second query while the first is in flight');
  started[0]!.finish();
  assert.equal(await first, 0);
  await tick();
  assert.equal(started.length, 2, 'one more query for both waiting callers');
  started[1]!.finish();
  assert.deepEqual(await Promise.all([second, third]), [1, 1], 'they see the write');
  // Nothing in flight: the next caller starts its own read at once.
  const fourth = reads.get('k');
  await tick();
  assert.equal(started.length, 3);
  started[2]!.finish();
  assert.equal(await fourth, 1);
});

test('keys do not share reads, and a failed read fails only its own callers', async () => {
  const { reads, started, tick } = controlled();
  const [a, b] = [reads.get('a'), reads.get('b')];
  await tick();
  assert.deepEqual(
    started.map((s) => s.key),
    ['a', 'b'],
  );
  const waiting = reads.get('a');
  started[0]!.finish(new Error('database down'));
  await assert.rejects(a, /database down/);
  await tick();
  assert.equal(started.length, 3, 'the waiting caller gets a read of its own');
  started[2]!.finish();
  started[1]!.finish();
  assert.equal(await waiting, 0);
  assert.equal(await b, 0);
});
