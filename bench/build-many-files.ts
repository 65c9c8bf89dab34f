// Build benchmark with a 50,000-file context (a node_modules-like tree: 500 packages of 100 small
// files in nested folders), tsbuild vs docker BuildKit (private dockerd), same run, same context:
// `COPY . /app/` then a RUN over the copied tree, built cold (--no-cache) and rebuilt with every
// step cached (the case a CI agent hits most). Prints medians and the tsbuild/BuildKit ratios.
// Run as root: node dist/bench/build-many-files.js [--runs N] [--cold-runs N] [--packages N]
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../shared/store/content-store.js';
import { importBusybox } from '../test/helpers/busybox-image.js';
import { flag, measureInterleaved, median, startBuildKit, tsbuildCmd } from './build-peers.js';

const RUNS = flag('--runs', 5);
const COLD_RUNS = flag('--cold-runs', 1);
const PACKAGES = flag('--packages', 500);
const FILES_PER_PACKAGE = 100;

const DOCKERFILE = `FROM localhost/busybox:latest
WORKDIR /app
COPY . /app/
RUN find node_modules -type f | wc -l > /app/file-count
`;

/** 100 files a package: package.json, README.md, LICENSE, index.js, 4 lib folders of 24. */
async function writeContext(dir: string): Promise<number> {
  let n = 0;
  const put = async (path: string, text: string) => {
    await writeFile(path, text);
    n++;
  };
  await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(dir, '.dockerignore'), 'Dockerfile\n');
  for (let p = 0; p < PACKAGES; p++) {
    const pkg = join(dir, 'node_modules', `pkg-${p}`);
    await mkdir(pkg, { recursive: true });
    await put(join(pkg, 'package.json'), JSON.stringify({ name: `pkg-${p}`, main: 'index.js' }));
    await put(join(pkg, 'README.md'), `# pkg-${p}\n`);
    await put(join(pkg, 'LICENSE'), 'MIT\n');
    await put(join(pkg, 'index.js'), `module.exports = require('./lib/sub-0/file-0.js');\n`);
    for (let d = 0; d < 4; d++) {
      const sub = join(pkg, 'lib', `sub-${d}`);
      await mkdir(sub, { recursive: true });
      for (let f = 0; f < (FILES_PER_PACKAGE - 4) / 4; f++)
        await put(join(sub, `file-${f}.js`), `module.exports = ${p * 1000 + d * 100 + f};\n`);
    }
  }
  return n;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (RUN needs namespaces and overlayfs)');
  const work = await mkdtemp(join(tmpdir(), 'bench-many-'));
  let close: () => Promise<void> = async () => undefined;
  try {
    const root = join(work, 'tsdock');
    const env = { ...process.env, TSDOCK_ROOT: root };
    process.env.TSDOCK_ROOT = root;
    await importBusybox(await ContentStore.open(), 'localhost/busybox:latest');
    const ctx = join(work, 'ctx');
    await mkdir(ctx);
    const files = await writeContext(ctx);
    const bk = await startBuildKit();
    if ('reason' in bk) throw new Error(`docker BuildKit cannot run here: ${bk.reason}`);
    close = () => bk.close();
    const ts = (extra: string[]) =>
      tsbuildCmd(['--progress=quiet', '--network=none', '-t', 'many:1', ...extra, ctx], env);
    const dk = (extra: string[]) => bk.buildCmd([...extra, '-t', 'many:1', ctx]);
    const rows = [
      {
        label: `${files} files, cold (--no-cache)`,
        times: measureInterleaved([ts(['--no-cache']), dk(['--no-cache'])], COLD_RUNS),
      },
      {
        label: `${files} files, cache-hit rebuild`,
        times: measureInterleaved([ts([]), dk([])], RUNS),
      },
    ];
    console.log(
      `\ntsbuild vs docker BuildKit, ${files}-file context (COPY . then RUN; medians of ${COLD_RUNS} cold and ${RUNS} cached runs, interleaved; node ${process.version})\n`,
    );
    console.log('| case | tsbuild | BuildKit | tsbuild/BuildKit |');
    console.log('|---|---|---|---|');
    for (const { label, times } of rows) {
      const [t, d] = times.map(median) as [number, number];
      console.log(
        `| ${label} | ${(t / 1000).toFixed(2)} s | ${(d / 1000).toFixed(2)} s | ${(t / d).toFixed(2)} |`,
      );
    }
  } finally {
    await close().catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
