// What the builder benchmarks share: timing a command, medians, tsbuild run as installed (its
// launcher line), and docker's BuildKit on a private dockerd with the offline busybox image
// loaded as localhost/busybox:latest (skipped with a reason when it cannot start here).
import { spawnSync } from 'node:child_process';
import { TSBUILD } from '../test/helpers/builder-run.js';
import { startBuildKit as startPeer, type BuildKitPeer } from '../test/helpers/buildkit.js';

/** A numeric `--name N` command-line option of the benchmark, or `dflt`. */
export function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

export type Cmd = [cmd: string, args: string[], env: NodeJS.ProcessEnv];

/** Milliseconds one run of a command takes; throws with its stderr when it fails. */
export function timeRun(cmd: string, args: string[], env: NodeJS.ProcessEnv, before?: () => void) {
  before?.();
  const t = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** tsbuild as installed (on PATH): run as an executable, through its launcher line. */
export function tsbuildCmd(args: string[], env: NodeJS.ProcessEnv): Cmd {
  return [TSBUILD, args, env];
}

/** docker's BuildKit with busybox loaded as localhost/busybox:latest (what the benches use). */
export async function startBuildKit(): Promise<BuildKitPeer | { reason: string }> {
  return startPeer(['localhost/busybox:latest']);
}

/** Runs each command `runs` times, interleaved, after one warm-up each; times per command. */
export function measureInterleaved(cmds: Cmd[], runs: number, before?: () => void): number[][] {
  for (const [c, a, e] of cmds) timeRun(c, a, e, before);
  const times = cmds.map(() => [] as number[]);
  for (let i = 0; i < runs; i++)
    cmds.forEach(([c, a, e], k) => times[k]!.push(timeRun(c, a, e, before)));
  return times;
}
