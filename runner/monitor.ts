// The monitor of a detached container (`tsrun -d`): a small detached Node process that starts
// the container, keeps its logs (docker's json-file lines, size-capped with one rotation),
// serves its published ports, and records the exit status. Run as `node monitor.js <id>`;
// it reports "ok" or "err <message>" on fd 3 so `tsrun -d` can return the id or the error.
import { spawn } from 'node:child_process';
import { closeSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { claimContainer, containerDir, loadState, runtimeDir } from './containers.js';
import { TsdockError } from '../shared/errors.js';

/** Max bytes of container.log before it rotates to container.log.1 (TSDOCK_LOG_MAX). */
export const LOG_MAX = Number(process.env.TSDOCK_LOG_MAX ?? 10 * 1024 * 1024);

/** Appends json lines `{"log","stream","time"}`, rotating when the file exceeds `max`. */
export class LogWriter {
  private fd: number;
  private size: number;

  constructor(
    readonly path: string,
    readonly max = LOG_MAX,
  ) {
    this.fd = openSync(path, 'a');
    this.size = statSync(path).size;
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const line =
      JSON.stringify({ log: chunk.toString('utf8'), stream, time: new Date().toISOString() }) +
      '\n';
    if (this.size + line.length > this.max && this.size > 0) {
      closeSync(this.fd);
      renameSync(this.path, `${this.path}.1`);
      this.fd = openSync(this.path, 'a');
      this.size = 0;
    }
    this.size += writeSync(this.fd, line);
  }

  follow(stream: 'stdout' | 'stderr', source: Readable): Promise<void> {
    return new Promise((resolve) => {
      source.on('data', (c: Buffer) => this.write(stream, c));
      source.on('end', resolve);
      source.on('error', () => resolve());
    });
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Spawns the monitor for a created container and waits until the container runs. */
export async function startDetached(id: string): Promise<void> {
  // '../runner/' resolves to dist/runner/ from this module and from a bundled bin in dist/bin/
  const script = fileURLToPath(new URL('../runner/monitor-main.js', import.meta.url));
  const child = spawn(process.execPath, [script, id], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const report = await new Promise<string>((resolve) => {
    let text = '';
    const pipe = child.stdio[3] as Readable;
    pipe.on('data', (c: Buffer) => (text += c.toString()));
    pipe.on('end', () => resolve(text));
    pipe.on('error', () => resolve(text));
  });
  child.unref();
  (child.stdio[3] as Readable).destroy();
  if (!report.startsWith('ok')) {
    const m = /^err (\d+) (.*)/s.exec(report);
    if (m) throw new TsdockError(m[2]!.trim(), undefined, Number(m[1]));
    throw new TsdockError(
      report.replace(/^err /, '').trim() || 'the container monitor failed to start',
    );
  }
}

/** The monitor process: starts the container, keeps its logs and waits for its exit. */
export async function monitorMain(id: string): Promise<void> {
  const reportFd = 3;
  const say = (msg: string) => {
    try {
      writeSync(reportFd, msg);
      closeSync(reportFd);
    } catch {
      /* tsrun went away */
    }
  };
  for (const sig of ['SIGINT', 'SIGHUP', 'SIGPIPE'] as const) process.on(sig, () => undefined);
  const st = loadState(id);
  if (!st) return say(`err no such container ${id}`);
  claimContainer(id); // the supervisor owns it from here (tsrun -d may go away)
  const logs = new LogWriter(join(containerDir(id), 'container.log'));
  try {
    const { startContainer, waitForPidFile } = await import('./run.js');
    const run = await startContainer(st, ['ignore', 'pipe', 'pipe'], { execStatus: true });
    process.on('SIGTERM', () => run.child.kill('SIGTERM'));
    const outputs = Promise.all([
      logs.follow('stdout', run.child.stdout!),
      logs.follow('stderr', run.child.stderr!),
    ]);
    // report once the command was exec'd (docker -d reports exec failures itself) and PID 1
    // exists, so `tsrun -d ... && tsexec` always finds it
    const status = await run.execStatus();
    if (status.code !== 0) say(`err ${status.code} ${status.message}\n`);
    else {
      await waitForPidFile(join(runtimeDir(id), 'ctr.pid'), run.child).catch(() => undefined);
      say('ok\n');
    }
    const code = await run.wait();
    await outputs;
    void code;
  } catch (err) {
    const { errorLine } = await import('../shared/errors.js');
    say(`err ${errorLine(err)}\n`);
  } finally {
    logs.close();
  }
}
