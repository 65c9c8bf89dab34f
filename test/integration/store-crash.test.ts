// Crash safety and concurrency of the content store, with real processes: a writer killed (-9)
// mid-blob leaves nothing under the digest; 8 processes writing one blob give one good blob;
// several processes tagging at once lose no tag; a lock left by a killed process is broken.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { MediaType, REF_NAME_ANNOTATION } from '../../shared/media-types.js';
import { ContentStore } from '../../shared/store/content-store.js';

const WORKER = fileURLToPath(new URL('../helpers/store-worker.js', import.meta.url));
const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'store-crash-'));
  dirs.push(d);
  return d;
}

/** Starts a worker; resolves with it once it prints `ready` (a line), or with its output at exit. */
function worker(
  root: string,
  args: string[],
): { child: ChildProcess; line: Promise<string>; exit: Promise<string> } {
  const child = spawn(process.execPath, [WORKER, root, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  const line = new Promise<string>((resolve) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<string>((resolve, reject) =>
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`worker ${args[0]} exited ${code ?? signal}: ${err}`)),
    ),
  );
  exit.catch(() => undefined);
  return { child, line, exit };
}

test('a writer killed mid-blob leaves nothing under the digest; gc clears its temp file', async () => {
  const root = tempDir();
  const store = await ContentStore.open(root);
  const content = Buffer.alloc(2 << 20, 1);
  const digest = digestOf(content);
  const w = worker(root, ['write-stall', digest]);
  assert.equal(await w.line, 'writing');
  // Wait until bytes reached the temp file, then kill -9.
  for (let i = 0; i < 100 && !readdirSync(store.paths.ingestDir).length; i++) await sleep(20);
  w.child.kill('SIGKILL');
  await new Promise((r) => w.child.once('exit', r));
  assert.equal(await store.hasBlob(digest), false);
  assert.equal(existsSync(store.blobPath(digest)), false);
  const leftovers = readdirSync(store.paths.ingestDir);
  assert.equal(leftovers.length, 1, 'the crashed temp file is left in ingest/');
  const aSecondAgo = (Date.now() - 2000) / 1000;
  utimesSync(join(store.paths.ingestDir, leftovers[0]!), aSecondAgo, aSecondAgo);
  await store.gc();
  assert.deepEqual(readdirSync(store.paths.ingestDir), [], 'gc removed the dead writer temp file');
  // The store still works: the same blob can be written in full.
  const res = await store.writeBlob(content, { digest });
  assert.equal(res.digest, digest);
  assert.deepEqual(await store.readBlob(digest), content);
});

test('8 concurrent writer processes of one blob produce one good blob', async () => {
  const root = tempDir();
  const store = await ContentStore.open(root);
  const file = join(tempDir(), 'content');
  const content = randomBytes(3 << 20);
  writeFileSync(file, content);
  const digest = digestOf(content);
  const runs = Array.from({ length: 8 }, () => worker(root, ['write', file, digest]).exit);
  const outs = await Promise.all(runs);
  for (const out of outs) assert.deepEqual(JSON.parse(out), { digest, size: content.length });
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), [digest.slice(7)]);
  assert.ok(readFileSync(store.blobPath(digest)).equals(content));
  assert.deepEqual(readdirSync(store.paths.ingestDir), []);
});

test('concurrent tag updates from several processes lose no tag', async () => {
  const root = tempDir();
  const store = await ContentStore.open(root);
  const manifest = await store.putJson({ schemaVersion: 2, layers: [] }, MediaType.OciManifest);
  const procs = 5;
  const each = 15;
  await Promise.all(
    Array.from(
      { length: procs },
      (_, p) => worker(root, ['tag', manifest.digest, `p${p}`, String(each)]).exit,
    ),
  );
  const names = (await store.listImages()).map((i) => i.name).sort();
  const expected = Array.from({ length: procs }, (_, p) =>
    Array.from({ length: each }, (_, i) => `docker.io/library/p${p}-${i}:latest`),
  )
    .flat()
    .sort();
  assert.equal(names.length, procs * each);
  assert.deepEqual(names, expected);
  const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8'));
  assert.equal(
    index.manifests.filter(
      (d: { annotations?: Record<string, string> }) => d.annotations?.[REF_NAME_ANNOTATION],
    ).length,
    procs * each,
  );
});

test('a lock held by a killed process is broken; tagging goes on', async () => {
  const root = tempDir();
  const store = await ContentStore.open(root);
  const w = worker(root, ['hold-lock']);
  assert.equal(await w.line, 'locked');
  assert.ok(existsSync(store.paths.indexLock));
  w.child.kill('SIGKILL');
  await new Promise((r) => w.child.once('exit', r));
  const manifest = await store.putJson({ schemaVersion: 2, layers: [] }, MediaType.OciManifest);
  const started = Date.now();
  await store.tag('after-crash', manifest);
  assert.ok(Date.now() - started < 5000);
  assert.equal((await store.resolve('after-crash')).digest, manifest.digest);
  assert.equal(existsSync(store.paths.indexLock), false);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
