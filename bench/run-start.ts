// Benchmark: start-to-exit of `true` in a busybox rootfs, tsrun side by side with `runc run`
// (a bundle made from the same rootfs) and crun when installed; median of N runs after warm-up.
// Prints the figures and the ratios. Run as root: node dist/bench/run-start.js [runs]
//
// tsrun is measured twice: with the caller's environment, and without NODE_EXTRA_CA_CERTS,
// which makes every Node start-up parse a CA bundle (about 40 ms here) that tsrun never uses.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBusyboxRootfs } from '../test/privileged/runner-helpers.js';

const RUNS = Number(process.argv[2] ?? 30);
const WARMUP = 3;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function measure(name: string, cmd: string[], env: NodeJS.ProcessEnv = process.env): number {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr}`);
    if (i >= WARMUP) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function runcBundle(dir: string, rootfs: string): string {
  const bundle = join(dir, 'bundle');
  mkdirSync(bundle);
  spawnSync('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.root = { path: rootfs, readonly: true };
  spec.process.args = ['true'];
  spec.process.terminal = false;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

function main(): void {
  if (process.getuid?.() !== 0) {
    console.error('run-start: needs root');
    process.exit(125);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-bench-'));
  try {
    const rootfs = makeBusyboxRootfs(dir);
    const tsrun = fileURLToPath(new URL('../bin/tsrun.js', import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, TSDOCK_ROOT: join(dir, 'state') };
    const cleanEnv = { ...env };
    delete cleanEnv.NODE_EXTRA_CA_CERTS;
    const ca = env.NODE_EXTRA_CA_CERTS;
    const args = [process.execPath, tsrun, '--rm', '--network', 'none', '--rootfs', rootfs, 'true'];
    const rows: [string, number][] = [];
    rows.push(['tsrun --rm --network none', measure('tsrun', args, env)]);
    if (ca) rows.push(['tsrun (no NODE_EXTRA_CA_CERTS)', measure('tsrun', args, cleanEnv)]);
    const bridge = [process.execPath, tsrun, '--rm', '--rootfs', rootfs, 'true'];
    rows.push(['tsrun --rm (bridge network)', measure('tsrun bridge', bridge, cleanEnv)]);
    if (has('runc')) {
      const bundle = runcBundle(dir, rootfs);
      const state = join(dir, 'runc');
      const id = `bench-${process.pid}`; // runc deletes its state after each `run`
      rows.push([
        'runc run',
        measure('runc', ['runc', '--root', state, 'run', '--bundle', bundle, id]),
      ]);
    }
    if (has('crun')) {
      const bundle = join(dir, 'bundle');
      const id = `bench-crun-${process.pid}`;
      const crun = ['crun', '--root', join(dir, 'crun'), 'run', '--bundle', bundle, id];
      if (spawnSync(crun[0]!, crun.slice(1)).status === 0)
        rows.push(['crun run', measure('crun', crun)]);
    }
    const runc = rows.find((r) => r[0] === 'runc run')?.[1];
    const dockerRef = 137; // PEERS.md: docker run --rm on this kind of machine
    console.log(`start-to-exit of \`true\` in busybox, median of ${RUNS} runs`);
    for (const [name, ms] of rows) {
      const vsRunc = runc
        ? `  ${(ms / runc).toFixed(2)}x runc (+${(ms - runc).toFixed(1)} ms)`
        : '';
      console.log(
        `${name.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms${vsRunc}  ${(ms / dockerRef).toFixed(2)}x docker run --rm (137 ms ref)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
