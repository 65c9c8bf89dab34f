// The worker thread of ./thread-hash.ts: one hash per download id, fed 1 MiB batches that go
// back to the main thread's pool once hashed.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { ThreadHashMessage, ThreadHashReply } from './thread-hash.js';

const hashes = new Map<number, Hash>();
const reply = (m: ThreadHashReply, transfer: ArrayBuffer[] = []): void =>
  parentPort!.postMessage(m, transfer);

parentPort?.on('message', (m: ThreadHashMessage) => {
  try {
    if (m.kind === 'start') hashes.set(m.id, createHash(m.algorithm));
    else if (m.kind === 'data') {
      hashes.get(m.id)?.update(new Uint8Array(m.buf, 0, m.length));
      reply({ kind: 'buffer', buf: m.buf }, [m.buf]);
    } else if (m.kind === 'final') {
      const h = hashes.get(m.id);
      hashes.delete(m.id);
      if (!h) throw new Error(`no hash ${m.id}`);
      reply({ kind: 'digest', id: m.id, hex: h.digest('hex') });
    } else hashes.delete(m.id);
  } catch (err) {
    reply({ kind: 'error', id: m.id, message: (err as Error).message });
  }
});
