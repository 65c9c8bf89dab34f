// Durability of acknowledged pushes on the filesystem driver, judged by strace(1) on a real
// tsregistry process: before a pushed blob (monolithic or chunked) or manifest is renamed to its
// final name, its file's data is flushed (fdatasync/fsync of that very file), and after the
// rename the directory that gained the name is fsynced. A crash after the 201 then finds the
// blob complete, and never a blob name over bytes that had not reached the disk.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  freePort,
  makeImage,
  pushImage,
  sha256,
  tsregistryBin,
} from '../helpers/registry-server.js';

let dir: string;
let child: ChildProcess;
let url: string;
const log = (): string => readFileSync(join(dir, 'strace.log'), 'utf8');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsreg-durable-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'root')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  child = spawn(
    'strace',
    [
      '-f',
      '-qq',
      '-y',
      '-e',
      'trace=fsync,fdatasync,rename,renameat,renameat2',
      '-o',
      join(dir, 'strace.log'),
      process.execPath,
      tsregistryBin(),
      '--config',
      config,
      '--workers',
      '1',
    ],
    { stdio: 'ignore' },
  );
  url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 200 || child.exitCode !== null)
      throw new Error('tsregistry under strace did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  if (child.exitCode === null) {
    // strace holds SIGTERM while it traces: stop the traced registry, strace then exits with it
    const tracee = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
    const exited = new Promise((r) => child.once('exit', r));
    if (tracee) process.kill(Number(tracee.split(' ')[0]), 'SIGTERM');
    else child.kill('SIGKILL');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Index in the strace log of the first line matching `re` after line `from`, or -1. */
function lineOf(lines: string[], re: RegExp, from = 0): number {
  for (let i = from; i < lines.length; i++) if (re.test(lines[i]!)) return i;
  return -1;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Asserts: the file renamed to `finalPath` was flushed before, and its directory after. */
function assertDurable(finalPath: string): void {
  const lines = log().split('\n');
  const rename = lineOf(lines, new RegExp(`rename\\w*\\(.*"([^"]+)".*"${esc(finalPath)}"`));
  assert.ok(rename >= 0, `no rename to ${finalPath} in the strace log`);
  const source = new RegExp(`rename\\w*\\(.*?"([^"]+)"`).exec(lines[rename]!)![1]!;
  // -y prints each fd's path: fdatasync(23</root/uploads/<uuid>/data>)
  const flushedBefore = lines
    .slice(0, rename)
    .some((l) => new RegExp(`f(data)?sync\\(\\d+<${esc(source)}>`).test(l));
  assert.ok(flushedBefore, `${source} was not flushed before its rename to ${finalPath}`);
  const dirSynced = lineOf(lines, new RegExp(`fsync\\(\\d+<${esc(dirname(finalPath))}>`), rename);
  assert.ok(dirSynced > rename, `${dirname(finalPath)} was not fsynced after the rename`);
}

const blobFile = (digest: string): string =>
  join(dir, 'root', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data');

test('a monolithic blob push is on disk, data and name, before its 201', async () => {
  const data = randomBytes(3 * 1024 * 1024);
  const digest = sha256(data);
  const res = await fetch(`${url}/v2/durable/one/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: data,
  });
  assert.equal(res.status, 201);
  assertDurable(blobFile(digest));
});

test('a chunked push and a manifest are flushed before they get their names', async () => {
  const data = randomBytes(2 * 1024 * 1024);
  const digest = sha256(data);
  const post = await fetch(`${url}/v2/durable/two/blobs/uploads/`, { method: 'POST' });
  assert.equal(post.status, 202);
  let location = new URL(post.headers.get('location')!, url);
  for (const [start, end] of [
    [0, 1024 * 1024 - 1],
    [1024 * 1024, data.length - 1],
  ] as const) {
    const patch = await fetch(location, {
      method: 'PATCH',
      headers: { 'content-range': `${start}-${end}` },
      body: data.subarray(start, end + 1),
    });
    assert.equal(patch.status, 202);
    location = new URL(patch.headers.get('location')!, url);
  }
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT' });
  assert.equal(put.status, 201);
  assertDurable(blobFile(digest));

  const image = makeImage([1024]);
  await pushImage(url, 'durable/two', 'v1', image);
  assertDurable(blobFile(sha256(image.manifest)));
});
