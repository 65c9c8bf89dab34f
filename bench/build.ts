// Build benchmark, tsbuild vs `buildah bud --layers`, same run, same Dockerfiles and contexts:
// cold build and cache-hit rebuild of a 7-instruction busybox Dockerfile, and a 200 MiB COPY
// layer. Prints medians and ratios, and the BuildKit reference figures (PEERS.md) as targets.
// Run as root: node dist/bench/build.js [--runs N] [--big-mib N]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../shared/store/content-store.js';
import { ensureBusyboxLayout, importBusybox } from '../test/helpers/busybox-image.js';
import { TSBUILD } from '../test/helpers/builder-run.js';

const argv = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const RUNS = flag('--runs', 5);
const BIG_MIB = flag('--big-mib', 200);
const TARGET = { cold: 140, cached: 72 };

const DOCKERFILE = `FROM localhost/busybox:latest
WORKDIR /app
COPY app.txt /app/
RUN echo built > /app/built.txt
ENV NAME=World
EXPOSE 80
CMD ["cat", "/app/built.txt"]
`;

function timeRun(cmd: string, args: string[], env: NodeJS.ProcessEnv, before?: () => void): number {
  before?.();
  const t = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (RUN needs namespaces and overlayfs)');
  const work = await mkdtemp(join(tmpdir(), 'bench-build-'));
  const root = join(work, 'tsdock');
  const env = { ...process.env, TSDOCK_ROOT: root };
  const bh = [
    '--root',
    join(work, 'bh-root'),
    '--runroot',
    join(work, 'bh-run'),
    '--storage-driver',
    'overlay',
  ];
  const bud = [
    'bud',
    '--layers',
    '--network',
    'none',
    '--runtime',
    'runc',
    '--cgroup-manager',
    'cgroupfs',
    '-q',
  ];
  try {
    process.env.TSDOCK_ROOT = root;
    const store = await ContentStore.open();
    await importBusybox(store, 'localhost/busybox:latest');
    const layout = await ensureBusyboxLayout();
    spawnSync(
      'skopeo',
      [
        'copy',
        '-q',
        `oci:${layout}:latest`,
        `containers-storage:[overlay@${join(work, 'bh-root')}+${join(work, 'bh-run')}]localhost/busybox:latest`,
      ],
      { stdio: 'inherit' },
    );

    const small = join(work, 'small');
    await mkdir(small);
    await writeFile(join(small, 'Dockerfile'), DOCKERFILE);
    await writeFile(join(small, 'app.txt'), 'app\n');
    const big = join(work, 'big');
    await mkdir(big);
    await writeFile(join(big, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /big.bin\n');
    const fh = await open(join(big, 'big.bin'), 'w');
    for (let i = 0; i < BIG_MIB; i++) await fh.write(randomBytes(1 << 20));
    await fh.close();

    const ts = (ctx: string, extra: string[]) => [
      TSBUILD,
      '--progress=quiet',
      '-t',
      'bench:1',
      ...extra,
      ctx,
    ];
    const forgetDigests = () =>
      spawnSync('rm', ['-f', join(root, 'build-cache', 'file-digests.json')]);
    const rows: [string, number[], number[], number?][] = [];
    const measure = (
      label: string,
      tsArgs: string[],
      bhArgs: string[],
      runs: number,
      target?: number,
      before?: () => void,
    ) => {
      timeRun(process.execPath, tsArgs, env, before); // warm-up (and the cache for rebuilds)
      timeRun('buildah', [...bh, ...bhArgs], env);
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < runs; i++) {
        a.push(timeRun(process.execPath, tsArgs, env, before));
        b.push(timeRun('buildah', [...bh, ...bhArgs], env));
      }
      rows.push([label, a, b, target]);
    };
    measure(
      '7-instruction busybox, cold (--no-cache)',
      ts(small, ['--no-cache']),
      [...bud, '--no-cache', '-t', 'bench:1', small],
      RUNS,
      TARGET.cold,
    );
    measure(
      '7-instruction busybox, cache-hit rebuild',
      ts(small, []),
      [...bud, '-t', 'bench:1', small],
      RUNS,
      TARGET.cached,
    );
    measure(
      `${BIG_MIB} MiB COPY layer, cold`,
      ts(big, ['--no-cache']),
      [...bud, '--no-cache', '-t', 'bench:2', big],
      Math.max(1, Math.min(RUNS, 3)),
      undefined,
      forgetDigests,
    );
    measure(
      `${BIG_MIB} MiB COPY layer, cold, tsbuild --compression none`,
      ts(big, ['--no-cache', '--compression', 'none']),
      [...bud, '--no-cache', '-t', 'bench:2', big],
      Math.max(1, Math.min(RUNS, 3)),
      undefined,
      forgetDigests,
    );

    console.log(
      `\ntsbuild vs buildah bud --layers (medians of ${RUNS} runs; machine: ${process.arch}, node ${process.version})\n`,
    );
    console.log('| case | tsbuild | buildah | tsbuild/buildah | BuildKit reference (target) |');
    console.log('|---|---|---|---|---|');
    for (const [label, a, b, target] of rows) {
      const ma = median(a);
      const mb = median(b);
      const t = target
        ? `${target} ms (${ma <= target ? 'met' : `x${(ma / target).toFixed(2)}`})`
        : '-';
      console.log(
        `| ${label} | ${ma.toFixed(0)} ms | ${mb.toFixed(0)} ms | ${(ma / mb).toFixed(2)} | ${t} |`,
      );
    }
  } finally {
    spawnSync('buildah', [...bh, 'rm', '--all'], { stdio: 'ignore' });
    spawnSync('sh', ['-c', `umount ${join(work, 'bh-root')}/overlay 2>/dev/null; true`]);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
