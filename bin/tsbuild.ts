#!/usr/bin/env node
// tsbuild: build an image from a Dockerfile (docker build's flags), daemonless, with RUN in the
// runner's sandbox and a content-addressed build cache. Thin: flags -> builder/exec/executor.
import { runCommand, UsageError } from '../shared/cli.js';
import { byteSize } from '../shared/cli-values.js';
import { tsbuildCommand } from './commands/tsbuild.js';
import { openContext } from '../builder/context/build-context.js';
import { build } from '../builder/exec/executor.js';
import { asBuildFailure } from '../builder/errors.js';
import type { SecretSource } from '../builder/exec/exec-context.js';
import type { ExtraHost } from '../runner/resolv-conf.js';
import { parseOutput } from '../builder/export/exporter.js';
import { parseCacheRef } from '../builder/cache/cache-transfer.js';
import { install as installInterruptCleanup } from '../builder/exec/interrupt.js';
import { Progress, type ProgressMode } from '../builder/progress.js';
import type { CacheOnlyProbe } from '../builder/exec/namespace-probe.js';

void runCommand(tsbuildCommand, async ({ values: v, positionals }) => {
  if (v['install-emulators'] || v['uninstall-emulators']) {
    const { manageEmulators } = await import('../shared/emulation.js');
    const { targetPlatforms } = await import('../builder/plan/platforms.js');
    const platforms = v.platform ? targetPlatforms(v.platform) : [];
    const lines = await manageEmulators(v['install-emulators'] === true, platforms);
    for (const l of lines) process.stdout.write(`${l}\n`);
    return 0;
  }
  installInterruptCleanup();
  // --progress, --network and --compression are among their choices (tsbuildCommand)
  const mode = v.quiet ? 'quiet' : v.progress === 'auto' ? 'plain' : (v.progress as ProgressMode);
  const network = v.network === 'bridge' ? 'default' : (v.network as 'default' | 'none' | 'host');
  const hosts = await extraHosts(v['add-host'] ?? []);
  const request = {
    tags: v.tag ?? [],
    target: v.target,
    platform: v.platform,
    buildArgs: buildArgs(v['build-arg'] ?? []),
    noCache: v['no-cache'] === true,
    debugCache: v['debug-cache'] === true || process.env.TSBUILD_DEBUG_CACHE === '1',
    secrets: secrets(v.secret ?? []),
    progress: new Progress(mode),
    sourceDateEpoch: /^\d+$/.test(process.env.SOURCE_DATE_EPOCH ?? '')
      ? Number(process.env.SOURCE_DATE_EPOCH)
      : undefined,
    outputs: (v.output ?? []).map(parseOutput),
    push: v.push === true,
    limits: v.memory ? { memory: byteSize(v.memory) } : undefined,
    network,
    extraHosts: hosts,
    compression: v.compression as 'gzip' | 'none',
    cacheFrom: (v['cache-from'] ?? []).map(parseCacheRef),
    cacheTo: (v['cache-to'] ?? []).map(parseCacheRef),
    warn: (line: string) => process.stderr.write(`${line}\n`),
  };
  // Past the command line, a failure is the build's: exit 1 as docker build (125 = usage).
  const runBuild = (req: typeof request & { cacheOnly?: CacheOnlyProbe }) =>
    openContext({ context: positionals[0]!, file: v.file })
      .then((context) => build({ ...req, context }))
      .catch((e: unknown) => {
        throw asBuildFailure(e, (x) => x instanceof UsageError);
      });
  // rootless hook: a build that needs root of the user's namespace runs there
  // (runner/rootless/userns.ts); a fully cached one is done as the plain user, no second start
  const result =
    process.getuid?.() === 0 ? await runBuild(request) : await rootlessBuild(request, runBuild);
  if (v.iidfile) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(v.iidfile, result.configDigest);
  }
  if (!v.quiet) for (const t of result.tags) process.stderr.write(`naming to ${t} done\n`);
  process.stdout.write(
    `${v.quiet ? result.configDigest : `writing image ${result.configDigest} done`}\n`,
  );
  return 0;
});

interface RootlessRequest {
  noCache: boolean;
  debugCache: boolean;
  progress: Progress;
  outputs: unknown[];
  push: boolean;
  cacheFrom: unknown[];
  cacheTo: unknown[];
  warn: (line: string) => void;
}

/**
 * As the plain user, first a cache-only build (its log held back); when a step must run or a
 * layer be unpacked (or anything fails), the whole command again as root of the user's
 * namespace. Builds that export, push or move cache records go to the namespace at once.
 */
async function rootlessBuild<R extends RootlessRequest, T>(
  request: R,
  runBuild: (req: R & { cacheOnly: CacheOnlyProbe }) => Promise<T>,
): Promise<T> {
  const { reexecInUserns } = await import('../runner/rootless/userns.js');
  const r = request;
  if (r.noCache || r.push || r.outputs.length || r.cacheFrom.length || r.cacheTo.length) {
    await reexecInUserns();
  }
  (await import('../shared/state-dirs.js')).secureStateDirs();
  const held: string[] = [];
  const log = { write: (chunk: string) => held.push(chunk) } as unknown as NodeJS.WritableStream;
  const probe: CacheOnlyProbe = {};
  const progress = r.progress.withOutput(log);
  const warn = (line: string) => held.push(`${line}\n`);
  const flush = () => process.stderr.write(held.join(''));
  try {
    const result = await runBuild({ ...request, progress, warn, cacheOnly: probe });
    flush();
    return result;
  } catch (e) {
    // a miss, or any failure (a file only the namespace's root may read...): the namespace
    // decides, and reports the build's own error if there is one
    if (r.debugCache)
      process.stderr.write(
        `rootless: ${probe.blocked ?? (e as Error).message}: building as root of the user namespace\n`,
      );
  }
  await reexecInUserns();
  throw new Error('rootless: re-exec returned'); // reexecInUserns exits for the plain user
}

async function extraHosts(list: string[]): Promise<ExtraHost[]> {
  if (list.length === 0) return [];
  const { parseExtraHost } = await import('../runner/resolv-conf.js');
  const { gatewayOf, parseSubnet } = await import('../runner/network.js');
  return list.map((h) => parseExtraHost(h, () => gatewayOf(parseSubnet())));
}

function buildArgs(list: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq < 0) {
      const env = process.env[a];
      if (env !== undefined) m.set(a, env);
    } else m.set(a.slice(0, eq), a.slice(eq + 1));
  }
  return m;
}

function secrets(list: string[]): Map<string, SecretSource> {
  const m = new Map<string, SecretSource>();
  for (const s of list) {
    const f = new Map(
      s.split(',').map((kv) => [kv.split('=')[0]!, kv.split('=').slice(1).join('=')] as const),
    );
    const id = f.get('id');
    if (!id) throw new UsageError(`invalid --secret "${s}"`, 'id=ID,src=FILE or id=ID,env=VAR');
    const src = f.get('src') ?? f.get('source');
    const env = f.get('env');
    m.set(id, src ? { file: src } : { env: env ?? id });
  }
  return m;
}
