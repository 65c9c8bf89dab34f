// Request body time limits, so a client cannot hold a connection (and a request) open by
// sending nothing, or a byte now and then: a body that stalls for `idleMs` while the server is
// reading, or that averages under `minRate` bytes/s after an `idleMs` grace, is cut (408, or a
// reset once a reply has started). Time when the server itself is not reading (backpressure:
// the body stream paused or its buffer full) does not count, so slow storage never cuts an
// upload, and a legitimately slow client that keeps sending is never cut however long it takes.
// One shared timer checks every watched body; requests without a body are not watched.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasBody } from './handlers/common.js';

export interface BodyTimeouts {
  idleMs: number;
  /** Bytes per second (0: no minimum). */
  minRate: number;
}

interface Watch {
  req: IncomingMessage;
  res: ServerResponse;
  /** socket.bytesRead when the request started. */
  baseBytes: number;
  lastBytes: number;
  lastProgress: number;
  /** Milliseconds the server was ready to read. */
  active: number;
  lastTick: number;
}

export class BodyWatcher {
  private readonly watches = new Set<Watch>();
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly limits: BodyTimeouts) {}

  /** Starts watching a request's body, if it has one; stops by itself when the body ends. */
  watch(req: IncomingMessage, res: ServerResponse): void {
    if (this.limits.idleMs <= 0 || !hasBody(req) || req.complete) return;
    const now = Date.now();
    const bytes = req.socket.bytesRead;
    const w: Watch = {
      req,
      res,
      baseBytes: bytes,
      lastBytes: bytes,
      lastProgress: now,
      active: 0,
      lastTick: now,
    };
    this.watches.add(w);
    const done = (): void => void this.watches.delete(w);
    // Until the whole body is in, even after a reply (Node keeps reading an unread body).
    req.once('end', done);
    req.once('close', done);
    this.timer ??= setInterval(() => this.check(), Math.min(1000, this.limits.idleMs / 4));
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watches.clear();
  }

  private check(): void {
    const now = Date.now();
    for (const w of this.watches) {
      const { req } = w;
      if (req.complete || req.destroyed) {
        this.watches.delete(w);
        continue;
      }
      const bytes = req.socket.bytesRead;
      const serverBusy =
        req.readableFlowing === false || req.readableLength >= req.readableHighWaterMark;
      if (bytes !== w.lastBytes || serverBusy) {
        w.lastBytes = bytes;
        w.lastProgress = now;
      }
      if (!serverBusy) w.active += now - w.lastTick;
      w.lastTick = now;
      const received = bytes - w.baseBytes;
      const idle = now - w.lastProgress > this.limits.idleMs;
      const slow =
        this.limits.minRate > 0 &&
        w.active > this.limits.idleMs + (received * 1000) / this.limits.minRate;
      if (idle || slow) {
        this.watches.delete(w);
        cut(w, idle ? 'request body stalled' : 'request body too slow');
      }
    }
    if (this.watches.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** 408 with an OCI error body when nothing was sent yet, then the connection is closed. */
function cut(w: Watch, message: string): void {
  const { res, req } = w;
  if (res.headersSent) return void req.socket.destroy();
  const body = JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message }] });
  res.writeHead(408, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body, () => req.socket.destroy());
}
