// The files of one pull-through fetch in progress, shared by every process on this machine that
// serves the same storage (the workers): a directory per digest holding
//   lock  created with O_EXCL by the one process that fetches (its pid inside): the leader
//   size  the size the upstream announced ("-1": none), written (temp + rename) once it answered
//   data  the bytes as they arrive; once verified the leader moves it to the blob's key
// The directory goes away when the fetch ends (stored or failed). The others tail `data`.
// A lock whose pid is gone, or whose data stopped growing for STALE_MS, is a dead leader's.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';

/** A fetch whose data did not grow for this long is abandoned (its leader died or hung). */
export const STALE_MS = 30_000;

export class FetchFiles {
  readonly lock: string;
  readonly sizeFile: string;
  readonly data: string;
  constructor(readonly dir: string) {
    this.lock = join(dir, 'lock');
    this.sizeFile = join(dir, 'size');
    this.data = join(dir, 'data');
  }

  /** Takes the lock (true: this process leads the fetch); false when another process holds it. */
  async tryLock(): Promise<boolean> {
    await fsp.mkdir(this.dir, { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fsp.writeFile(this.lock, `${hostname()} ${process.pid}\n`, { flag: 'wx' });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (!(await this.stale())) return false;
        await this.remove(); // a dead leader's: take over
        await fsp.mkdir(this.dir, { recursive: true });
      }
    }
    return false;
  }

  /** Publishes the size the upstream announced (undefined: none). */
  async publishSize(size: number | undefined): Promise<void> {
    const tmp = `${this.sizeFile}.tmp`;
    await fsp.writeFile(tmp, String(size ?? -1));
    await fsp.rename(tmp, this.sizeFile);
  }

  /** The announced size: a number, null (none announced), or undefined (not yet / no fetch). */
  async readSize(): Promise<number | null | undefined> {
    try {
      const n = Number(await fsp.readFile(this.sizeFile, 'utf8'));
      return n < 0 ? null : n;
    } catch {
      return undefined;
    }
  }

  /** Whether the lock is there (a fetch runs, or its leader died without cleaning up). */
  async locked(): Promise<boolean> {
    return await fsp.stat(this.lock).then(
      () => true,
      () => false,
    );
  }

  /** The lock belongs to a process that is gone, or nothing was written for STALE_MS. */
  async stale(): Promise<boolean> {
    let owner: string;
    let changed: number;
    try {
      owner = await fsp.readFile(this.lock, 'utf8');
      const [l, d] = await Promise.all([
        fsp.stat(this.lock),
        fsp.stat(this.data).catch(() => undefined),
      ]);
      changed = Math.max(l.mtimeMs, d?.mtimeMs ?? 0);
    } catch {
      return false; // gone meanwhile: not ours to clean
    }
    const [host, pid] = owner.trim().split(' ');
    if (host === hostname() && pid && !alive(Number(pid))) return true;
    return Date.now() - changed > STALE_MS;
  }

  async remove(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
