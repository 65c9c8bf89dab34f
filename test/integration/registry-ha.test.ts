// Three tsregistry replicas (each `--workers 2`) behind HAProxy, as a team runs them: one
// PostgreSQL database (test/helpers/postgres.ts), one radosgw bucket (test/helpers/radosgw.ts),
// one token signing key; the balancer and replicas from test/helpers/ha-cluster.ts. skopeo
// pushes through the balancer and pulls from each replica; a tag moved on one replica is served
// by the next at once; a chunked upload moves between all three; a replica killed with SIGKILL during 20 concurrent pushes loses no acknowledged push;
// the distribution-spec workflow tests pass through the balancer; PostgreSQL stopped answers
// 503 (OCI body, Retry-After) through the balancer; and with token auth on, a token one
// replica issued is accepted by the others (and one signed with another key is not).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresRegistryFixture } from '../helpers/postgres.js';
import { startRadosgw, type TestRadosgw } from '../helpers/radosgw.js';
import { startHaproxy, startReplica, type Balancer, type Replica } from '../helpers/ha-cluster.js';
import {
  basic,
  expectIntact,
  makeImage,
  pushRetrying,
  run,
  runTestFile,
  sha256,
  startRegistry,
  writeOciLayout,
  type TestImage,
} from '../helpers/registry-server.js';
import { UsersFile } from '../../registry/auth/users.js';

const { server, tempDir, track } = postgresRegistryFixture('kill9');
const mib = 1024 * 1024;
let rgw: TestRadosgw | undefined;
let balancer: Balancer | undefined;
let dsn: string;
let storageYaml: string;
let dir: string;
const replicas: Replica[] = [];
/** The digest of the first image skopeo pushed (checked again after the restart with auth). */
let firstDigest = '';

/** Starts replica `i` (again) on its own directory and port, with `extraYaml` (e.g. auth). */
async function replica(i: number, extraYaml = ''): Promise<Replica> {
  const start = () =>
    startReplica(`r${i}`, {
      root: join(dir, `r${i}`),
      dsn,
      workers: 2,
      storageYaml,
      extraYaml,
      port: replicas[i]?.port,
    });
  // Restarted on its old port (the balancer's config names it), which a killed replica's
  // workers may hold for a moment longer.
  let r: Replica | undefined;
  for (let attempt = 1; !r; attempt++)
    r = await start().catch((err: Error) => {
      if (attempt === 20 || !/EADDRINUSE/.test(err.message)) throw err;
      return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 250));
    });
  track(r);
  replicas[i] = r;
  return r;
}

before(async () => {
  rgw = await startRadosgw();
  const bucket = await rgw.bucket();
  dir = tempDir('tsreg-ha-');
  dsn = await server().createDatabase('ha');
  storageYaml = [
    '  s3:',
    '    region: us-east-1',
    `    regionendpoint: ${rgw.endpoint}`,
    `    bucket: ${bucket}`,
    `    accesskey: ${rgw.accessKey}`,
    `    secretkey: ${rgw.secretKey}`,
    '    forcepathstyle: true',
    '    rootdirectory: ha',
    `    chunksize: ${5 * mib}`,
  ].join('\n');
  for (let i = 0; i < 3; i++) await replica(i);
  balancer = await startHaproxy(join(dir, 'haproxy'), replicas);
});
after(async () => {
  await balancer?.stop();
  for (const r of replicas) await r.kill9();
  await rgw?.close();
});

const skopeo = (...args: string[]) => run('skopeo', args, { timeoutMs: 120_000 });

/** The manifest digest `url` serves for `repo:ref`, or the status when it serves none. */
async function servedDigest(url: string, repo: string, ref: string): Promise<string> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, {
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const body = Buffer.from(await res.arrayBuffer());
  return res.status === 200 ? sha256(body) : String(res.status);
}

