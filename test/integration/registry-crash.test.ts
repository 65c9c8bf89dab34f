// Crash safety: tsregistry runs as a child process and is killed with SIGKILL at random points
// while uploads and manifest puts are in flight, over dozens of trials. After each restart every
// completed push must be intact, no blob may sit under a wrong digest, and an interrupted
// upload session must be resumable.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeImage,
  pushImage,
  sha256,
  spawnRegistry,
  type RegistryProcess,
  type TestImage,
} from '../helpers/registry-server.js';

const TRIALS = Number(process.env.TSREGISTRY_CRASH_TRIALS ?? 30);
const root = mkdtempSync(join(tmpdir(), 'tsreg-crash-'));
let proc: RegistryProcess | undefined;
after(async () => {
  await proc?.kill9();
  rmSync(root, { recursive: true, force: true });
});

async function verifyImage(url: string, repo: string, tag: string, img: TestImage): Promise<void> {
  const m = await fetch(`${url}/v2/${repo}/manifests/${tag}`);
  assert.equal(m.status, 200, `${repo}:${tag} lost`);
  assert.equal(sha256(Buffer.from(await m.arrayBuffer())), img.digest);
  for (const b of [img.config, ...img.layers]) {
    const got = Buffer.from(
      await (await fetch(`${url}/v2/${repo}/blobs/${sha256(b)}`)).arrayBuffer(),
    );
    assert.equal(sha256(got), sha256(b));
  }
}

function blobsUnderWrongDigest(): string[] {
  const base = join(root, 'blobs', 'sha256');
  const bad: string[] = [];
  let prefixes: string[] = [];
  try {
    prefixes = readdirSync(base);
  } catch {
    return bad;
  }
  for (const p of prefixes)
    for (const hex of readdirSync(join(base, p))) {
      // A crash between mkdir and the atomic rename leaves a directory without data: invisible.
      if (!existsSync(join(base, p, hex, 'data'))) continue;
      const data = readFileSync(join(base, p, hex, 'data'));
      if (createHash('sha256').update(data).digest('hex') !== hex) bad.push(hex);
    }
  return bad;
}

/** Starts work that the kill will interrupt: a streamed upload, a chunked one, a full push. */
function inFlight(url: string, trial: number): Array<Promise<unknown>> {
  const big = randomBytes(1 << 20);
  const streamed = (async () => {
    const post = await fetch(`${url}/v2/crash/inflight/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(post.headers.get('location')!, url);
    const patched = await fetch(loc, { method: 'PATCH', body: big });
    const put = new URL(patched.headers.get('location')!, url);
    put.searchParams.set('digest', sha256(big));
    await fetch(put, { method: 'PUT' });
  })();
  const img = makeImage([50_000]);
  const push = pushImage(url, 'crash/inflight', `t${trial}`, img);
  return [streamed, push];
}

test(
  `kill -9 during uploads and manifest puts (${TRIALS} trials)`,
  { timeout: 240_000 },
  async () => {
    const completed: Array<{ repo: string; tag: string; img: TestImage }> = [];
    let resumable: { loc: string; data: Buffer } | undefined;
    for (let trial = 0; trial < TRIALS; trial++) {
      proc = await spawnRegistry(root);
      const url = proc.url;
      // Everything completed before must have survived every crash so far.
      for (const c of completed.slice(-5)) await verifyImage(url, c.repo, c.tag, c.img);
      if (resumable) {
        // An upload session from before the crash resumes where its Range says.
        const loc = new URL(resumable.loc, url);
        const status = await fetch(loc);
        assert.equal(status.status, 204);
        const have = Number(status.headers.get('range')!.split('-')[1]) + 1;
        const rest = await fetch(loc, {
          method: 'PATCH',
          headers: { 'Content-Range': `${have}-${resumable.data.length - 1}` },
          body: resumable.data.subarray(have),
        });
        assert.equal(rest.status, 202);
        const put = new URL(rest.headers.get('location')!, url);
        put.searchParams.set('digest', sha256(resumable.data));
        assert.equal((await fetch(put, { method: 'PUT' })).status, 201);
        resumable = undefined;
      }
      const img = makeImage([30_000, 10_000]);
      await pushImage(url, 'crash/done', `t${trial}`, img);
      completed.push({ repo: 'crash/done', tag: `t${trial}`, img });
      if (trial % 10 === 0) {
        const data = randomBytes(200_000);
        const post = await fetch(`${url}/v2/crash/resume/blobs/uploads/`, { method: 'POST' });
        const first = await fetch(new URL(post.headers.get('location')!, url), {
          method: 'PATCH',
          headers: { 'Content-Range': '0-99999' },
          body: data.subarray(0, 100_000),
        });
        resumable = { loc: first.headers.get('location')!, data };
      }
      const settled = Promise.allSettled(inFlight(url, trial));
      await new Promise((r) => setTimeout(r, Math.random() * 40));
      await proc.kill9();
      proc = undefined;
      await settled;
    }
    assert.deepEqual(blobsUnderWrongDigest(), []);
    proc = await spawnRegistry(root);
    for (const c of completed) await verifyImage(proc.url, c.repo, c.tag, c.img);
  },
);
