// Client for the native `fsops` helper (shared/native/fsops.c): mknod, setxattr and listxattr,
// which Node lacks. One helper process serves a whole layer; commands are pipelined and answered
// in order. Paths are relative to the root given at start and are walked without following any
// symlink. Start it lazily: most layers never need it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { nativeBinary } from '../native.js';
import { TsdockError } from '../errors.js';

interface Pending {
  resolve: (line: string) => void;
  reject: (err: Error) => void;
  what: string;
}

/** An errno-carrying failure of one fsops command. */
export class FsOpsError extends TsdockError {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

export class FsOps {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Pending[] = [];
  private buffered = '';
  private failure: Error | undefined;
  private stderr = '';

  constructor(readonly root: string) {
    this.child = spawn(nativeBinary('fsops'), [root], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (s: string) => this.onData(s));
    this.child.stderr.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.child.stdin.on('error', () => {}); // reported through 'close'
    this.child.on('error', (err) => this.fail(err));
    this.setRef(false);
    this.child.on('close', (code) => {
      const msg = this.stderr.trim() || `exited with code ${code}`;
      this.fail(new TsdockError(`fsops helper stopped: ${msg}`));
    });
  }

  /** Creates a device node or FIFO (type 'c', 'b' or 'p'); mode is exact (umask 0). */
  async mknod(
    path: string,
    type: 'c' | 'b' | 'p',
    major: number,
    minor: number,
    mode: number,
  ): Promise<void> {
    const args = [path, type, String(major), String(minor), (mode & 0o7777).toString(8)];
    await this.call('mknod', args);
  }

  /** Sets an xattr on path itself (a symlink is not followed). */
  async setXattr(path: string, name: string, value: Buffer): Promise<void> {
    await this.call('setxattr', [path, name, value.toString('hex')]);
  }

  /** All xattrs of path itself, name -> raw value. */
  async listXattrs(path: string): Promise<Map<string, Buffer>> {
    const line = await this.call('listxattr', [path]);
    const out = new Map<string, Buffer>();
    for (const pair of line.split(' ').slice(1)) {
      const [name, value] = pair.split('=') as [string, string];
      out.set(Buffer.from(name, 'hex').toString('utf8'), Buffer.from(value ?? '', 'hex'));
    }
    return out;
  }

  /** Ends the helper and waits for it to exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.setRef(true); // keep the process alive until the helper has exited
    this.child.stdin.end();
    await done;
  }

  private call(cmd: string, args: string[]): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    for (const a of args) {
      if (a.includes('\0')) return Promise.reject(new TsdockError('NUL byte in a path or name'));
    }
    const what = `${cmd} ${args[0]}`;
    return new Promise<string>((resolve, reject) => {
      if (this.pending.length === 0) this.setRef(true);
      this.pending.push({ resolve, reject, what });
      this.child.stdin.write([cmd, ...args].map((f) => `${f}\0`).join(''));
    });
  }

  private onData(s: string): void {
    this.buffered += s;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const p = this.pending.shift();
      if (!p) continue;
      if (line === 'ok' || line.startsWith('ok ')) p.resolve(line);
      else {
        const m = /^err (\d+) (.*)$/.exec(line);
        const errno = m ? Number(m[1]) : -1;
        p.reject(new FsOpsError(errno, `${p.what}: ${m ? m[2] : line}`));
      }
    }
    if (this.pending.length === 0) this.setRef(false);
  }

  /** An idle helper must not keep the process alive; a busy one must. */
  private setRef(on: boolean): void {
    for (const h of [this.child, this.child.stdout, this.child.stderr, this.child.stdin]) {
      const r = h as unknown as { ref?: () => void; unref?: () => void };
      if (on) r.ref?.();
      else r.unref?.();
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }
}

/** errno values the callers test for. */
export const Errno = { ENOENT: 2, EPERM: 1, ENOTSUP: 95, ELOOP: 40, ENOTDIR: 20 } as const;
