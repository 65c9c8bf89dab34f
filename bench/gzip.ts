// Benchmark: tsdock's block-parallel gzip vs Node's zlib.createGzip (single-threaded, what a
// plain implementation would use) and GNU gzip, on the same ~100 MiB of real binaries and
// text from /usr (layer-like content). Prints times, sizes and ratios.
// Usage: node dist/bench/gzip.js [MiB=100] [level=6] [rounds=3]
import { readdirSync, readFileSync, lstatSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { createGzip } from '../shared/tar/gzip.js';

const mib = Number(process.argv[2] ?? 100);
const level = Number(process.argv[3] ?? 6);
const rounds = Number(process.argv[4] ?? 3);

function corpus(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (n >= bytes) return;
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size > 0) {
        const b = readFileSync(p);
        parts.push(b);
        n += b.length;
      }
    }
  };
  for (const d of ['/usr/lib', '/usr/share', '/usr/bin']) walk(d);
  return Buffer.concat(parts).subarray(0, bytes);
}

interface Run {
  ms: number;
  size?: number;
  /** CPU time of this process: above ms means more than one core was busy. */
  cpuMs?: number;
}

async function time(make: () => Transform, data: Buffer): Promise<Run> {
  let size = 0;
  const src = Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
    })(),
    { objectMode: false },
  );
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await pipeline(src, make(), new Writable({ write: (c, _e, cb) => ((size += c.length), cb()) }));
  const cpu = process.cpuUsage(c0);
  return { ms: performance.now() - t0, size, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const data = corpus(mib * 1024 * 1024);
console.log(
  `input: ${(data.length / 1048576).toFixed(1)} MiB from /usr, level ${level}, median of ${rounds}`,
);
// Interleaved rounds, median of each: other work on a shared machine hits all candidates alike.
const runs: Record<'plain' | 'par' | 'seq', Run[]> = { plain: [], par: [], seq: [] };
for (let i = 0; i < rounds; i++) {
  runs.plain.push(await time(() => zlib.createGzip({ level }), data));
  runs.par.push(await time(() => createGzip({ level }), data));
  runs.seq.push(await time(() => createGzip({ level, parallel: false }), data));
}
const median = (rs: Run[]) => [...rs].sort((a, b) => a.ms - b.ms)[Math.floor(rs.length / 2)]!;
const plain = median(runs.plain);
const par = median(runs.par);
const seq = median(runs.seq);
const tmp = mkdtempSync(join(tmpdir(), 'tsdock-bench-gz-'));
let gnu: Run | undefined;
try {
  writeFileSync(join(tmp, 'in'), data);
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `gzip -${level} -c ${join(tmp, 'in')} > /dev/null`]);
  if (r.status === 0) gnu = { ms: performance.now() - t0 };
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const row = (name: string, r: Run) =>
  console.log(
    `${name.padEnd(30)} ${r.ms.toFixed(0).padStart(6)} ms wall` +
      (r.cpuMs ? ` ${r.cpuMs.toFixed(0).padStart(6)} ms cpu` : '') +
      (r.size ? `  ${(r.size / 1048576).toFixed(1)} MiB` : ''),
  );
row('zlib.createGzip', plain);
row('tsdock gzip (parallel)', par);
row('tsdock gzip (one block/time)', seq);
if (gnu) row('GNU gzip', gnu);
console.log(`speedup vs zlib.createGzip: ${(plain.ms / par.ms).toFixed(2)}x`);
if (gnu) console.log(`speedup vs GNU gzip: ${(gnu.ms / par.ms).toFixed(2)}x`);
console.log(`size overhead vs zlib: ${((par.size! / plain.size! - 1) * 100).toFixed(2)}%`);
