// Online GC never loses an acknowledged push. Hundreds of rounds, each racing
// manifest PUTs (images sharing an old layer and images sharing nothing), a manifest DELETE of an
// image that shares that layer, and a GC run (grace 0, or the configured default, sometimes with
// untagged manifests); the registry restarts every few rounds so the in-memory caches cannot hide
// a loss. Every tag that was acknowledged (201) and not deleted must then resolve, and every blob
// it references must exist and hash to its digest. The order of events is varied by tiny random
// delays, not by timing margins: the check is on what is stored, whatever interleaving happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeImage,
  pushBlob,
  sha256,
  startRegistry,
  type TestImage,
  type TestRegistry,
} from '../helpers/registry-server.js';

const ROUNDS = Number(process.env.GC_RACE_ROUNDS ?? 200);
const RESTART_EVERY = 20;
/** Images that share nothing are deleted this many rounds later (keeps each GC run small). */
const SOLO_LIFE = 30;
const OCI = 'application/vnd.oci.image.manifest.v1+json';

interface Pushed {
  repo: string;
  tag: string;
  image: TestImage;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = () => pause(Math.floor(Math.random() * 4));

async function upload(reg: TestRegistry, p: Pushed): Promise<void> {
  for (const blob of [p.image.config, ...p.image.layers]) await pushBlob(reg.url, p.repo, blob);
}

/** PUTs the manifest; true once acknowledged, false when GC swept its (unreferenced) uploads
 * first and the registry refused it with MANIFEST_BLOB_UNKNOWN, as it must then. */
async function putManifest(reg: TestRegistry, p: Pushed): Promise<boolean> {
  const res = await fetch(`${reg.url}/v2/${p.repo}/manifests/${p.tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI },
    body: p.image.manifest,
  });
  const text = await res.text();
  if (res.status === 201) return true;
  assert.equal(res.status, 400, text);
  assert.match(text, /MANIFEST_BLOB_UNKNOWN/);
  return false;
}

/** What is wrong with an acknowledged push as the registry serves it now ('' when intact). */
async function damage(reg: TestRegistry, p: Pushed): Promise<string> {
  const m = await fetch(`${reg.url}/v2/${p.repo}/manifests/${p.tag}`, {
    headers: { Accept: OCI },
  });
  const body = Buffer.from(await m.arrayBuffer());
  if (m.status !== 200) return `${p.repo}:${p.tag} manifest ${m.status}`;
  if (sha256(body) !== p.image.digest) return `${p.repo}:${p.tag} serves other bytes`;
  for (const blob of [p.image.config, ...p.image.layers]) {
    const res = await fetch(`${reg.url}/v2/${p.repo}/blobs/${sha256(blob)}`);
    const got = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) return `${p.repo}:${p.tag} blob ${sha256(blob)} ${res.status}`;
    if (sha256(got) !== sha256(blob)) return `${p.repo}:${p.tag} blob ${sha256(blob)} corrupt`;
  }
  // The manifest blob itself must survive too (served by digest, not only from a cache).
  const byDigest = await fetch(`${reg.url}/v2/${p.repo}/manifests/${p.image.digest}`);
  await byDigest.arrayBuffer();
  if (byDigest.status !== 200) return `${p.repo}@${p.image.digest} ${byDigest.status}`;
  return '';
}

async function audit(reg: TestRegistry, live: Map<string, Pushed>): Promise<string[]> {
  const out: string[] = [];
  for (const p of live.values()) {
    const d = await damage(reg, p);
    if (d) out.push(d);
  }
  return out;
}

test('GC racing pushes, shared-layer deletes and restarts never loses an acknowledged push', async (t) => {
  // On tmpfs when there is one: the race is about what GC decides, not about fsync latency.
  const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tsreg-gcrace-'));
  const open = () =>
    startRegistry({ root, configure: (c) => (c.storage.maintenance.gc.grace = 1) });
  let reg = await open();
  const live = new Map<string, Pushed>();
  const lost: string[] = [];
  let acknowledged = 0;
  try {
    // An old layer every "app" image shares (older than the default grace after a second).
    const base = randomBytes(3000);
    await pushBlob(reg.url, 'race/app', base);
    await pause(1100);
    let previous: Pushed | undefined;
    const solos: Array<Pushed | undefined> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const sharing: Pushed = {
        repo: 'race/app',
        tag: `r${round}`,
        image: makeImage([base, 700 + round]),
      };
      const alone: Pushed = {
        repo: `race/solo${round % 3}`,
        tag: `r${round}`,
        image: makeImage([500]),
      };
      const grace = round % 2 === 0 ? 0 : undefined;
      const untagged = round % 3 === 0;
      await Promise.all([upload(reg, sharing), upload(reg, alone)]);
      // The race: both PUTs, a GC run and (every other round) a DELETE of the previous image,
      // which shares `base` with this round's push, all started at once.
      const gcRun = (async () => {
        await jitter();
        await reg.running.gc.run({ dryRun: false, grace, untagged });
      })();
      const doomed = [round % 2 === 0 ? previous : undefined, solos[round - SOLO_LIFE]];
      if (round % 2 === 0) previous = undefined;
      const deletions = doomed.map(async (del) => {
        if (!del) return;
        live.delete(`${del.repo}:${del.tag}`);
        await jitter();
        const res = await fetch(`${reg.url}/v2/${del.repo}/manifests/${del.image.digest}`, {
          method: 'DELETE',
        });
        assert.equal(res.status, 202, await res.text());
      });
      const [okSharing, okAlone] = await Promise.all([
        jitter().then(() => putManifest(reg, sharing)),
        putManifest(reg, alone),
      ]);
      await Promise.all([gcRun, ...deletions]);
      for (const [ok, p] of [
        [okSharing, sharing],
        [okAlone, alone],
      ] as const)
        if (ok) {
          acknowledged++;
          live.set(`${p.repo}:${p.tag}`, p);
        }
      if (okSharing) previous = sharing;
      solos.push(okAlone ? alone : undefined);
      if ((round + 1) % RESTART_EVERY === 0) {
        await reg.close();
        reg = await open();
        lost.push(...(await audit(reg, live)));
      }
    }
    // A last collection on its own, a restart, and every acknowledged push checked again.
    await reg.running.gc.run({ dryRun: false, grace: 0 });
    await reg.close();
    reg = await open();
    lost.push(...(await audit(reg, live)));
    t.diagnostic(`${ROUNDS} rounds, ${acknowledged} pushes acknowledged, ${live.size} kept`);
    assert.deepEqual([...new Set(lost)], [], `${lost.length} losses over ${ROUNDS} rounds`);
    assert.ok(
      acknowledged >= ROUNDS / 2,
      `only ${acknowledged} of ${2 * ROUNDS} pushes acknowledged`,
    );
  } finally {
    await reg.close();
    rmSync(root, { recursive: true, force: true });
  }
});
