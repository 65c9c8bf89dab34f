// Emulated builds, tsbuild vs docker's BuildKit, same run, same Dockerfile and base: a
// linux/arm64 build (two RUN steps under QEMU user emulation, no cache) of the two-platform
// busybox served by tsregistry on loopback, and tsbuild's linux/amd64,linux/arm64 index build
// beside docker building the two platforms one after the other (its classic image store has no
// multi-platform images). Prints medians and ratios. Needs root, qemu-user-static, docker.io.
// Usage: node dist/bench/build-emulated.js [--runs N]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushBusyboxIndex } from '../test/helpers/busybox-multiarch.js';
import { ensureEmulation } from '../test/helpers/emulation.js';
import { spawnRegistry } from '../test/helpers/registry-server.js';
import { startDockerd } from '../test/helpers/dockerd.js';
import { flag, measureInterleaved, median, tsbuildCmd, type Cmd } from './build-peers.js';

const RUNS = flag('--runs', 5);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (binfmt_misc, namespaces)');
  const emulation = await ensureEmulation([{ os: 'linux', architecture: 'arm64' }]);
  if ('reason' in emulation) throw new Error(emulation.reason);
  const work = await mkdtemp(join(tmpdir(), 'bench-emulated-'));
  const reg = await spawnRegistry(join(work, 'registry'));
  const dockerd = await startDockerd({ insecureRegistries: [reg.host] });
  try {
    if (!dockerd.ok) throw new Error(dockerd.reason);
    const base = `${reg.host}/base/busybox:1`;
    await pushBusyboxIndex(base);
    const ctx = join(work, 'ctx');
    await mkdir(ctx);
    await writeFile(
      join(ctx, 'Dockerfile'),
      `FROM ${base}\nRUN uname -m > /arch && ls -R /bin > /list\nRUN sha256sum /bin/busybox > /sum\n`,
    );
    const env = { ...process.env, TSDOCK_ROOT: join(work, 'tsdock') };
    const dk = dockerd.dockerd;
    const denv = { ...dk.env, DOCKER_BUILDKIT: '1' };
    const docker = (platform: string): Cmd => [
      dk.cli,
      ['build', '-q', '--no-cache', '--network=none', '--platform', platform, ctx],
      denv,
    ];
    const ts = (platforms: string): Cmd =>
      tsbuildCmd(['-q', '--no-cache', '--network=none', '--platform', platforms, ctx], env);
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const line = ([c, args]: Cmd) => [c, ...args].map(quote).join(' ');
    const both: Cmd = [
      'sh',
      ['-c', `${line(docker('linux/amd64'))} && ${line(docker('linux/arm64'))}`],
      denv,
    ];
    const [tsArm, dkArm, tsBoth, dkBoth] = measureInterleaved(
      [ts('linux/arm64'), docker('linux/arm64'), ts('linux/amd64,linux/arm64'), both],
      RUNS,
    ).map(median);
    const row = (what: string, a: number, b: number) =>
      `| ${what} | ${a.toFixed(0)} ms | ${b.toFixed(0)} ms | ${(a / b).toFixed(2)}x |`;
    console.log('| build (no cache, RUN under QEMU) | tsbuild | docker BuildKit | ratio |');
    console.log('|---|---|---|---|');
    console.log(row('linux/arm64', tsArm!, dkArm!));
    console.log(row('linux/amd64 + linux/arm64 (docker: two builds)', tsBoth!, dkBoth!));
    console.log(`\nmedians of ${RUNS} runs each, interleaved, after one warm-up`);
  } finally {
    if (dockerd.ok) await dockerd.dockerd.close();
    await reg.stop();
    await emulation.release();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`build-emulated: ${(e as Error).message}`);
  process.exit(1);
});
