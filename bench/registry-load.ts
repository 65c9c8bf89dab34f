// Load generators shared by the registry benchmarks: wrk (requests/s, MB/s, p99 latency) and
// parallel monolithic uploads with curl (one process per upload, so the client is not one
// Node event loop).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeImage, sha256 } from '../test/helpers/registry-server.js';

/** A numeric command-line flag (`--name N`), or `def`. */
export function flag(name: string, def: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}

/** wrk against `url`: requests/s, MB/s and p99 latency in ms. */
export function wrk(url: string, connections: number, work: string, duration: number) {
  const script = join(work, 'accept.lua');
  writeFileSync(script, 'wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json"\n');
  const r = spawnSync(
    'wrk',
    [
      '--latency',
      `-c${connections}`,
      `-t${Math.min(2, connections)}`,
      `-d${duration}s`,
      '-s',
      script,
      url,
    ],
    { encoding: 'utf8' },
  );
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(r.stdout);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  if (!rps || !transfer || !p99 || /Non-2xx/.test(r.stdout))
    throw new Error(`wrk ${url}: ${r.stdout}${r.stderr}`);
  const unit = { KB: 1 / 1024, MB: 1, GB: 1024 }[transfer[2]!] ?? 1;
  const ms = { us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'];
  return { rps: Number(rps[1]), mbs: Number(transfer[1]) * unit, p99: Number(p99[1]) * ms };
}

/** A session's URL for a single-PUT (monolithic) upload of `digest`. */
export async function uploadUrl(url: string, repo: string, digest: string): Promise<string> {
  const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await post.arrayBuffer();
  if (post.status !== 202) throw new Error(`upload start: ${post.status}`);
  const loc = new URL(post.headers.get('location')!, url);
  loc.searchParams.set('digest', digest);
  return loc.toString();
}

/** `count` curl processes at once, each one PUT of its own 16 MiB blob: MB/s. */
export async function parallelUploads(url: string, work: string, count: number): Promise<number> {
  const files = Array.from({ length: count }, (_, i) => {
    const data = randomBytes(16 << 20);
    const file = join(work, `up${i}`);
    writeFileSync(file, data);
    return { file, digest: sha256(data) };
  });
  const targets = await Promise.all(files.map((f) => uploadUrl(url, 'bench/up', f.digest)));
  const begin = process.hrtime.bigint();
  await Promise.all(
    files.map(
      ({ file }, i) =>
        new Promise<void>((resolve, reject) => {
          const c = spawn('curl', [
            '-sf',
            '-o',
            '/dev/null',
            '-X',
            'PUT',
            '-H',
            'Content-Type: application/octet-stream',
            '--data-binary',
            `@${file}`,
            targets[i]!,
          ]);
          c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl ${code}`))));
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
  return (count * 16) / seconds;
}

/** Pushes an image with one `blobMib` MiB layer as bench/img:v1; its layer's and manifest's URLs. */
export async function pushBenchImage(url: string, blobMib: number) {
  const img = makeImage([blobMib << 20]);
  for (const blob of [img.config, ...img.layers]) {
    const res = await fetch(await uploadUrl(url, 'bench/img', sha256(blob)), {
      method: 'PUT',
      body: blob,
    });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`blob PUT: ${res.status}`);
  }
  const put = await fetch(`${url}/v2/bench/img/manifests/v1`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: img.manifest,
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`manifest PUT: ${put.status}`);
  return {
    blobUrl: `${url}/v2/bench/img/blobs/${sha256(img.layers[0]!)}`,
    manifestUrl: `${url}/v2/bench/img/manifests/v1`,
  };
}
