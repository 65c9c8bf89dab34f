// docker's BuildKit as a peer for builder tests and benchmarks: a private dockerd
// (test/helpers/dockerd.ts) whose built-in BuildKit builds with docker.io's CLI, with the offline
// busybox image loaded under the names the Dockerfiles use. Builds go through `docker build
// --network=none`; the result is read back as config, history and an exported filesystem.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBusyboxLayout } from './busybox-image.js';
import { startDockerd } from './dockerd.js';

export interface BuildKitImage {
  config: Record<string, unknown>;
  /** created_by of each history entry, oldest first. */
  history: string[];
}

export interface BuildKitPeer {
  /** argv + env of `docker build -q --network=none ARGS` (for timing it). */
  buildCmd(args: string[]): [cmd: string, args: string[], env: NodeJS.ProcessEnv];
  /** Runs `docker build`; status and output, for error and exit code comparisons. */
  build(args: string[]): { status: number; stdout: string; stderr: string };
  /** Builds `ctx` as `tag` and reads the image back. Throws with BuildKit's output on failure. */
  image(tag: string, args: string[], ctx: string): BuildKitImage;
  /** `docker image inspect --format FORMAT ref`, trimmed. */
  inspect(ref: string, format: string): string;
  /** Exports the filesystem `docker build ARGS ctx` makes into a new dir (caller removes it). */
  exportFs(args: string[], ctx: string, tmp: string): string;
  close(): Promise<void>;
}

/** Starts the peer with busybox loaded as each of `names`; a reason when it cannot run here. */
export async function startBuildKit(
  names: string[] = ['busybox:latest'],
): Promise<BuildKitPeer | { reason: string }> {
  const started = await startDockerd();
  if (!started.ok) return { reason: started.reason };
  const dk = started.dockerd;
  const env = { ...dk.env, DOCKER_BUILDKIT: '1' };
  const run = (args: string[], input?: string) => {
    const r = spawnSync(dk.cli, args, { env, input, encoding: 'utf8', timeout: 300_000 });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const probe = run(['build', '-q', '--network=none', '-t', 'probe:1', '-'], 'FROM scratch\n');
  if (probe.status !== 0) {
    await dk.close();
    return { reason: `docker BuildKit: ${probe.stderr.trim().split('\n').pop() ?? 'failed'}` };
  }
  const layout = await ensureBusyboxLayout();
  const tmp = mkdtempSync(join(dk.env.DOCKER_CONFIG ?? '/tmp', 'bb-'));
  for (const name of names) {
    const tar = join(tmp, 'busybox.tar');
    spawnSync('skopeo', ['copy', '-q', `oci:${layout}:latest`, `docker-archive:${tar}:${name}`]);
    dk.docker(['load', '-q', '-i', tar]);
    rmSync(tar, { force: true });
  }
  const ok = (args: string[]) => {
    const r = run(args);
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };
  return {
    buildCmd: (args) => [dk.cli, ['build', '-q', '--network=none', ...args], env],
    build: (args) => run(['build', '-q', '--network=none', ...args]),
    image(tag, args, ctx) {
      ok(['build', '-q', '--network=none', '-t', tag, ...args, ctx]);
      const config = JSON.parse(ok(['image', 'inspect', tag, '--format', '{{json .Config}}']));
      const history = ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', tag])
        .split('\n')
        .filter(Boolean)
        .reverse();
      return { config: config as Record<string, unknown>, history };
    },
    inspect: (ref, format) => ok(['image', 'inspect', ref, '--format', format]).trim(),
    exportFs(args, ctx, dir) {
      const dest = mkdtempSync(join(dir, 'buildkit-fs-'));
      ok(['build', '-q', '--network=none', '--output', `type=local,dest=${dest}`, ...args, ctx]);
      return dest;
    },
    close: () => dk.close(),
  };
}