test('skopeo pushes through HAProxy; every replica serves the same image', async () => {
  const work = tempDir('tsreg-ha-sk-');
  const img = makeImage([400_000, 2000]);
  writeOciLayout(join(work, 'in'), 'v1', img);
  const r = await skopeo(
    'copy',
    '--preserve-digests',
    '--dest-tls-verify=false',
    `oci:${join(work, 'in')}:v1`,
    `docker://${balancer!.host}/ha/app:v1`,
  );
  assert.equal(r.status, 0, r.stderr);
  firstDigest = img.digest;
  for (const rep of replicas) {
    const out = join(work, `out-${rep.name}`);
    const pulled = await skopeo(
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${rep.host}/ha/app:v1`,
      `oci:${out}:v1`,
    );
    assert.equal(pulled.status, 0, `${rep.name}: ${pulled.stderr}`);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    assert.equal(index.manifests[0]!.digest, img.digest, `${rep.name} serves the pushed manifest`);
    for (const b of [img.config, ...img.layers])
      assert.equal(
        sha256(readFileSync(join(out, 'blobs', 'sha256', sha256(b).slice(7)))),
        sha256(b),
      );
  }
});

test('a tag moved through one replica is served by the next at once (50 rounds)', async () => {
  const images = [makeImage([1000]), makeImage([2000])];
  for (const [i, img] of images.entries())
    await pushRetrying(balancer!.url, 'ha/tags', `i${i}`, img);
  for (let round = 0; round < 50; round++) {
    const [on, next] = [replicas[round % 3]!, replicas[(round + 1) % 3]!];
    const img = images[round % 2]!;
    const put = await fetch(`${on.url}/v2/ha/tags/manifests/moving`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: img.manifest,
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal(await servedDigest(next.url, 'ha/tags', 'moving'), img.digest, `round ${round}`);
  }
});

test('a chunked upload whose PATCH chunks land on each replica in turn completes', async () => {
  // Sizes around S3's 5 MiB part minimum: a whole part, then tails another replica must carry on.
  const chunks = [randomBytes(5 * mib + 1234), randomBytes(2 * mib), randomBytes(77_000)];
  const data = Buffer.concat(chunks);
  const [a, b, c] = replicas as [Replica, Replica, Replica];
  const post = await fetch(`${a.url}/v2/ha/chunked/blobs/uploads/`, { method: 'POST' });
  assert.equal(post.status, 202, await post.text());
  let path = post.headers.get('location')!.replace(/^https?:\/\/[^/]+/, '');
  let offset = 0;
  for (const [i, chunk] of chunks.entries()) {
    const on = [b, c, a][i]!;
    const res = await fetch(`${on.url}${path}`, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${offset}-${offset + chunk.length - 1}`,
      },
      body: chunk,
    });
    assert.equal(res.status, 202, `PATCH ${i} on ${on.name}: ${await res.text()}`);
    offset += chunk.length;
    assert.equal(res.headers.get('range'), `0-${offset - 1}`, `${on.name} saw every byte so far`);
    path = res.headers.get('location')!.replace(/^https?:\/\/[^/]+/, '');
  }
  const put = await fetch(
    `${b.url}${path}${path.includes('?') ? '&' : '?'}digest=${sha256(data)}`,
    {
      method: 'PUT',
    },
  );
  assert.equal(put.status, 201, await put.text());
  for (const rep of replicas) {
    const got = await fetch(`${rep.url}/v2/ha/chunked/blobs/${sha256(data)}`);
    assert.equal(got.status, 200);
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(data), rep.name);
  }
});

