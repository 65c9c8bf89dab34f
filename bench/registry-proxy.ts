// Benchmark: pulls through a pull-through cache, tsregistry's proxy mode vs the reference
// registry in proxy mode (`proxy.remoteurl`), both in front of the same upstream (a reference
// registry holding one single-layer image of random bytes), same run. Per round each proxy
// starts empty: a cold pull (skopeo copy to a dir:, everything fetched from the upstream), then
// a warm pull (everything cached); then, with fresh proxies, 16 concurrent cold pulls of the
// image (the manifest, then config and layer with one curl per pull, bytes discarded: curl,
// not Node's fetch, so that the 16 clients' own cost stays small beside the servers'). Proxies
// alternate which goes first each round. Also a skopeo pull from bench/null-registry.ts (the
// image served from memory): what skopeo alone can do, the ceiling of any warm-pull ratio. And,
// since skopeo's own work (hashing, writing the layer to disk) dominates its pulls here, the
// layer alone with one curl (bytes dropped), cold then warm, from fresh proxies: the servers'
// own speed; and the same cold and warm pulls with tspull, a lighter client than skopeo (its
// ceiling from the null registry printed too).
// Prints median seconds and the ratio reference/tsregistry (>1: tsregistry faster).
// Usage: node dist/bench/registry-proxy.js [MiB=256] [ROUNDS=3]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';
import {
  freePort,
  makeImage,
  spawnRegistry,
  writeOciLayout,
} from '../test/helpers/registry-server.js';

const mib = Number(process.argv[2] ?? 256);
const ROUNDS = Number(process.argv[3] ?? 3);
const REPO = 'library/big';
const CONCURRENT = 16;

interface Proxy {
  url: string;
  host: string;
  close(): Promise<void>;
}

type Kind = 'tsregistry' | 'reference';

async function startProxy(kind: Kind, upstream: string, work: string): Promise<Proxy> {
  if (kind === 'reference') {
    const r = await startReferenceRegistry({ extraYaml: `proxy:\n  remoteurl: ${upstream}\n` });
    return { url: r.url, host: r.host, close: () => r.close() };
  }
  const root = mkdtempSync(join(work, 'tsreg-'));
  const r = await spawnRegistry(root, `proxy:\n  remoteurl: ${upstream}\n  ttl: 1h\n`);
  return {
    url: r.url,
    host: r.host,
    close: async () => {
      await r.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** One GET of a blob with curl (bytes dropped); seconds. */
function curlGet(proxy: Proxy, digest: string, size: number): number {
  const t0 = performance.now();
  const r = spawnSync(
    'curl',
    ['-sf', '-o', '/dev/null', '-w', '%{size_download}', `${proxy.url}/v2/${REPO}/blobs/${digest}`],
    { encoding: 'utf8' },
  );
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0 || Number(r.stdout) !== size)
    throw new Error(`curl from ${proxy.host}: exit ${r.status}, ${r.stdout} of ${size} bytes`);
  return s;
}

function skopeoPull(proxy: Proxy, work: string): number {
  const dest = mkdtempSync(join(work, 'pull-'));
  const t0 = performance.now();
  const r = spawnSync(
    'skopeo',
    ['copy', '--src-tls-verify=false', `docker://${proxy.host}/${REPO}:v1`, `dir:${dest}`],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const s = (performance.now() - t0) / 1000;
  rmSync(dest, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`skopeo pull from ${proxy.host} failed: ${r.stderr}`);
  return s;
}

/** One `tspull` of the image into a fresh local store; seconds. */
function tspullPull(proxy: Proxy, work: string): number {
  const root = mkdtempSync(join(work, 'tspull-'));
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tspull.js');
  const env = { ...process.env, TSDOCK_ROOT: root, TSDOCK_CONFIG: join(root, 'config') };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, '-q', `${proxy.host}/${REPO}:v1`], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const s = (performance.now() - t0) / 1000;
  rmSync(root, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`tspull from ${proxy.host} failed: ${r.stderr}`);
  return s;
}

/** One pull over HTTP: the manifest, then every blob with one curl (bytes dropped). */
async function httpPull(proxy: Proxy): Promise<void> {
  const accept = 'application/vnd.oci.image.manifest.v1+json';
  const res = await fetch(`${proxy.url}/v2/${REPO}/manifests/v1`, { headers: { accept } });
  if (res.status !== 200) throw new Error(`manifest from ${proxy.host}: HTTP ${res.status}`);
  const m = (await res.json()) as {
    config: { digest: string; size: number };
    layers: { digest: string; size: number }[];
  };
  const blobs = [m.config, ...m.layers];
  const args = ['-sf', '-w', '%{size_download}\\n'];
  for (const b of blobs) args.push('-o', '/dev/null', `${proxy.url}/v2/${REPO}/blobs/${b.digest}`);
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn('curl', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    c.stdout.on('data', (d: Buffer) => (text += d.toString()));
    // 'close', not 'exit': stdout is read to its end by then
    c.once('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`curl from ${proxy.host}: exit ${code}`)),
    );
  });
  const sizes = out.trim().split('\n').map(Number);
  if (sizes.join() !== blobs.map((b) => b.size).join())
    throw new Error(`blobs from ${proxy.host}: got ${sizes.join()} bytes`);
}

async function concurrentCold(kind: Kind, upstream: string, work: string): Promise<number> {
  const proxy = await startProxy(kind, upstream, work);
  try {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENT }, () => httpPull(proxy)));
    return (performance.now() - t0) / 1000;
  } finally {
    await proxy.close();
  }
}

