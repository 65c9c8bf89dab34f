// Registry benchmark, side by side in one run: the reference registry (CNCF distribution,
// Debian's docker-registry) and tsregistry, each fresh in a temp dir on 127.0.0.1, no auth.
//   - skopeo push and pull of a single-layer image (default 256 MiB), MB/s
//   - manifest GET by tag (wrk -c32 -t2 -d5s) and blob HEAD (ab -k -i -c32: wrk hangs on HEAD
//     replies that carry a Content-Length), requests/s
//   - the same push and pull against a null registry (bench/null-registry.ts: drops uploaded
//     bytes, serves blobs from memory): what skopeo itself can do here, the ceiling of any
//     registry measured with skopeo as the client
// Prints the figures and the tsregistry/reference ratios. Usage:
//   node dist/bench/registry.js [--size-mib 256] [--duration 5] [--runs 5]
// Push/pull figures are medians over RUNS rounds; each round starts every registry fresh, in a
// rotating order, so drift in the machine's load (it is shared and noisy) favours none of them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  writeSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Target {
  name: string;
  port: number;
  child: ChildProcess;
}

interface Figures {
  pushMBs: number;
  pullMBs: number;
  manifestRps: number;
  headRps: number;
}

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SIZE_MIB = flag('size-mib', 256);
const DURATION = flag('duration', 5);
const RUNS = flag('runs', 5);

function sha256hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** An OCI layout with one layer of SIZE_MIB random bytes (labelled gzip so skopeo copies it as is). */
function makeLayout(dir: string): void {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const tmp = join(blobs, 'layer.tmp');
  const fd = openSync(tmp, 'w');
  const hash = createHash('sha256');
  for (let i = 0; i < SIZE_MIB; i++) {
    const chunk = randomBytes(1 << 20);
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  const layerHex = hash.digest('hex');
  renameSync(tmp, join(blobs, layerHex));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] },
    }),
  );
  writeFileSync(join(blobs, sha256hex(config)), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${sha256hex(config)}`,
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: `sha256:${layerHex}`,
          size: SIZE_MIB << 20,
        },
      ],
    }),
  );
  writeFileSync(join(blobs, sha256hex(manifest)), manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${sha256hex(manifest)}`,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'v1' },
        },
      ],
    }),
  );
  (makeLayout as { layer?: string }).layer = `sha256:${layerHex}`;
}

async function waitUp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`registry on ${port} did not start`);
}

async function startReference(dir: string, port: number): Promise<Target> {
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  await waitUp(port);
  return { name: 'reference', port, child };
}

async function startNull(dir: string, port: number): Promise<Target> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'null-registry.js');
  const layout = join(dir, '..', 'layout');
  const child = spawn(process.execPath, [script, String(port), layout], { stdio: 'ignore' });
  await waitUp(port);
  return { name: 'null', port, child };
}

async function startTsregistry(dir: string, port: number): Promise<Target> {
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tsregistry.js');
  const child = spawn(process.execPath, [bin, '--config', config], { stdio: 'ignore' });
  await waitUp(port);
  return { name: 'tsregistry', port, child };
}

function timed(cmd: string, argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Blob HEAD load with ab (-i): wrk waits for a body after a HEAD reply with Content-Length. */
function abHead(url: string): number {
  const r = spawnSync('ab', ['-k', '-i', '-c32', '-t', String(DURATION), '-n', '10000000', url], {
    encoding: 'utf8',
  });
  const m = /Requests per second:\s+([\d.]+)/.exec(r.stdout);
  const failed = /Non-2xx responses:\s+(\d+)/.exec(r.stdout);
  if (!m || failed) throw new Error(`ab HEAD ${url}: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

function wrk(url: string, method: 'GET' | 'HEAD', scriptDir: string): number {
  const script = join(scriptDir, `${method}.lua`);
  writeFileSync(
    script,
    `wrk.method = "${method}"\nwrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"\n`,
  );
  const r = spawnSync('wrk', ['-c32', '-t2', `-d${DURATION}s`, '-s', script, url], {
    encoding: 'utf8',
  });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout);
  if (!m || non2xx) throw new Error(`wrk ${method} ${url}: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

/** One fresh registry: skopeo push then pull of the image, in MB/s. */
function transfer(t: Target, layout: string, work: string): { push: number; pull: number } {
  const host = `127.0.0.1:${t.port}`;
  const mb = SIZE_MIB * 1.048576;
  const push = timed('skopeo', [
    'copy',
    '--preserve-digests',
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${host}/bench/img:v1`,
  ]);
  const out = join(work, `pull-${t.name}`);
  const pull = timed('skopeo', [
    'copy',
    '--preserve-digests',
    '--src-tls-verify=false',
    `docker://${host}/bench/img:v1`,
    `oci:${out}:v1`,
  ]);
  rmSync(out, { recursive: true, force: true });
  return { push: mb / push, pull: mb / pull };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

