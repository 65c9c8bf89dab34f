// The store's lock file: mutual exclusion within and across holders, stale locks (dead process,
// not refreshed) broken, a live holder kept alive by its heartbeat, timeouts reported.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { withLock } from '../../shared/store/lock-file.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'store-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('critical sections never overlap', async () => {
  const path = join(dir, 'a.lock');
  let inside = 0;
  let max = 0;
  await Promise.all(
    Array.from({ length: 10 }, () =>
      withLock(path, async () => {
        inside++;
        max = Math.max(max, inside);
        await sleep(3);
        inside--;
      }),
    ),
  );
  assert.equal(max, 1);
  assert.equal(existsSync(path), false);
});

test('a lock of a dead process, or one not refreshed, is broken', async () => {
  const dead = join(dir, 'dead.lock');
  writeFileSync(dead, '999999999 sometoken\n');
  assert.equal(await withLock(dead, async () => 'got it', { timeoutMs: 2000 }), 'got it');
  const old = join(dir, 'old.lock');
  writeFileSync(old, `${process.ppid} othertoken\n`); // a live process, but not refreshed
  const t = (Date.now() - 10_000) / 1000;
  utimesSync(old, t, t);
  assert.equal(
    await withLock(old, async () => 'got it', { staleMs: 5000, timeoutMs: 2000 }),
    'got it',
  );
});

test('a live, refreshed lock is waited for, and times out clearly', async () => {
  const path = join(dir, 'live.lock');
  let release!: () => void;
  const holding = withLock(path, () => new Promise<void>((r) => (release = r)), { staleMs: 200 });
  await waitFor(() => release, 'the first holder to take the lock');
  // Longer than staleMs: the holder's heartbeat keeps it fresh.
  await assert.rejects(
    withLock(path, async () => undefined, { staleMs: 200, timeoutMs: 500 }),
    /timed out waiting for the lock/,
  );
  release();
  await holding;
  assert.equal(await withLock(path, async () => 1, { staleMs: 200 }), 1);
});
