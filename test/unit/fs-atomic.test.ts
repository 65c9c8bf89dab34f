// Atomic writes: content and exact modes, no temp files left on failure, concurrent writers,
// and a writer killed mid-write never leaves a partial file under the target name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensureDir,
  ensureDirSync,
  fsyncDir,
  removeQuietly,
  tempPath,
  writeFileAtomic,
  writeFileAtomicSync,
} from '../../shared/fs-atomic.js';

function scratch(t: { after: (fn: () => Promise<void>) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-atomic-'));
  t.after(() => removeQuietly(dir));
  return dir;
}

test('writes and replaces content, leaving no temp files', async (t) => {
  const dir = scratch(t);
  const f = join(dir, 'a.json');
  await writeFileAtomic(f, '{"v":1}');
  assert.equal(readFileSync(f, 'utf8'), '{"v":1}');
  await writeFileAtomic(f, Buffer.from([0, 1, 2]));
  assert.deepEqual(readFileSync(f), Buffer.from([0, 1, 2]));
  writeFileAtomicSync(f, 'sync');
  assert.equal(readFileSync(f, 'utf8'), 'sync');
  await writeFileAtomic(f, '');
  assert.equal(readFileSync(f, 'utf8'), '');
  assert.deepEqual(readdirSync(dir), ['a.json']);
});

test('mode is exact, whatever the umask', async (t) => {
  const dir = scratch(t);
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(join(dir, 'open'), 'x', { mode: 0o644 });
    assert.equal(statSync(join(dir, 'open')).mode & 0o777, 0o644);
  } finally {
    process.umask(old);
  }
  await writeFileAtomic(join(dir, 'secret'), 'x', { mode: 0o600 });
  assert.equal(statSync(join(dir, 'secret')).mode & 0o777, 0o600);
  writeFileAtomicSync(join(dir, 'secret2'), 'x', { mode: 0o600 });
  assert.equal(statSync(join(dir, 'secret2')).mode & 0o777, 0o600);
  // Replacing keeps the new mode, not the old file's.
  await writeFileAtomic(join(dir, 'secret'), 'y', { mode: 0o640 });
  assert.equal(statSync(join(dir, 'secret')).mode & 0o777, 0o640);
});

test('failures leave the old file and no temp file behind', async (t) => {
  const dir = scratch(t);
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'f'), 'x'), { code: 'ENOENT' });
  mkdirSync(join(dir, 'adir'));
  writeFileSync(join(dir, 'adir', 'inside'), 'keep');
  await assert.rejects(writeFileAtomic(join(dir, 'adir'), 'x'), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.throws(() => writeFileAtomicSync(join(dir, 'adir'), 'x'), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.deepEqual(readdirSync(dir), ['adir']);
  assert.equal(readFileSync(join(dir, 'adir', 'inside'), 'utf8'), 'keep');
});

test('concurrent writers: the file is always one whole version', async (t) => {
  const dir = scratch(t);
  const f = join(dir, 'index.json');
  const versions = Array.from({ length: 20 }, (_, i) => `${String(i).repeat(1000 + i)}\n`);
  await Promise.all(versions.map((v) => writeFileAtomic(f, v)));
  assert.ok(versions.includes(readFileSync(f, 'utf8')));
  assert.deepEqual(readdirSync(dir), ['index.json']);
});

test('a writer killed mid-write leaves the old content under the name', async (t) => {
  const dir = scratch(t);
  const f = join(dir, 'big');
  writeFileSync(f, 'old');
  const mod = fileURLToPath(new URL('../../shared/fs-atomic.js', import.meta.url));
  const script = `
    const { writeFileAtomic } = await import(${JSON.stringify(mod)});
    const data = Buffer.alloc(64 * 1024 * 1024, 7);
    process.stdout.write('go\\n');
    for (;;) await writeFileAtomic(${JSON.stringify(f)}, data);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  // Kill while the temp file is partly written.
  let caught = false;
  const deadline = Date.now() + 10_000;
  while (!caught && Date.now() < deadline) {
    const tmp = readdirSync(dir).find((n) => n.startsWith('.big.tmp-'));
    const size = tmp ? statSync(join(dir, tmp), { throwIfNoEntry: false })?.size : 0;
    caught = size !== undefined && size > 0 && size < 64 * 1024 * 1024;
    if (!caught) await new Promise((r) => setTimeout(r, 1));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(caught, 'the writer was killed with a partial temp file');
  const st = statSync(f);
  if (st.size !== 3) assert.equal(st.size, 64 * 1024 * 1024, 'target is whole, never partial');
  else assert.equal(readFileSync(f, 'utf8'), 'old');
});

test('tempPath, ensureDir, removeQuietly, fsyncDir', async (t) => {
  const dir = scratch(t);
  const a = tempPath(dir, '.upload-');
  const b = tempPath(dir, '.upload-');
  assert.notEqual(a, b);
  assert.ok(basename(a).startsWith(`.upload-${process.pid}-`));
  const nested = join(dir, 'x', 'y', 'z');
  await ensureDir(nested, 0o700);
  await ensureDir(nested); // idempotent
  ensureDirSync(join(dir, 'w', 'v'));
  assert.ok(statSync(nested).isDirectory());
  assert.equal(statSync(join(dir, 'x')).mode & 0o077, 0);
  await fsyncDir(nested);
  await removeQuietly(join(dir, 'x'));
  assert.ok(!existsSync(join(dir, 'x')));
  await removeQuietly(join(dir, 'never-existed'));
  await removeQuietly(join(dir, 'never', 'existed'));
});
