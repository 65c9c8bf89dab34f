// An inter-process lock as an O_EXCL lock file holding "pid token". The holder refreshes the
// file's mtime while it works; a lock whose process is gone (same host) or whose mtime is older
// than `staleMs` is broken by renaming it aside (atomic: only one breaker wins) and checking that
// what was renamed is the stale lock that was observed.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { TsdockError } from '../errors.js';

export interface LockOptions {
  /** Give up after this long (default 2 min: gc of a big store holds the lock a while). */
  timeoutMs?: number;
  /** A lock not refreshed for this long is stale even if its process looks alive (default 60 s). */
  staleMs?: number;
}

const DEFAULT_STALE_MS = 60_000;

/** Writing a lock file's few bytes never takes this long: an empty one this old is abandoned. */
const EMPTY_LOCK_STALE_MS = 5_000;

interface LockInfo {
  pid: number;
  token: string;
  time: number;
}

/** Runs `fn` while holding the lock at `path`. */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const token = await acquire(path, opts);
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(path, now, now).catch(() => undefined);
  }, staleMs / 4);
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await release(path, token);
  }
}

async function acquire(path: string, opts: LockOptions): Promise<string> {
  const token = randomBytes(12).toString('hex');
  const body = `${process.pid} ${token}\n`;
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let delay = 2;
  for (;;) {
    try {
      await fs.writeFile(path, body, { flag: 'wx' });
      return token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await readLock(path);
    if (held && isStale(held, opts.staleMs ?? DEFAULT_STALE_MS)) {
      await breakLock(path, held);
      continue;
    }
    if (Date.now() > deadline) {
      throw new TsdockError(
        `timed out waiting for the lock ${path}`,
        held ? `held by process ${held.pid}; remove the file if that process is gone` : 'retry',
      );
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
  }
}

async function release(path: string, token: string): Promise<void> {
  const held = await readLock(path);
  if (held?.token === token) await fs.rm(path, { force: true });
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const [pid, token] = text.trim().split(' ');
  const time = (await fs.stat(path).catch(() => undefined))?.mtimeMs ?? Date.now();
  // A lock file being written right now may be empty: its age decides (see isStale).
  if (!token) return { pid: 0, token: '', time };
  return { pid: Number(pid), token, time };
}

function isStale(info: LockInfo, staleMs: number): boolean {
  const age = Date.now() - info.time;
  if (age > staleMs) return true;
  if (!info.pid) return age > Math.min(staleMs, EMPTY_LOCK_STALE_MS);
  if (info.pid === process.pid) return false;
  try {
    process.kill(info.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function breakLock(path: string, stale: LockInfo): Promise<void> {
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await fs.rename(path, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = await readLock(aside);
  if (moved && moved.token !== stale.token) {
    // We moved a fresh lock taken after our check: put it back unless another was taken since.
    await fs.link(aside, path).catch(() => undefined);
  }
  await fs.rm(aside, { force: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
