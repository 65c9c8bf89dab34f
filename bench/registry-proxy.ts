// Benchmark: pulls through a pull-through cache, tsregistry's proxy mode vs the reference
// registry in proxy mode (`proxy.remoteurl`), both in front of the same upstream (a reference
// registry holding one single-layer image of random bytes), same run. Per round each proxy
// starts empty: a cold pull (skopeo copy to a dir:, everything fetched from the upstream), then
// a warm pull (everything cached); then, with fresh proxies, 16 concurrent cold pulls of the
// image (manifest, config and layer over HTTP, bytes discarded). Proxies alternate which goes
// first each round. Prints median seconds and the ratio reference/tsregistry (>1: tsregistry
// faster). Usage: node dist/bench/registry-proxy.js [MiB=256] [ROUNDS=3]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';
import { makeImage, spawnRegistry, writeOciLayout } from '../test/helpers/registry-server.js';

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

/** One pull over HTTP: manifest, then every blob, bytes counted and dropped. */
async function httpPull(proxy: Proxy): Promise<number> {
  const accept = 'application/vnd.oci.image.manifest.v1+json';
  const res = await fetch(`${proxy.url}/v2/${REPO}/manifests/v1`, { headers: { accept } });
  if (res.status !== 200) throw new Error(`manifest from ${proxy.host}: HTTP ${res.status}`);
  const m = (await res.json()) as { config: { digest: string }; layers: { digest: string }[] };
  let bytes = 0;
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
    const b = await fetch(`${proxy.url}/v2/${REPO}/blobs/${d}`);
    if (b.status !== 200) throw new Error(`blob from ${proxy.host}: HTTP ${b.status}`);
    for await (const c of b.body as unknown as AsyncIterable<Uint8Array>) bytes += c.length;
  }
  return bytes;
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-proxy-'));
  const upstream = await startReferenceRegistry();
  try {
    const layout = join(work, 'layout');
    writeOciLayout(layout, 'v1', makeImage([randomBytes(mib * 1024 * 1024)]));
    const push = spawnSync(
      'skopeo',
      [
        'copy',
        '--dest-tls-verify=false',
        `oci:${layout}:v1`,
        `docker://${upstream.host}/${REPO}:v1`,
      ],
      { encoding: 'utf8' },
    );
    if (push.status !== 0) throw new Error(`skopeo push to the upstream failed: ${push.stderr}`);
    rmSync(layout, { recursive: true, force: true });
    const times: Record<Kind, { cold: number[]; warm: number[]; c16: number[] }> = {
      tsregistry: { cold: [], warm: [], c16: [] },
      reference: { cold: [], warm: [], c16: [] },
    };
    for (let round = 0; round < ROUNDS; round++) {
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
      for (const kind of order)
        times[kind].c16.push(await concurrentCold(kind, upstream.url, work));
    }
    const rows: [string, 'cold' | 'warm' | 'c16', string][] = [
      ['cold pull (skopeo, nothing cached)', 'cold', '>= 1.0'],
      ['warm pull (skopeo, all cached)', 'warm', '>= 1.5'],
      [`${CONCURRENT} concurrent cold pulls (HTTP)`, 'c16', '>= 2.0'],
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
  } finally {
    await upstream.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`registry-proxy bench: ${(e as Error).message}`);
  process.exit(1);
});