/** bench/null-registry.ts serving the layout from memory, as its own process. */
async function startNullRegistry(layout: string): Promise<Proxy> {
  const port = await freePort();
  const script = join(dirname(fileURLToPath(import.meta.url)), 'null-registry.js');
  const child = spawn(process.execPath, [script, String(port), layout], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (
    let i = 0;
    !(await fetch(`${url}/v2/`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  ) {
    if (i > 100) throw new Error('null registry did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-proxy-'));
  const upstream = await startReferenceRegistry();
  let ceiling: Proxy | undefined;
  try {
    const layout = join(work, 'layout');
    writeOciLayout(layout, 'v1', makeImage([randomBytes(mib * 1024 * 1024)]));
    const skopeo = (args: string[]): void => {
      const r = spawnSync('skopeo', ['copy', ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`skopeo copy ${args.join(' ')}: ${r.stderr}`);
    };
    skopeo(['--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${upstream.host}/${REPO}:v1`]);
    // the null registry serves the upstream's blobs as they are (skopeo compressed the layer)
    const pulled = join(work, 'pulled');
    skopeo(['--src-tls-verify=false', `docker://${upstream.host}/${REPO}:v1`, `oci:${pulled}:v1`]);
    rmSync(layout, { recursive: true, force: true });
    ceiling = await startNullRegistry(pulled);
    skopeo(['--dest-tls-verify=false', `oci:${pulled}:v1`, `docker://${ceiling.host}/${REPO}:v1`]);
    const m = (await (
      await fetch(`${upstream.url}/v2/${REPO}/manifests/v1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as { layers: { digest: string; size: number }[] };
    const layer = m.layers[0]!;
    type Row = 'cold' | 'warm' | 'c16' | 'curlCold' | 'curlWarm' | 'tsCold' | 'tsWarm';
    const empty = (): Record<Row, number[]> => ({
      cold: [],
      warm: [],
      c16: [],
      curlCold: [],
      curlWarm: [],
      tsCold: [],
      tsWarm: [],
    });
    const times: Record<Kind, Record<Row, number[]>> = {
      tsregistry: empty(),
      reference: empty(),
    };
    const nullPulls: number[] = [];
    const nullTspulls: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      nullPulls.push(skopeoPull(ceiling, work));
      nullTspulls.push(tspullPull(ceiling, work));
      const order: Kind[] = round % 2 ? ['reference', 'tsregistry'] : ['tsregistry', 'reference'];
      for (const kind of order) {
        const proxy = await startProxy(kind, upstream.url, work);
        try {
          times[kind].cold.push(skopeoPull(proxy, work));
          times[kind].warm.push(skopeoPull(proxy, work));
        } finally {
          await proxy.close();
        }
      }
      for (const kind of order) {
        const proxy = await startProxy(kind, upstream.url, work);
        try {
          times[kind].curlCold.push(curlGet(proxy, layer.digest, layer.size));
          times[kind].curlWarm.push(curlGet(proxy, layer.digest, layer.size));
        } finally {
          await proxy.close();
        }
      }
      for (const kind of order) {
        const proxy = await startProxy(kind, upstream.url, work);
        try {
          times[kind].tsCold.push(tspullPull(proxy, work));
          times[kind].tsWarm.push(tspullPull(proxy, work));
        } finally {
          await proxy.close();
        }
      }
      for (const kind of order)
        times[kind].c16.push(await concurrentCold(kind, upstream.url, work));
    }
    const rows: [string, Row, string][] = [
      ['cold pull (skopeo, nothing cached)', 'cold', '>= 1.0'],
      ['warm pull (skopeo, all cached)', 'warm', '>= 1.5'],
      [`${CONCURRENT} concurrent cold pulls (HTTP)`, 'c16', '>= 2.0'],
      ['cold GET of the layer (one curl)', 'curlCold', ''],
      ['warm GET of the layer (one curl)', 'curlWarm', ''],
      ['cold pull (tspull, nothing cached)', 'tsCold', ''],
      ['warm pull (tspull, all cached)', 'tsWarm', ''],
    ];
    console.log(`${mib} MiB single-layer image, ${ROUNDS} rounds, medians.\n`);
    console.log('| pull | reference proxy s | tsregistry proxy s | ratio ref/ts | target |');
    console.log('|---|---|---|---|---|');
    for (const [label, key, target] of rows) {
      const ref = median(times.reference[key]);
      const ts = median(times.tsregistry[key]);
      console.log(
        `| ${label} | ${ref.toFixed(2)} | ${ts.toFixed(2)} | ${(ref / ts).toFixed(2)}x | ${target} |`,
      );
    }
    const n = median(nullPulls);
    console.log(
      `\nskopeo from a null registry (image in memory, no storage), same rounds: ${n.toFixed(2)} s = ` +
        `${(median(times.reference.warm) / n).toFixed(2)}x the reference warm pull: the most any ` +
        'registry can score on the warm pull here.',
    );
    const nt = median(nullTspulls);
    console.log(
      `tspull from the null registry: ${nt.toFixed(2)} s = ` +
        `${(median(times.reference.tsWarm) / nt).toFixed(2)}x the reference warm tspull.`,
    );
  } finally {
    await ceiling?.close();
    await upstream.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`registry-proxy bench: ${(e as Error).message}`);
  process.exit(1);
});
