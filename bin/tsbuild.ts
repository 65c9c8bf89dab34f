#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tsbuild: build an image from a Dockerfile (docker build's flags), daemonless, with RUN in the
// runner's sandbox and a content-addressed build cache. Thin: flags -> builder/exec/executor.
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { errorLine } from '../shared/errors.js';
import { parseReference } from '../shared/reference.js';
import { openContext } from '../builder/context/build-context.js';
import { build } from '../builder/exec/executor.js';
import { asBuildFailure } from '../builder/errors.js';
import type { SecretSource } from '../builder/exec/exec-context.js';
import type { ExtraHost } from '../runner/resolv-conf.js';
import { parseOutput } from '../builder/export/exporter.js';
import { parseCacheRef } from '../builder/cache/cache-transfer.js';
import { install as installInterruptCleanup } from '../builder/exec/interrupt.js';
import { Progress, type ProgressMode } from '../builder/progress.js';

const HELP = `Usage: tsbuild [OPTIONS] PATH | -

Build an image from a Dockerfile.

Options:
  -t, --tag name            Name and optionally a tag (name:tag), repeatable
  -f, --file string         Name of the Dockerfile (default PATH/Dockerfile; - for stdin)
      --build-arg list      Set build-time variables (KEY=VALUE, or KEY to take it from the env)
      --target string       Build only up to this stage
      --platform string     Target platforms (os/arch[/variant], comma-separated: an index)
      --install-emulators   Register QEMU (qemu-user-static) in binfmt_misc for --platform's
                            platforms, or all, so RUN works for foreign platforms (root)
      --uninstall-emulators Remove the QEMU handlers from binfmt_misc (root)
      --no-cache            Do not use the build cache
      --debug-cache         Explain every cache miss (also TSBUILD_DEBUG_CACHE=1)
      --progress string     auto, plain, tty or quiet (default auto)
      --secret list         id=ID,src=FILE or id=ID,env=VAR for RUN --mount=type=secret
      --output list         type=oci|docker|oci-dir,dest=PATH
      --push                Push every tag after the build
      --cache-from ref      Import build cache from a registry (type=registry,ref=R or R)
      --cache-to ref        Export the build's cache records to a registry
      --memory string       Memory limit for RUN steps (e.g. 512m)
      --network string      RUN's network: default (own namespace on the bridge, outbound
                            NAT), none or host; RUN --network=... overrides it
      --add-host list       Add a host:ip entry to RUN's /etc/hosts (ip may be host-gateway)
  -q, --quiet               Print only the image id
      --iidfile string      Write the image id to a file
      --compression string  Layer compression in the store: gzip (default) or none
`;

runCli('tsbuild', async (argv) => {
  // rootless hook: builds run as root of the user's namespace (runner/rootless/userns.ts)
  if (process.getuid?.() !== 0)
    await (await import('../runner/rootless/userns.js')).reexecInUserns();
  installInterruptCleanup();
  const { values: v, positionals } = parseFlags(argv, {
    tag: { type: 'string', short: 't', multiple: true },
    file: { type: 'string', short: 'f' },
    'build-arg': { type: 'string', multiple: true },
    target: { type: 'string' },
    platform: { type: 'string' },
    'no-cache': { type: 'boolean' },
    'debug-cache': { type: 'boolean' },
    progress: { type: 'string', default: 'auto' },
    secret: { type: 'string', multiple: true },
    output: { type: 'string', short: 'o', multiple: true },
    push: { type: 'boolean' },
    memory: { type: 'string', short: 'm' },
    network: { type: 'string', default: 'default' },
    'add-host': { type: 'string', multiple: true },
    quiet: { type: 'boolean', short: 'q' },
    iidfile: { type: 'string' },
    compression: { type: 'string', default: 'gzip' },
    'cache-from': { type: 'string', multiple: true },
    'cache-to': { type: 'string', multiple: true },
    'install-emulators': { type: 'boolean' },
    'uninstall-emulators': { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v['install-emulators'] || v['uninstall-emulators']) {
    const { manageEmulators } = await import('../shared/emulation.js');
    const { targetPlatforms } = await import('../builder/plan/platforms.js');
    const platforms = v.platform ? targetPlatforms(v.platform) : [];
    const lines = await manageEmulators(v['install-emulators'] === true, platforms);
    for (const l of lines) process.stdout.write(`${l}\n`);
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError(
      'tsbuild requires exactly 1 argument (the context: a directory or -)',
      "see 'tsbuild --help'",
    );
  for (const t of v.tag ?? []) {
    try {
      parseReference(t);
    } catch (e) {
      throw new UsageError(`invalid tag "${t}": ${errorLine(e)}`, 'use name[:tag], e.g. myapp:1.0');
    }
  }
  const mode = v.quiet ? 'quiet' : progressMode(v.progress);
  const network = networkMode(v.network);
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
    limits: v.memory ? { memory: parseSize(v.memory) } : undefined,
    network,
    extraHosts: hosts,
    compression: compressionOf(v.compression),
    cacheFrom: (v['cache-from'] ?? []).map(parseCacheRef),
    cacheTo: (v['cache-to'] ?? []).map(parseCacheRef),
    warn: (line: string) => process.stderr.write(`${line}\n`),
  };
  // Past the command line, a failure is the build's: exit 1 as docker build (125 = usage).
  const result = await openContext({ context: positionals[0]!, file: v.file })
    .then((context) => build({ ...request, context }))
    .catch((e: unknown) => {
      throw asBuildFailure(e, (x) => x instanceof UsageError);
    });
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

function progressMode(p: string | undefined): ProgressMode {
  if (p === 'plain' || p === 'tty' || p === 'quiet') return p;
  if (p === 'auto' || p === undefined) return 'plain';
  throw new UsageError(`invalid --progress "${p}"`, 'use auto, plain, tty or quiet');
}

function networkMode(n: string | undefined): 'default' | 'none' | 'host' {
  if (n === undefined || n === 'default' || n === 'bridge') return 'default';
  if (n === 'none' || n === 'host') return n;
  throw new UsageError(`invalid --network "${n}"`, 'use default, none or host');
}

async function extraHosts(list: string[]): Promise<ExtraHost[]> {
  if (list.length === 0) return [];
  const { parseExtraHost } = await import('../runner/resolv-conf.js');
  const { gatewayOf, parseSubnet } = await import('../runner/network.js');
  return list.map((h) => parseExtraHost(h, () => gatewayOf(parseSubnet())));
}

function compressionOf(c: string | undefined): 'gzip' | 'none' {
  if (c === 'gzip' || c === 'none') return c;
  throw new UsageError(`invalid --compression "${c}"`, 'use gzip or none');
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

function parseSize(s: string): number {
  const m = /^(\d+)([bkmg]?)$/i.exec(s);
  if (!m) throw new UsageError(`invalid size "${s}"`, 'e.g. 512m, 1g');
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * unit;
}
