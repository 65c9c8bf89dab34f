// The image commands as a user runs them, against a temp $TSDOCK_ROOT: tsload, tsimages (table,
// -q, --format), tstag, tsinspect (JSON and --format), tssave | tsload, tsrmi (frees the blobs),
// and the one-line errors with docker's exit codes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { ensureBusyboxLayout } from '../helpers/busybox-image.js';

const root = mkdtempSync(join(tmpdir(), 'store-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
let layout: string;
before(async () => {
  layout = await ensureBusyboxLayout();
});

function ts(cmd: string, args: string[], input?: Buffer) {
  const bin = fileURLToPath(new URL(`../../bin/${cmd}.js`, import.meta.url));
  const res = spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, TSDOCK_ROOT: root },
    input,
    maxBuffer: 64 << 20,
  });
  return {
    status: res.status,
    stdout: res.stdout.toString(),
    stderr: res.stderr.toString(),
    raw: res.stdout,
  };
}

/** Runs `cmd` and reads its stdout only after `delayMs`: a reader slower than the writer. */
async function slowRead(cmd: string, args: string[], delayMs: number): Promise<Buffer> {
  const bin = fileURLToPath(new URL(`../../bin/${cmd}.js`, import.meta.url));
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, TSDOCK_ROOT: root },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  child.stdout.pause();
  await new Promise((r) => setTimeout(r, delayMs));
  const chunks: Buffer[] = [];
  for await (const c of child.stdout) chunks.push(c as Buffer);
  assert.equal(await exited, 0);
  return Buffer.concat(chunks);
}

test('load, list, tag, inspect, save, remove', async () => {
  let r = ts('tsload', ['-i', layout, '-t', 'busybox']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'Loaded image: busybox:latest\n');

  r = ts('tsimages', []);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.match(lines[1]!, /^busybox\s+latest\s+[0-9a-f]{12}\s+.+ ago\s+1\.\d\dMB$/);
  const id = ts('tsimages', ['-q']).stdout.trim();
  assert.match(id, /^[0-9a-f]{12}$/);

  assert.equal(ts('tstag', ['busybox', 'localhost:5000/me/bb:v1']).status, 0);
  assert.equal(ts('tstag', [id, 'byid:1']).status, 0);
  r = ts('tsimages', ['--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), [
    `busybox:latest ${id}`,
    `byid:1 ${id}`,
    `localhost:5000/me/bb:v1 ${id}`,
  ]);
  assert.equal(ts('tsimages', ['localhost:5000/me/bb']).stdout.trim().split('\n').length, 2);
  r = ts('tsimages', ['-f', 'reference=*/me/*:v?', '--format', '{{.Repository}}']);
  assert.equal(r.stdout, 'localhost:5000/me/bb\n');
  // a typed `\t` separates columns in the header too, as docker's
  r = ts('tsimages', ['-f', 'reference=*/me/*:v?', '--format', 'table {{.Repository}}\\t{{.Tag}}']);
  assert.match(r.stdout, /^REPOSITORY\s+TAG\nlocalhost:5000\/me\/bb\s+v1\n$/);
  assert.equal(ts('tsimages', ['-f', 'dangling=true', '-q']).stdout, '');

  r = ts('tsinspect', ['--type', 'image', 'busybox']);
  const [doc] = JSON.parse(r.stdout);
  assert.equal(doc.Id.slice(7, 19), id);
  assert.deepEqual(doc.RepoTags.sort(), ['busybox:latest', 'byid:1', 'localhost:5000/me/bb:v1']);
  assert.deepEqual(doc.Config.Cmd, ['/bin/sh']);
  assert.equal(doc.Os, 'linux');
  r = ts('tsinspect', ['--format', '{{.Id}} {{json .Config.Cmd}} {{.Config.Env}}', 'byid:1']);
  assert.equal(
    r.stdout,
    `${doc.Id} ["/bin/sh"] [PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin]\n`,
  );

  const saved = ts('tssave', ['busybox']).raw;
  assert.ok(saved.length > 1_000_000);
  // to a pipe its reader empties late, the whole archive still arrives (writes to a pipe are
  // asynchronous: a command must not exit before they complete)
  const late = await slowRead('tssave', ['busybox'], 1000);
  assert.equal(late.length, saved.length);

  r = ts('tsrmi', [id]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /referenced in multiple repositories/);
  for (const n of ['byid:1', 'localhost:5000/me/bb:v1'])
    assert.equal(ts('tsrmi', [n]).stdout, `Untagged: ${n}\n`);
  r = ts('tsrmi', ['busybox']);
  assert.match(r.stdout, /^Untagged: busybox:latest\nDeleted: sha256:/);
  assert.equal(r.stdout.match(/Deleted:/g)!.length, 3);
  assert.deepEqual(readdirSync(join(root, 'images', 'blobs', 'sha256')), []);
  assert.equal(ts('tsimages', ['-q']).stdout, '');

  r = ts('tsload', [], saved);
  assert.equal(r.stdout, 'Loaded image: busybox:latest\n', r.stderr);
  assert.equal(ts('tsimages', ['-q']).stdout.trim(), id);
});

test('errors are one line with docker exit codes', () => {
  let r = ts('tsinspect', ['no-such-thing']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout.trim(), '[]');
  assert.equal(r.stderr.trim().split('\n').length, 1);
  r = ts('tstag', ['only-one']);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /^tstag: "tstag" requires exactly 2 arguments/);
  r = ts('tstag', ['busybox', 'Bad:Name:x']);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /invalid reference/);
  r = ts('tsimages', ['--bogus']);
  assert.equal(r.status, 125);
  r = ts('tsinspect', ['--format', '{{.Id', 'busybox']);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /template/);
  r = ts('tsload', ['-i', join(root, 'missing.tar')]);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /no such file/);
});
