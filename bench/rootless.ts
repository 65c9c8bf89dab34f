// Benchmark: rootless against rootful, side by side in one run (interleaved, medians).
//   start-to-exit of `true` in busybox: rootless tsrun vs rootful tsrun (target <= 1.5x) and vs
//   rootless `podman run --rm` (target: below it), all --network none;
//   a cached rebuild of the example app: rootless tsbuild vs rootful (target <= 1.2x).
// Run as root (it makes an ordinary user with its own subuid range, removed at the end):
//   node dist/bench/rootless.js [runs]
// Every command runs through setpriv with a clean environment (the rootful ones as root, the
// rootless ones as the user), so both pay the same launcher cost.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBusyboxLayout, repoRoot } from '../test/helpers/busybox-image.js';
import { createRootlessUser, type RootlessUser } from '../test/helpers/rootless-user.js';

const RUNS = Number(process.argv[2] ?? 20);
const WARMUP = 2;

interface Candidate {
  name: string;
  argv: string[];
  times: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function as(uid: number, gid: number, env: Record<string, string>, argv: string[]): string[] {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return [
    'setpriv',
    `--reuid=${uid}`,
    `--regid=${gid}`,
    '--clear-groups',
    'env',
    '-i',
    ...vars,
    ...argv,
  ];
}

function once(c: Candidate, cwd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.argv[0]!, c.argv.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${c.name} failed (${r.status}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function measure(cands: Candidate[], cwd: string): void {
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const c of cands) {
      const ms = once(c, cwd);
      if (i >= WARMUP) c.times.push(ms);
    }
  }
}

function must(argv: string[], cwd: string): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
}

function report(title: string, cands: Candidate[]): Map<string, number> {
  console.log(`\n${title} (median of ${RUNS}, interleaved)`);
  const m = new Map(cands.map((c) => [c.name, median(c.times)]));
  for (const [name, ms] of m) console.log(`  ${name.padEnd(44)} ${ms.toFixed(1).padStart(7)} ms`);
  return m;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('rootless bench: run as root (it creates the rootless user)');
    process.exit(125);
  }
  const repo = repoRoot();
  const layout = await ensureBusyboxLayout();
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-bench-rootless-'));
  let user: RootlessUser | undefined;
  try {
    user = createRootlessUser({ prefix: 'tsbench', repo });
    const node = process.execPath;
    const bin = (d: string, cmd: string) => join(d, 'bin', `${cmd}.js`);
    const rootEnv = {
      PATH: user.env.PATH!,
      HOME: dir,
      TSDOCK_ROOT: join(dir, 'state'),
      TSDOCK_BRIDGE: user.env.TSDOCK_BRIDGE!,
      TSDOCK_SUBNET: user.env.TSDOCK_SUBNET!,
    };
    const userEnv = { ...user.env, XDG_RUNTIME_DIR: join(user.home, 'xdg-run') };
    mkdirSync(userEnv.XDG_RUNTIME_DIR, { mode: 0o700 });
    const root = (argv: string[]) => as(0, 0, rootEnv, argv);
    const rootless = (argv: string[]) => as(user!.uid, user!.gid, userEnv, argv);
    // the same busybox and example app for both
    const userLayout = join(user.home, 'busybox-layout');
    cpSync(layout, userLayout, { recursive: true });
    cpSync(join(repo, 'fixtures', 'example-app'), join(user.home, 'app'), { recursive: true });
    cpSync(join(repo, 'fixtures', 'example-app'), join(dir, 'app'), { recursive: true });
    must(['chown', '-R', `${user.uid}:${user.gid}`, user.home], dir);
    must(
      root([node, bin(join(repo, 'dist'), 'tsload'), '-i', layout, '-t', 'busybox:latest']),
      dir,
    );
    must(
      rootless([node, bin(user.dist, 'tsload'), '-i', userLayout, '-t', 'busybox:latest']),
      user.home,
    );

    const run = ['--rm', '--network', 'none', 'busybox', 'true'];
    const starts: Candidate[] = [
      {
        name: 'tsrun (rootful)',
        argv: root([node, bin(join(repo, 'dist'), 'tsrun'), ...run]),
        times: [],
      },
      {
        name: 'tsrun (rootless)',
        argv: rootless([node, bin(user.dist, 'tsrun'), ...run]),
        times: [],
      },
    ];
    const podman = ['podman', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
    podman.push('--events-backend', 'none');
    // podman wants a lowercase path in an oci: reference (the temp dirs have capitals)
    const pmLayout = join('/tmp', `tsdock-bench-busybox-${process.pid}`);
    cpSync(layout, pmLayout, { recursive: true });
    must(['chown', '-R', `${user.uid}:${user.gid}`, pmLayout], dir);
    const pull = rootless([...podman, 'pull', '-q', `oci:${pmLayout}:latest`]);
    const pulled = spawnSync(pull[0]!, pull.slice(1), { cwd: user.home, encoding: 'utf8' });
    rmSync(pmLayout, { recursive: true, force: true });
    const imageId = pulled.stdout.trim().split('\n').pop() ?? '';
    if (pulled.status === 0 && imageId) {
      const pr = [
        ...podman,
        'run',
        '--rm',
        '--pull',
        'never',
        '--network',
        'none',
        imageId,
        'true',
      ];
      starts.push({ name: 'podman run --rm (rootless, runc)', argv: rootless(pr), times: [] });
    } else console.log(`(rootless podman unavailable: ${pulled.stderr.trim().split('\n').pop()})`);
    measure(starts, user.home);
    const s = report('start-to-exit of `true` in busybox, --network none', starts);
    const rl = s.get('tsrun (rootless)')!;
    console.log(
      `  rootless / rootful tsrun: ${(rl / s.get('tsrun (rootful)')!).toFixed(2)}x (target <= 1.5x)`,
    );
    const pm = s.get('podman run --rm (rootless, runc)');
    if (pm)
      console.log(`  rootless tsrun / rootless podman: ${(rl / pm).toFixed(2)}x (target < 1x)`);

    const build = ['-t', 'app:bench', '--progress', 'quiet', 'app'];
    must(root([node, bin(join(repo, 'dist'), 'tsbuild'), ...build]), dir);
    must(rootless([node, bin(user.dist, 'tsbuild'), ...build]), user.home);
    const builds: Candidate[] = [
      {
        name: 'tsbuild cached (rootful)',
        argv: root([node, bin(join(repo, 'dist'), 'tsbuild'), ...build]),
        times: [],
      },
      {
        name: 'tsbuild cached (rootless)',
        argv: rootless([node, bin(user.dist, 'tsbuild'), ...build]),
        times: [],
      },
    ];
    // each in its own directory: the context path is relative
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const a = once(builds[0]!, dir);
      const b = once(builds[1]!, user.home);
      if (i >= WARMUP) {
        builds[0]!.times.push(a);
        builds[1]!.times.push(b);
      }
    }
    const b = report('cached rebuild of the example app (7 instructions)', builds);
    const ratio = b.get('tsbuild cached (rootless)')! / b.get('tsbuild cached (rootful)')!;
    console.log(`  rootless / rootful: ${ratio.toFixed(2)}x (target <= 1.2x)`);
  } finally {
    user?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
