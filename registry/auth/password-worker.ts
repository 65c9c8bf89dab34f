// Worker thread body for password-pool.ts: compares one password with one bcrypt hash per
// message, off the server's event loop (a bcrypt compare costs ~100-170 ms of CPU).
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

export interface CompareJob {
  id: number;
  password: string;
  hash: string;
}

export interface CompareResult {
  id: number;
  ok: boolean;
}

parentPort?.on('message', (job: CompareJob) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(job.password, job.hash);
  } catch {
    ok = false;
  }
  parentPort!.postMessage({ id: job.id, ok } satisfies CompareResult);
});
