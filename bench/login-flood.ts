// Login flood benchmark, side by side in one run: how fast a registry still answers a cheap
// request (`GET /v2/` without credentials: a 401 challenge) while 8 clients keep sending wrong
// passwords (bcrypt cost 10 on both sides). The reference registry (CNCF distribution, htpasswd
// auth) checks passwords in goroutines; tsregistry checks them in worker threads (before, on its
// event loop). The failed-login limiter is switched off here so every attempt costs a bcrypt
// compare. Prints probe latency (median, p95, max) idle and under the flood, wrong logins
// answered per second, and the tsregistry/reference ratio. Usage:
//   node dist/bench/login-flood.js [--duration 5] [--clients 8] [--tsregistry-bin PATH]
// (--tsregistry-bin runs another build, e.g. the code before a change, for a before/after.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsersFile } from '../registry/auth/users.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const DURATION = Number(option('duration') ?? 5);
const CLIENTS = Number(option('clients') ?? 8);
const TSREGISTRY_BIN =
  option('tsregistry-bin') ??
  join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tsregistry.js');

interface Target {
  name: string;
  url: string;
  /** Where wrong passwords go. */
  loginUrl: string;
  child: ChildProcess;
}

interface Latency {
  median: number;
  p95: number;
  max: number;
}

interface Figures {
  idle: Latency;
  flood: Latency;
  loginsPerSec: number;
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/v2/`).then(
        (r) => (r.body?.cancel(), true),
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not start`);
}

async function startReference(dir: string, port: number): Promise<Target> {
  const r = spawnSync('htpasswd', ['-Bbn', '-C', '10', 'user', 'right-password'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
  writeFileSync(join(dir, 'htpasswd'), r.stdout);
  const config = join(dir, 'ref.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/ref\nhttp:\n  addr: 127.0.0.1:${port}\nauth:\n  htpasswd:\n    realm: bench\n    path: ${join(dir, 'htpasswd')}\n`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return { name: 'reference', url, loginUrl: `${url}/v2/`, child };
}

async function startTsregistry(dir: string, port: number): Promise<Target> {
  const root = join(dir, 'ts');
  new UsersFile(join(root, 'auth', 'users.json')).add('user', 'right-password');
  const config = join(dir, 'ts.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  addr: 127.0.0.1:${port}\nauth:\n  token:\n    service: tsregistry\n    issuer: tsregistry\n    loginlimit:\n      enabled: false\n`,
  );
  const child = spawn(process.execPath, [TSREGISTRY_BIN, '--config', config], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return { name: 'tsregistry', url, loginUrl: `${url}/token?service=tsregistry`, child };
}

function stats(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { median: at(0.5), p95: at(0.95), max: s[s.length - 1] ?? NaN };
}

/** Probes `GET /v2/` every 20 ms until `stop`, returning each latency in ms. */
async function probe(t: Target, until: number): Promise<number[]> {
  const out: number[] = [];
  while (Date.now() < until) {
    const t0 = performance.now();
    const res = await fetch(`${t.url}/v2/`);
    await res.arrayBuffer();
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

async function measure(t: Target): Promise<Figures> {
  const idle = stats(await probe(t, Date.now() + 2000));
  const until = Date.now() + DURATION * 1000;
  let logins = 0;
  const wrong = `Basic ${Buffer.from('user:wrong-password').toString('base64')}`;
  const flooders = Array.from({ length: CLIENTS }, async () => {
    while (Date.now() < until) {
      const res = await fetch(t.loginUrl, { headers: { Authorization: wrong } });
      await res.arrayBuffer();
      if (res.status !== 401) throw new Error(`${t.name}: wrong login answered ${res.status}`);
      logins++;
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  const [flood] = await Promise.all([probe(t, until), ...flooders]);
  return { idle, flood: stats(flood), loginsPerSec: logins / DURATION };
}

function freePort(): Promise<number> {
  return import('node:net').then(
    ({ createServer }) =>
      new Promise((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      }),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbench-login-'));
  const results = new Map<string, Figures>();
  try {
    for (const start of [startReference, startTsregistry]) {
      const t = await start(dir, await freePort());
      try {
        results.set(t.name, await measure(t));
      } finally {
        t.child.kill('SIGTERM');
        await new Promise((r) => t.child.once('exit', r));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (n: number) => n.toFixed(1);
  console.log(
    `Probe: GET /v2/ (401) every 20 ms; flood: ${CLIENTS} clients sending wrong passwords for ${DURATION} s.\n`,
  );
  console.log('| registry | idle median / p95 ms | flood median / p95 / max ms | wrong logins/s |');
  console.log('|---|---|---|---|');
  for (const [name, r] of results)
    console.log(
      `| ${name} | ${f(r.idle.median)} / ${f(r.idle.p95)} | ${f(r.flood.median)} / ${f(r.flood.p95)} / ${f(r.flood.max)} | ${f(r.loginsPerSec)} |`,
    );
  const ts = results.get('tsregistry')!;
  const ref = results.get('reference')!;
  const x = (n: number) => `${n.toFixed(2)}x`;
  console.log(
    `\ntsregistry/reference under the flood: probe median ${x(ts.flood.median / ref.flood.median)}, p95 ${x(ts.flood.p95 / ref.flood.p95)}; wrong logins/s ${x(ts.loginsPerSec / ref.loginsPerSec)}`,
  );
}

await main();
