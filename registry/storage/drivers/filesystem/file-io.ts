// Bulk file I/O for blob bodies, tuned for the 2-core machines the registry runs on:
//   - sendFile: a file range to a socket from a small pool of reused 1 MiB buffers. A plain
//     fs read stream allocates a fresh buffer per read, and 256 MiB of short-lived external
//     memory makes V8 run a full mark-compact every ~30 MiB (measured: GC was ~40% of the
//     server's CPU during a pull). Here one buffer is read while the previous one is written.
//     Large ranges to a plain HTTP socket skip JavaScript entirely: ./native-send.ts.
// It keeps memory constant: at most two buffers. Uploads are written by shared/write-all.ts's
// FileSink (1 MiB writev batches on the thread pool).
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { nativeTarget, sendNative } from './native-send.js';

const CHUNK = 1 << 20;
const POOL_MAX = 8;
const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

function giveBuffer(b: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(b);
}

/**
 * Writes bytes `start..end` (inclusive) of the open file to `dest` without ending it; resolves
 * once every byte has been read and handed to `dest`. A buffer goes back to the pool only when
 * its write has completed. Rejects if `dest` fails or closes early, or the file is shorter.
 */
export async function sendFile(
  handle: FileHandle,
  dest: Writable,
  start: number,
  end: number,
): Promise<void> {
  const target = await nativeTarget(dest, end + 1 - start);
  if (target) return sendNative(handle, target, start, end);
  let failed: Error | undefined;
  let inflight = 0;
  let wake: (() => void) | undefined;
  const onClose = (): void => {
    failed ??= Object.assign(new Error('destination closed early'), {
      code: 'ERR_STREAM_PREMATURE_CLOSE',
    });
    wake?.();
  };
  dest.once('close', onClose);
  try {
    for (let pos = start; pos <= end;) {
      if (failed) throw failed;
      const buf = takeBuffer();
      const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, end + 1 - pos), pos);
      if (bytesRead === 0) {
        giveBuffer(buf);
        throw new Error(`file ended at ${pos}, expected ${end + 1} bytes`);
      }
      pos += bytesRead;
      inflight++;
      dest.write(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead), (err) => {
        inflight--;
        if (err) failed ??= err;
        else giveBuffer(buf);
        wake?.();
      });
      // One buffer on the wire while the next one is read: wait for the older write.
      while (inflight > 1 && !failed) await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (failed) throw failed;
  } finally {
    dest.off('close', onClose);
  }
}
