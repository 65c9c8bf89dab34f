// Cleanup on SIGINT/SIGTERM: a build interrupted mid-RUN still removes its temp dirs and
// cgroups (the sandbox's mounts die with its namespace). Steps register synchronous cleanups
// while they hold something; the handler runs them newest first, then exits 130/143.
import { rmSync } from 'node:fs';

const live = new Map<number, () => void>();
let next = 0;
let installed = false;

/** Installs the SIGINT/SIGTERM handler (idempotent; the CLI calls it at start). */
export function install(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const fn of [...live.values()].reverse()) {
        try {
          fn();
        } catch {
          // best effort: keep cleaning the rest
        }
      }
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Registers a synchronous cleanup; call the returned function once it is no longer needed. */
export function onInterrupt(fn: () => void): () => void {
  install();
  const id = next++;
  live.set(id, fn);
  return () => {
    live.delete(id);
  };
}

/** Removes `dir` if the build is interrupted (normal paths remove it themselves). */
export function trackTemp(dir: string): string {
  onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Blocks the thread briefly (killed sandbox processes need a moment to leave their cgroup). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