test('a replica killed with SIGKILL during 20 concurrent pushes: every acknowledged push is intact', async () => {
  const acked: Array<{ tag: string; img: TestImage }> = [];
  let pushing = true;
  const clients = Array.from({ length: 20 }, (_, c) =>
    (async () => {
      for (let i = 0; pushing; i++) {
        const img = makeImage([30_000, 2000]);
        await pushRetrying(balancer!.url, 'ha/kill', `c${c}-${i}`, img);
        acked.push({ tag: `c${c}-${i}`, img });
      }
    })(),
  );
  const until = async (what: string, cond: () => boolean) => {
    for (const deadline = Date.now() + 90_000; !cond();) {
      assert.ok(Date.now() < deadline, what);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await until('pushes go through', () => acked.length >= 20);
    const victim = replicas[2]!;
    await victim.kill9();
    const before = acked.length;
    await until('pushes go on after the kill', () => acked.length >= before + 20);
  } finally {
    pushing = false;
    await Promise.all(clients);
  }
  for (const { tag, img } of acked) {
    await expectIntact(balancer!.url, 'ha/kill', tag, img);
    for (const rep of replicas.slice(0, 2)) await expectIntact(rep.url, 'ha/kill', tag, img);
  }
  await replica(2);
  // Back in the balancer once its health check passes; it serves what the others acknowledged.
  const { tag, img } = acked[acked.length - 1]!;
  await expectIntact(replicas[2]!.url, 'ha/kill', tag, img);
});

test('the distribution-spec workflow tests pass through the balancer', async () => {
  const file = fileURLToPath(new URL('registry-workflows.test.js', import.meta.url));
  const res = await runTestFile(file, { REGISTRY_URL: balancer!.url });
  assert.equal(res.status, 0, `workflows through HAProxy:\n${res.stdout.slice(-4000)}`);
  assert.match(res.stdout, /# fail 0/);
  assert.doesNotMatch(res.stdout, /# pass 0\b/, 'it ran tests');
});

test('PostgreSQL stopped: 503 with an OCI body and Retry-After through the balancer, then recovery', async () => {
  await server().stop();
  try {
    for (const path of ['/v2/_catalog', '/v2/ha/app/tags/list', '/v2/ha/app/manifests/none']) {
      const res = await fetch(`${balancer!.url}${path}`);
      const text = await res.text();
      assert.equal(res.status, 503, `${path}: ${text}`);
      const body = JSON.parse(text) as { errors: Array<{ code: string }> };
      assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
      assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After');
    }
  } finally {
    await server().start();
  }
  const res = await fetch(`${balancer!.url}/v2/_catalog`);
  assert.equal(res.status, 200, await res.text());
});

test('token auth with one signing key: a token from one replica is accepted by the others', async () => {
  const auth = join(dir, 'auth');
  const key = join(auth, 'token-key.pem');
  const usersFile = join(auth, 'users.json');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  new UsersFile(usersFile).add('ci', 'ci-secret');
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const authYaml = [
    'auth:',
    '  token:',
    `    key: ${key}`,
    `    users: ${usersFile}`,
    '    anonymouspull: true',
  ].join('\n');
  for (const [i, r] of replicas.entries()) {
    await r.stop();
    await replica(i, authYaml);
  }
  const [a, b, c] = replicas as [Replica, Replica, Replica];
  const tokenFrom = async (url: string, password = 'ci-secret') => {
    const res = await fetch(`${url}/token?service=tsregistry&scope=repository:ha/auth:pull,push`, {
      headers: { Authorization: basic('ci', password) },
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { token: string }).token;
  };
  const token = await tokenFrom(a.url);
  const blob = randomBytes(1000);
  const push = (url: string, bearer?: string) =>
    fetch(`${url}/v2/ha/auth/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/octet-stream',
        ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
      },
      body: blob,
    });
  assert.equal((await push(b.url)).status, 401, 'no token: refused');
  for (const rep of [b, c]) {
    const res = await push(rep.url, token);
    assert.equal(
      res.status,
      201,
      `${rep.name} accepts a token from ${a.name}: ${await res.text()}`,
    );
  }
  // A token signed with another key (a registry of its own) is refused by every replica.
  const other = await startRegistry({ auth: { users: { ci: { password: 'ci-secret' } } } });
  try {
    const foreign = await tokenFrom(other.url);
    for (const rep of replicas) assert.equal((await push(rep.url, foreign)).status, 401, rep.name);
  } finally {
    await other.close();
  }
  // skopeo with credentials through the balancer: each request may reach another replica.
  const work = tempDir('tsreg-ha-auth-');
  const img = makeImage([50_000]);
  writeOciLayout(join(work, 'in'), 'v1', img);
  const r = await skopeo(
    'copy',
    '--preserve-digests',
    '--dest-tls-verify=false',
    '--dest-creds',
    'ci:ci-secret',
    `oci:${join(work, 'in')}:v1`,
    `docker://${balancer!.host}/ha/auth:v1`,
  );
  assert.equal(r.status, 0, r.stderr);
  for (const rep of replicas)
    assert.equal(await servedDigest(rep.url, 'ha/auth', 'v1'), img.digest);
  // What was pushed before the restart is still there (one database, one bucket).
  assert.equal(await servedDigest(balancer!.url, 'ha/app', 'v1'), firstDigest);
});
