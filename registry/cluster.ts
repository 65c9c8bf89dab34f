// Several worker processes on one listening socket (node:cluster): the primary forks
// `http.workers` workers, each a whole registry server (server.ts) on the shared socket, and
// supervises them: a worker that dies is started again after a backoff that grows while workers
// keep crashing; SIGTERM/SIGINT drain every worker (each finishes its in-flight requests) and
// exit 0. A worker that fails before it listens on the first start (wrong DSN, port taken) has
// already printed its one-line error: the primary stops the others and exits with its status.
// LevelDB opens in one process only, so more than one worker needs `metadata.postgres`.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { UsageError } from '../shared/cli.js';
import type { RegistryConfig } from './config.js';

/** The env var telling a worker its slot (0..N-1); slot 0 runs the background maintenance. */
export const WORKER_SLOT_ENV = 'TSREGISTRY_WORKER_SLOT';
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** A worker that stayed up this long resets the backoff. */
const STABLE_MS = 10_000;

/**
 * How many workers to run: `--workers`, else `http.workers`, else every CPU with PostgreSQL
 * metadata and 1 with the embedded LevelDB (which one process opens at a time).
 */
export function workerCount(config: RegistryConfig, flag?: string): number {
  const given = flag ?? config.http.workers;
  const shared = !!config.metadata?.postgres;
  if (given === undefined) return shared ? availableParallelism() : 1;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`invalid worker count "${String(given)}"`, 'give a whole number >= 1');
  if (n > 1 && !shared)
    throw new UsageError(
      `${n} workers need metadata.postgres: the embedded LevelDB opens in one process only`,
      'set http.workers: 1 (or --workers 1), or configure metadata.postgres',
    );
  return n;
}

/** True in a worker process forked by runPrimary. */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/** Whether this process runs the background maintenance (GC schedule, upload purging). */
export function runsMaintenance(): boolean {
  return !cluster.isWorker || process.env[WORKER_SLOT_ENV] === '0';
}

/** The primary: forks `count` workers, restarts crashed ones, drains all on SIGTERM. */
export async function runPrimary(count: number): Promise<number> {
  // Workers accept on the shared socket themselves (the kernel spreads connections). With the
  // default round-robin the primary accepts and hands each connection over: one more hop, and
  // a connection handed to a worker that dies before taking it stays open with nobody serving
  // it (clients hung until their own timeout, 300 s for fetch, in the kill -9 test).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  let startedUp = 0;
  let failed: number | undefined;
  const slots = new Map<Worker, { slot: number; since: number }>();
  const backoff = new Map<number, number>();
  const fork = (slot: number): void => {
    const w = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    slots.set(w, { slot, since: Date.now() });
    w.once('listening', () => startedUp++);
  };
  return await new Promise<number>((resolve) => {
    const finish = (): void => {
      if (slots.size === 0) resolve(failed ?? 0);
    };
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      for (const w of slots.keys()) w.process.kill(signal);
      finish();
    };
    cluster.on('exit', (w, code, signal) => {
      const info = slots.get(w);
      slots.delete(w);
      if (!info) return;
      if (!stopping && startedUp < count) {
        // Failed during the first start: its error is on stderr; stop the rest.
        failed = code || 1;
        stop('SIGTERM');
        return;
      }
      if (stopping) return finish();
      const up = Date.now() - info.since;
      const last = backoff.get(info.slot) ?? 0;
      const delay =
        up > STABLE_MS
          ? FIRST_BACKOFF_MS
          : Math.min(MAX_BACKOFF_MS, Math.max(FIRST_BACKOFF_MS, last * 2));
      backoff.set(info.slot, delay);
      process.stderr.write(
        `tsregistry: worker ${w.process.pid} exited (${signal ?? `status ${code}`}); restarting in ${delay} ms\n`,
      );
      setTimeout(() => {
        if (!stopping) fork(info.slot);
      }, delay);
    });
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGTERM'));
    for (let slot = 0; slot < count; slot++) fork(slot);
  });
}
