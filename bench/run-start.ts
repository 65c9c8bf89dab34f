// Benchmark: start-to-exit of `true` in a busybox rootfs, tsrun side by side with `runc run`
// (a bundle made from the same rootfs), crun and `podman run --rm --rootfs` when they work here;
// median of N interleaved runs after warm-up; and `docker run --rm` against a private dockerd
// (test/helpers/dockerd.ts, the rootfs imported as an image) unless BENCH_NO_DOCKER is set or it
// cannot start, in which case 137 ms (measured on this kind of machine earlier) is the reference for the docker ratio.
// Prints the figures and the ratios. Run as root: node dist/bench/run-start.js [runs]
//
// tsrun is run as installed (its sh launcher line, which sets NODE_EXTRA_CA_CERTS aside: Node parses
// that CA bundle at every start-up, about 40 ms here, and a run never uses TLS) and, for
// comparison, as `node tsrun.js` with the caller's environment.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBusyboxRootfs } from '../test/privileged/runner-helpers.js';
import { startDockerd } from '../test/helpers/dockerd.js';

const RUNS = Number(process.argv[2] ?? 30);
const WARMUP = 3;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

interface Candidate {
  name: string;
  cmd: string[];
  env?: NodeJS.ProcessEnv;
  times: number[];
}

function once(c: Candidate): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd[0]!, c.cmd.slice(1), {
    env: c.env ?? process.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`${c.name} failed (${r.status}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Runs the candidates interleaved (round-robin), so a busy machine slows all of them alike. */
function measureAll(cands: Candidate[]): void {
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const c of cands) {
      const ms = once(c);
      if (i >= WARMUP) c.times.push(ms);
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Removes an (empty) cgroup tree a peer left in every v1 hierarchy (podman: .../conmon). */
function removeCgroupEverywhere(name: string): void {
  for (const c of readdirSync('/sys/fs/cgroup')) {
    for (const dir of [join(name, 'conmon'), name]) {
      try {
        rmdirSync(join('/sys/fs/cgroup', c, dir));
      } catch {
        /* absent or busy */
      }
    }
  }
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

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('run-start: needs root');
    process.exit(125);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-bench-'));
  try {
    const rootfs = makeBusyboxRootfs(dir);
    const tsrun = fileURLToPath(new URL('../bin/tsrun.js', import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, TSDOCK_ROOT: join(dir, 'state') };
    const ca = env.NODE_EXTRA_CA_CERTS;
    const node = process.execPath;
    const cands: Candidate[] = [];
    const add = (name: string, cmd: string[], e?: NodeJS.ProcessEnv) =>
      cands.push({ name, cmd, env: e, times: [] });
    // as installed (bin on PATH): run as an executable, through its launcher line
    const installed = [tsrun];
    const none = ['--rm', '--network', 'none'];
    add(
      'tsrun --rm --network none --rootfs',
      [...installed, ...none, '--rootfs', rootfs, 'true'],
      env,
    );
    if (ca) {
      add(
        '  same, as `node tsrun.js` (CA bundle)',
        [node, tsrun, ...none, '--rootfs', rootfs, 'true'],
        env,
      );
    }
    // an image in the store (made by tscommit from the same rootfs; layers cached after run 1)
    const tscommit = fileURLToPath(new URL('../bin/tscommit.js', import.meta.url));
    spawnSync(node, [tsrun, '--name', 'seed', '--network', 'none', '--rootfs', rootfs, 'true'], {
      env,
    });
    if (spawnSync(node, [tscommit, 'seed', 'bench-busybox:latest'], { env }).status === 0) {
      add('tsrun --rm --network none IMAGE', [...installed, ...none, 'bench-busybox', 'true'], env);
      add(
        'tsrun --rm IMAGE (bridge network)',
        [...installed, '--rm', 'bench-busybox', 'true'],
        env,
      );
    }
    const tsrm = fileURLToPath(new URL('../bin/tsrm.js', import.meta.url));
    spawnSync(node, [tsrm, 'seed'], { env });
    if (has('runc')) {
      const bundle = runcBundle(dir, rootfs);
      const id = `bench-${process.pid}`; // runc deletes its state after each `run`
      add('runc run', ['runc', '--root', join(dir, 'runc'), 'run', '--bundle', bundle, id]);
      const crun = ['crun', '--root', join(dir, 'crun'), 'run', '--bundle', bundle, `c${id}`];
      if (has('crun') && spawnSync(crun[0]!, crun.slice(1)).status === 0) add('crun run', crun);
    }
    const libpodBefore = existsSync('/sys/fs/cgroup/memory/libpod_parent');
    if (has('podman')) {
      // podman with private storage dirs (removed with the temp dir), runc, no network
      const pm = join(dir, 'podman');
      const podman = ['podman', '--root', join(pm, 'root'), '--runroot', join(pm, 'run')];
      podman.push('--tmpdir', join(pm, 'tmp'), '--runtime', 'runc', '--cgroup-manager', 'cgroupfs');
      podman.push('--events-backend', 'none', 'run', '--rm', '--network', 'none');
      podman.push('--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096');
      podman.push('--rootfs', rootfs, 'true');
      if (spawnSync(podman[0]!, podman.slice(1)).status === 0)
        add('podman run --rm --rootfs', podman);
    }
    const dockerBefore = existsSync('/sys/fs/cgroup/memory/docker');
    const dockerd = process.env.BENCH_NO_DOCKER ? undefined : await startDockerd();
    try {
      if (dockerd?.ok) {
        // the same rootfs as a docker image (docker import of its tarball)
        const tar = join(dir, 'rootfs.tar');
        spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
        const imp = dockerd.dockerd.docker(['import', tar, 'bench-busybox:latest']);
        if (imp.status === 0) {
          const cli = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
          const run = [cli, 'run', '--rm', '--network', 'none', 'bench-busybox', 'true'];
          add('docker run --rm --network none', run, dockerd.dockerd.env);
        }
      } else if (dockerd) {
        console.error(`(docker not measured: ${dockerd.reason})`);
      }
      measureAll(cands);
    } finally {
      if (dockerd?.ok) await dockerd.dockerd.close();
      if (!libpodBefore) removeCgroupEverywhere('libpod_parent');
      if (!dockerBefore) removeCgroupEverywhere('docker');
    }
    const rows: [string, number][] = cands.map((c) => [c.name, median(c.times)]);
    const runc = rows.find((r) => r[0] === 'runc run')?.[1];
    const podman = rows.find((r) => r[0].startsWith('podman'))?.[1];
    // docker measured in this run when its daemon could start, else the 137 ms figure
    const dockerRun = rows.find((r) => r[0].startsWith('docker'))?.[1];
    const dockerRef = dockerRun ?? 137;
    const dockerLabel = dockerRun ? 'docker' : 'docker (137 ms ref)';
    console.log(`start-to-exit of \`true\` in busybox, median of ${RUNS} interleaved runs`);
    for (const [name, ms] of rows) {
      const cols = [`${name.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms`];
      if (runc)
        cols.push(
          `${(ms / runc).toFixed(2)}x runc (${ms >= runc ? '+' : ''}${(ms - runc).toFixed(1)} ms)`,
        );
      if (podman) cols.push(`${(ms / podman).toFixed(2)}x podman`);
      cols.push(`${(ms / dockerRef).toFixed(2)}x ${dockerLabel}`);
      console.log(cols.join('  '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
