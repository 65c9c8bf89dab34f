// Sends a file range to an HTTP client through the blobsend helper (registry/native/blobsend.c):
// sendfile(2) straight from the page cache to the client's socket, so a large blob's bytes are
// never copied through JavaScript (on 2 cores shared with the clients, that copy was the
// server's largest cost while serving big layers to many clients). Only for plain TCP
// connections (not TLS, whose bytes must be encrypted here) and ranges of at least NATIVE_MIN
// bytes: starting a helper forks the worker, ~3.5 ms of its CPU at ~100 MB resident (measured),
// more than sending 16 MiB through JavaScript costs (wrk on 16 MiB blobs was 15-25% slower this
// way). Callers fall back to sendFile's buffers otherwise, or when the helper is not built.
// TSDOCK_REGISTRY_SENDFILE=0 turns it off.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** Ranges below this go through JavaScript (see above). */
export const NATIVE_MIN = 64 << 20;

let helperPath: string | null | undefined;

/** How many helpers were started (tests check that a body went this way). */
export const nativeSendStats = { started: 0 };

function helper(): string | null {
  if (helperPath !== undefined) return helperPath;
  const path = fileURLToPath(new URL('../../../../native/blobsend', import.meta.url));
  helperPath = process.env.TSDOCK_REGISTRY_SENDFILE !== '0' && existsSync(path) ? path : null;
  return helperPath;
}

/** A response whose body can go around it, its plain socket and the socket's descriptor. */
export interface NativeTarget {
  res: ServerResponse;
  socket: Socket;
  fd: number;
}

/**
 * The response and its plain socket when `dest` can be sent to natively. A response queued behind
 * the connection's previous one (a keep-alive client that had all that response's bytes, sent
 * by a helper, before the server ended it) gets its socket once that one ends: waited for.
 */
export async function nativeTarget(
  dest: Writable,
  bytes: number,
): Promise<NativeTarget | undefined> {
  if (bytes < NATIVE_MIN || helper() === null) return undefined;
  const res = dest as Partial<ServerResponse> & Writable;
  if (!res.socket && typeof res.assignSocket === 'function' && !res.writableEnded && !res.destroyed)
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('socket', done);
        res.off('close', done);
        resolve();
      };
      res.once('socket', done);
      res.once('close', done);
    });
  const socket = res.socket;
  if (!(socket instanceof Socket) || 'encrypted' in socket || socket.destroyed) return undefined;
  if (typeof res.flushHeaders !== 'function') return undefined;
  const fd = socketFd(socket);
  return fd === undefined ? undefined : { res: res as ServerResponse, socket, fd };
}

/** The descriptor under a connected TCP socket (libuv's handle exposes it on Unix). */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function closedEarly(): Error {
  return Object.assign(new Error('destination closed early'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}

/** Until the status line and headers (and anything written before) are in the kernel. */
async function flushed(res: ServerResponse, socket: Socket): Promise<void> {
  if (!res.headersSent) res.flushHeaders();
  // the response may have corked the socket until the next tick
  await new Promise((r) => setImmediate(r));
  while (socket.writableLength > 0) {
    if (socket.destroyed) throw closedEarly();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.once('drain', done);
      socket.once('close', done);
    });
  }
  if (socket.destroyed) throw closedEarly();
}

/**
 * Sends bytes `start..end` (inclusive) of the open file to the response's socket with the
 * helper, after the response's headers; the response itself is left open (its body bytes went
 * around it: the caller ends it, or sends more). With `follow`, the file is still growing: the
 * helper waits for the bytes to arrive, until they do or `stop` aborts. Rejects when the client
 * goes away (ERR_STREAM_PREMATURE_CLOSE) or the file ends early.
 */
export async function sendNative(
  handle: FileHandle,
  target: NativeTarget,
  start: number,
  end: number,
  opts: { follow?: boolean; stop?: AbortSignal } = {},
): Promise<void> {
  const { res, socket, fd } = target;
  await flushed(res, socket);
  const args = [String(start), String(end), ...(opts.follow ? ['follow'] : [])];
  // The socket's fd as a number: given the Socket itself, spawn() would stop reading from it
  // for good (it hands a stream over to the child), and the connection's next request would
  // never be read.
  const child = spawn(helper()!, args, { stdio: [handle.fd, fd, 'pipe'] });
  nativeSendStats.started++;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  res.once('close', kill);
  opts.stop?.addEventListener('abort', kill);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
      (resolve, reject) => {
        child.once('error', reject);
        child.once('close', (c, s) => resolve([c, s]));
      },
    );
    if (code === 0) return;
    if (code === 3 || socket.destroyed) throw closedEarly();
    if (opts.stop?.aborted) throw opts.stop.reason as Error;
    if (code === 4) throw new Error(`file ended before byte ${end}`);
    throw new Error(`blobsend failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`);
  } finally {
    res.off('close', kill);
    opts.stop?.removeEventListener('abort', kill);
  }
}
