// Privileged: tscommit never copies host files into an image. A real container swaps, in a
// tight loop (renameat2 RENAME_EXCHANGE, a static helper compiled here), a regular file with a
// symlink to a host file and a directory with a symlink to a host directory. Commits with the
// container frozen (the default, cgroup v1 freezer and v2 cgroup.freeze) and commits with
// --pause=false (the safe-read path alone) must never contain the host file's bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { cgroupV2Root, collect, makeBusyboxRootfs, tsCommand, tsSpawn } from './runner-helpers.js';

const SWAPPER = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE 2
#endif
static int xchg(const char *a, const char *b) {
  return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}
int main(void) {
  if (xchg("/work/f", "/work/flink") || xchg("/work/f", "/work/flink")) { perror("file"); return 1; }
  if (xchg("/work/d", "/work/dlink") || xchg("/work/d", "/work/dlink")) { perror("dir"); return 1; }
  puts("swapping");
  fflush(stdout);
  for (;;) { xchg("/work/f", "/work/flink"); xchg("/work/d", "/work/dlink"); }
}
`;

let dir = '';
let root = '';
let rootfs = '';
let secret = '';
let hostDir = '';
const ts = (cmd: string, args: string[], env?: Record<string, string>) =>
  tsCommand(root, cmd, args, { env, timeout: 60000 });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-race-'));
  root = join(dir, 'state');
  rootfs = makeBusyboxRootfs(dir);
  secret = `HOST-ONLY-${Date.now()}-${process.pid}-do-not-commit`;
  hostDir = join(dir, 'hostdir');
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'secret'), `${secret}\n`);
  writeFileSync(join(dir, 'swap.c'), SWAPPER);
  execFileSync('cc', ['-static', '-O2', '-o', join(rootfs, 'bin/swap'), join(dir, 'swap.c')]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the swapping container; returns its id once the loop runs. */
async function startSwapper(name: string, env?: Record<string, string>): Promise<string> {
  const script = [
    'mkdir -p /work/d',
    'echo container-data > /work/f',
    'echo container-data > /work/d/secret',
    `ln -s ${join(hostDir, 'secret')} /work/flink`,
    `ln -s ${hostDir} /work/dlink`,
    'exec /bin/swap',
  ].join(' && ');
  const r = ts(
    'tsrun',
    ['-d', '--name', name, '--network', 'none', '--rootfs', rootfs, 'sh', '-c', script],
    env,
  );
  assert.equal(r.code, 0, r.stderr);
  for (let i = 0; i < 250; i++) {
    if (ts('tslogs', [name], env).stdout.includes('swapping')) return r.stdout.trim();
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`swapper did not start: ${ts('tslogs', [name], env).stderr}`);
}

/** Every blob of the store, uncompressed where gzip: none may hold the secret. */
function blobsWithSecret(): string[] {
  const blobs = join(root, 'images/blobs/sha256');
  return readdirSync(blobs).filter((b) => {
    let data = readFileSync(join(blobs, b));
    if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
    return data.includes(secret);
  });
}

function commitMany(name: string, n: number, flags: string[], env?: Record<string, string>) {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const r = ts('tscommit', [...flags, name, `race-${name}:${i}`], env);
    assert.equal(r.code, 0, r.stderr);
    ok++;
    const leaked = blobsWithSecret();
    assert.deepEqual(leaked, [], `commit ${i} (${flags.join(' ')}) copied the host file in`);
  }
  return ok;
}

test('commits of a container swapping files with host symlinks never hold host bytes', async () => {
  const id = await startSwapper('racer');
  try {
    // default: frozen while read (v1 freezer here); the container runs on afterwards
    assert.equal(commitMany('racer', 15, []), 15);
    const state = join('/sys/fs/cgroup/freezer/tsdock', id, 'freezer.state');
    if (existsSync(state)) assert.equal(readFileSync(state, 'utf8').trim(), 'THAWED');
    // without pausing, only the safe read stands between the container and the host
    assert.equal(commitMany('racer', 15, ['--pause=false']), 15);
    // the image holds the container's own files
    const r = ts('tsrun', ['--rm', '--network', 'none', 'race-racer:0', 'cat', '/work/d/secret']);
    assert.ok(/container-data|No such file|Not a directory/.test(r.stdout + r.stderr), r.stderr);
    assert.ok(!r.stdout.includes(secret));
  } finally {
    ts('tsrm', ['-f', 'racer']);
  }
});

test('cgroup v2: tscommit freezes with cgroup.freeze and thaws after', async () => {
  const v2root = cgroupV2Root();
  if (!v2root) return;
  const env = { TSDOCK_CGROUP_VERSION: '2', TSDOCK_CGROUP_ROOT: v2root };
  const id = await startSwapper('racer2', env);
  try {
    assert.equal(commitMany('racer2', 5, ['-p=true'], env), 5);
    assert.equal(readFileSync(join(v2root, 'tsdock', id, 'cgroup.freeze'), 'utf8').trim(), '0');
    assert.match(readFileSync(join(v2root, 'tsdock', id, 'cgroup.events'), 'utf8'), /^frozen 0$/m);
  } finally {
    ts('tsrm', ['-f', 'racer2'], env);
  }
});

test('a tscommit killed -9 while the container is frozen: the next command thaws it', async () => {
  const id = await startSwapper('frozen');
  const state = join('/sys/fs/cgroup/freezer/tsdock', id, 'freezer.state');
  if (!existsSync(state)) {
    ts('tsrm', ['-f', 'frozen']); // no v1 freezer here: the v2 test covers the freeze
    return;
  }
  try {
    let killedFrozen = false;
    for (let attempt = 0; attempt < 10 && !killedFrozen; attempt++) {
      const child = tsSpawn(root, 'tscommit', ['frozen', `frozen:${attempt}`]);
      const { exit } = collect(child);
      let done = false;
      void exit.then(() => (done = true));
      while (!done && !killedFrozen) {
        if (readFileSync(state, 'utf8').trim() === 'FROZEN') {
          child.kill('SIGKILL');
          killedFrozen = true;
        } else await new Promise((r) => setTimeout(r, 1));
      }
      await exit;
    }
    assert.ok(killedFrozen, 'caught a tscommit while it held the container frozen');
    assert.equal(readFileSync(state, 'utf8').trim(), 'FROZEN', 'left frozen by the kill');
    assert.equal(ts('tsps', []).code, 0);
    assert.equal(readFileSync(state, 'utf8').trim(), 'THAWED');
    const r = ts('tsexec', ['frozen', 'echo', 'alive']);
    assert.equal(r.stdout, 'alive\n', r.stderr);
  } finally {
    ts('tsrm', ['-f', 'frozen']);
  }
});