type Start = (dir: string, port: number) => Promise<Target>;

/** One fresh registry in its own directory, stopped and removed after `fn`. */
async function withFresh<T>(
  name: string,
  start: Start,
  port: number,
  work: string,
  fn: (t: Target) => T,
): Promise<T> {
  const dir = mkdtempSync(join(work, `${name}-`));
  const t = await start(dir, port);
  try {
    return fn(t);
  } finally {
    await stop(t);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Request rates on a fresh registry holding the image. */
function rates(t: Target, layout: string, work: string): Pick<Figures, 'manifestRps' | 'headRps'> {
  transfer(t, layout, work);
  const host = `127.0.0.1:${t.port}`;
  const layer = (makeLayout as { layer?: string }).layer!;
  const manifestRps = wrk(`http://${host}/v2/bench/img/manifests/v1`, 'GET', work);
  const headRps = abHead(`http://${host}/v2/bench/img/blobs/${layer}`);
  return { manifestRps, headRps };
}

async function stop(t: Target): Promise<void> {
  t.child.kill('SIGTERM');
  await new Promise((r) => t.child.once('exit', r));
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tsreg-bench-'));
  try {
    const layout = join(work, 'layout');
    makeLayout(layout);
    const targets: [string, Start, number][] = [
      ['reference', startReference, 5791],
      ['tsregistry', startTsregistry, 5792],
      ['null', startNull, 5793],
    ];
    const push: Record<string, number[]> = {};
    const pull: Record<string, number[]> = {};
    for (let run = 0; run < RUNS; run++) {
      for (let k = 0; k < targets.length; k++) {
        const [name, start, port] = targets[(run + k) % targets.length]!;
        const r = await withFresh(name, start, port, work, (t) => transfer(t, layout, work));
        (push[name] ??= []).push(r.push);
        (pull[name] ??= []).push(r.pull);
      }
    }
    const results: Record<string, Figures> = {};
    for (const [name, start, port] of targets.slice(0, 2))
      results[name] = {
        pushMBs: median(push[name]!),
        pullMBs: median(pull[name]!),
        ...(await withFresh(name, start, port, work, (t) => rates(t, layout, work))),
      };
    const ref = results.reference!;
    const ts = results.tsregistry!;
    const row = (label: string, k: keyof Figures, unit: string) =>
      `| ${label} | ${ref[k].toFixed(0)} ${unit} | ${ts[k].toFixed(0)} ${unit} | ${(ts[k] / ref[k]).toFixed(2)}x |`;
    console.log(
      `## Registry: tsregistry vs reference registry (${SIZE_MIB} MiB layer, push/pull median of ${RUNS}, wrk/ab -c32 ${DURATION}s)\n`,
    );
    console.log('| what | reference | tsregistry | ratio |\n|---|---|---|---|');
    console.log(row('skopeo push', 'pushMBs', 'MB/s'));
    console.log(row('skopeo pull', 'pullMBs', 'MB/s'));
    console.log(row('manifest GET', 'manifestRps', 'req/s'));
    console.log(row('blob HEAD (ab)', 'headRps', 'req/s'));
    const ceiling = (k: 'push' | 'pull'): string => {
      const c = median((k === 'push' ? push : pull).null!);
      return `${c.toFixed(0)} MB/s = ${(c / (k === 'push' ? ref.pushMBs : ref.pullMBs)).toFixed(2)}x the reference`;
    };
    console.log(
      `\nskopeo against a null registry (drops uploads, serves blobs from memory), same rounds: ` +
        `push ${ceiling('push')}, pull ${ceiling('pull')}: no registry can score more than that here.`,
    );
    const each = (xs: Record<string, number[]>): string =>
      targets.map(([n]) => `${n} ${xs[n]!.map((x) => x.toFixed(0)).join('/')}`).join('; ');
    console.log(`rounds, MB/s: push: ${each(push)}; pull: ${each(pull)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
