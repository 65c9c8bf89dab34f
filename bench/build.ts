// Build benchmark, tsbuild vs `buildah bud --layers`, same run, same Dockerfiles and contexts:
// cold build and cache-hit rebuild of a 7-instruction busybox Dockerfile, and a 200 MiB COPY
// layer. Prints medians and ratios, and the BuildKit reference figures (measured earlier on this kind of machine) as targets.
// Run as root: node dist/bench/build.js [--runs N] [--big-mib N]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../shared/store/content-store.js';
import { ensureBusyboxLayout, importBusybox } from '../test/helpers/busybox-image.js';
import {
  flag,
  measureInterleaved,
  median,
  startBuildKit,
  tsbuildCmd,
  type Cmd,
} from './build-peers.js';

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
  let closeDocker: () => Promise<void> = async () => undefined;
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

    const ts = (ctx: string, extra: string[]): Cmd =>
      tsbuildCmd(['--progress=quiet', '--network=none', '-t', 'bench:1', ...extra, ctx], env);
    const forgetDigests = () =>
      spawnSync('rm', ['-f', join(root, 'build-cache', 'file-digests.json')]);
    const bk = process.argv.includes('--no-docker') ? undefined : await startBuildKit();
    if (bk && 'reason' in bk) console.error(`docker BuildKit skipped: ${bk.reason}`);
    const dk = bk && !('reason' in bk) ? bk : undefined;
    closeDocker = async () => dk?.close();
    const dkBuild = (ctx: string, extra: string[]): Cmd | undefined =>
      dk?.buildCmd([...extra, '-t', 'bench:1', ctx]);
    const rows: { label: string; times: number[][]; target?: number }[] = [];
    const measure = (
      label: string,
      cmds: (Cmd | undefined)[],
      runs: number,
      target?: number,
      before?: () => void,
    ) => {
      const live = cmds.filter((c): c is Cmd => c !== undefined);
      rows.push({ label, times: measureInterleaved(live, runs, before), target });
    };
    const bigRuns = Math.max(1, Math.min(RUNS, 3));
    measure(
      '7-instruction busybox, cold (--no-cache)',
      [
        ts(small, ['--no-cache']),
        ['buildah', [...bh, ...bud, '--no-cache', '-t', 'bench:1', small], env],
        dkBuild(small, ['--no-cache']),
      ],
      RUNS,
      TARGET.cold,
    );
    measure(
      '7-instruction busybox, cache-hit rebuild',
      [
        ts(small, []),
        ['buildah', [...bh, ...bud, '-t', 'bench:1', small], env],
        dkBuild(small, []),
      ],
      RUNS,
      TARGET.cached,
    );
    measure(
      `${BIG_MIB} MiB COPY layer, cold (tsbuild default: gzip)`,
      [
        ts(big, ['--no-cache']),
        ['buildah', [...bh, ...bud, '--no-cache', '-t', 'bench:2', big], env],
        dkBuild(big, ['--no-cache']),
      ],
      bigRuns,
      undefined,
      forgetDigests,
    );
    measure(
      `${BIG_MIB} MiB COPY layer, cold (tsbuild --compression none)`,
      [
        ts(big, ['--no-cache', '--compression', 'none']),
        ['buildah', [...bh, ...bud, '--no-cache', '-t', 'bench:2', big], env],
        dkBuild(big, ['--no-cache']),
      ],
      bigRuns,
      undefined,
      forgetDigests,
    );

    console.log(
      `\ntsbuild vs buildah bud --layers${dk ? ' vs docker BuildKit' : ''} (medians of ${RUNS} runs, ${bigRuns} for the big layer; node ${process.version})\n`,
    );
    console.log(
      `| case | tsbuild | buildah | tsbuild/buildah |${dk ? ' BuildKit | tsbuild/BuildKit |' : ''} target (BuildKit reference, measured earlier) |`,
    );
    console.log(`|---|---|---|---|${dk ? '---|---|' : ''}---|`);
    for (const { label, times, target } of rows) {
      const [ts0, bh0, dk0] = times.map(median) as [number, number, number | undefined];
      const t = target
        ? `${target} ms (${ts0 <= target ? 'met' : `x${(ts0 / target).toFixed(2)}`})`
        : '-';
      const dkCols = dk0 !== undefined ? ` ${dk0.toFixed(0)} ms | ${(ts0 / dk0).toFixed(2)} |` : '';
      console.log(
        `| ${label} | ${ts0.toFixed(0)} ms | ${bh0.toFixed(0)} ms | ${(ts0 / bh0).toFixed(2)} |${dkCols} ${t} |`,
      );
    }
  } finally {
    await closeDocker().catch(() => undefined);
    spawnSync('buildah', [...bh, 'rm', '--all'], { stdio: 'ignore' });
    spawnSync('sh', ['-c', `umount ${join(work, 'bh-root')}/overlay 2>/dev/null; true`]);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
