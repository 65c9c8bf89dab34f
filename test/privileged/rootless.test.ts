// Privileged setup, rootless commands: root makes an ordinary user (useradd, its own
// /etc/subuid and /etc/subgid range) and a tsregistry; everything after runs as that user
// through runuser: load the busybox base, build the example app (RUN with outbound user-mode
// networking), run it with a published port and curl it, exec into it, commit and push to the
// registry, pull into a second store and run again; files made in a bind mount belong on the
// host to the user (container root) and to its mapped subordinate ids (container uid 1000);
// -m warns and runs; tsexec reaches a container that runs as a subordinate id. A second user
// without ranges gets a single-id mapping: busybox runs, other ids fail with one clear line.
// Everything is removed afterwards: containers, pause processes, users, files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureBusyboxLayout, repoRoot } from '../helpers/busybox-image.js';
import { spawnRegistry } from '../helpers/registry-server.js';
import { createRootlessUser, type RootlessUser } from '../helpers/rootless-user.js';

let user: RootlessUser;
let single: RootlessUser | undefined;
let registry: Awaited<ReturnType<typeof spawnRegistry>>;
let registryRoot = '';
const port = 20000 + (process.pid % 20000);

function ok(r: { status: number | null; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Copies the busybox layout into HOME and loads it into the user's store. */
function loadBusybox(u: RootlessUser, layout: string): void {
  const copy = join(u.home, 'busybox-layout');
  cpSync(layout, copy, { recursive: true });
  spawnSync('chown', ['-R', `${u.uid}:${u.gid}`, copy]);
  ok(u.ts('tsload', ['-i', copy, '-t', 'busybox:latest']), 'tsload');
}

before(async () => {
  const repo = repoRoot();
  const layout = await ensureBusyboxLayout();
  user = createRootlessUser({ prefix: 'tsrl', repo });
  loadBusybox(user, layout);
  const app = join(user.home, 'app');
  cpSync(join(repo, 'fixtures', 'example-app'), app, { recursive: true });
  spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, app]);
  // a child process: the user's commands may run synchronously without stalling it
  registryRoot = mkdtempSync(join(tmpdir(), 'tsdock-rootless-reg-'));
  registry = await spawnRegistry(registryRoot);
});

after(async () => {
  for (const u of [user, single]) {
    if (!u) continue;
    const ids = u.ts('tsps', ['-aq']).stdout.split('\n').filter(Boolean);
    if (ids.length) u.ts('tsrm', ['-f', ...ids]);
    u.cleanup();
  }
  await registry?.stop();
  if (registryRoot) rmSync(registryRoot, { recursive: true, force: true });
});

test('rootless: the example app builds (RUN with outbound network), runs with -p, execs', () => {
  ok(user.ts('tsbuild', ['-t', 'app:v1', '--progress', 'plain', 'app']), 'tsbuild');
  const id = ok(
    user.ts('tsrun', ['-d', '--name', 'web', '-p', `${port}:80`, 'app:v1']),
    'tsrun -d',
  );
  assert.match(id.trim(), /^[0-9a-f]{64}$/);
  let body = '';
  for (let i = 0; i < 50 && !body.includes('Hello'); i++) {
    const r = spawnSync('curl', ['-s', '-m', '5', `http://127.0.0.1:${port}/`], {
      encoding: 'utf8',
    });
    body = r.stdout;
    if (!body.includes('Hello')) spawnSync('sleep', ['0.1']);
  }
  assert.match(body, /Hello World!/);
  assert.match(body, new RegExp(`Hostname: ${id.trim().slice(0, 12)}`));
  // the container's root is the user; its mapping is the user then its range
  const map = ok(user.ts('tsexec', ['web', 'cat', '/proc/self/uid_map']), 'tsexec');
  const lines = map
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  assert.deepEqual(lines, [
    [0, user.uid, 1],
    [1, user.subStart!, 65536],
  ]);
  ok(user.ts('tsexec', ['web', 'sh', '-c', 'echo committed > /app/www/c.txt']), 'tsexec write');
});

test('rootless: commit, push to tsregistry, pull into a fresh store and run again', async () => {
  const ref = `${registry.host}/rootless/app:v2`;
  ok(user.ts('tscommit', ['web', ref]), 'tscommit');
  ok(user.ts('tsstop', ['web']), 'tsstop');
  ok(await user.tsAsync('tspush', [ref]), 'tspush');
  const other = join(user.home, 'second-store');
  const again = await user.tsAsync(
    'tsrun',
    ['--rm', '--network', 'none', ref, 'cat', '/app/www/c.txt'],
    {
      TSDOCK_ROOT: other,
    },
  );
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, 'committed\n');
  assert.ok(statSync(join(other, 'images', 'index.json')).uid === user.uid);
});

test('rootless: bind-mounted files belong to the user and its mapped ids on the host', () => {
  const out = join(user.home, 'out');
  mkdirSync(out);
  chmodSync(out, 0o777);
  spawnSync('chown', [`${user.uid}:${user.gid}`, out]);
  const script = 'touch /out/by-root && chown 1000:1000 /out/by-root && touch /out/root-file';
  ok(
    user.ts('tsrun', [
      '--rm',
      '--network',
      'none',
      '-v',
      `${out}:/out`,
      'busybox',
      'sh',
      '-c',
      script,
    ]),
    'tsrun -v',
  );
  ok(
    user.ts('tsrun', [
      '--rm',
      '--network',
      'host',
      '-u',
      '1000:1000',
      '-v',
      `${out}:/out`,
      'busybox',
      'touch',
      '/out/by-1000',
    ]),
    'tsrun -u 1000',
  );
  const owner = (f: string) => {
    const st = statSync(join(out, f));
    return [st.uid, st.gid];
  };
  assert.deepEqual(owner('root-file'), [user.uid, user.gid]);
  assert.deepEqual(owner('by-root'), [user.subStart! + 999, user.subStart! + 999]);
  assert.deepEqual(owner('by-1000'), [user.subStart! + 999, user.subStart! + 999]);
});

test('rootless: limits warn in one line and the container still runs (cgroup v1 here)', () => {
  const r = user.ts('tsrun', [
    '--rm',
    '--network',
    'none',
    '-m',
    '64m',
    '--pids-limit',
    '50',
    'busybox',
    'echo',
    'ran',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ran\n');
  if (!existsV2Delegation()) {
    assert.match(
      r.stderr,
      /^tsrun: warning: --memory, --pids-limit ignored: .*running without limits\n$/,
    );
  }
});

function existsV2Delegation(): boolean {
  return (
    readFileSync('/proc/self/mountinfo', 'utf8').includes(' /sys/fs/cgroup rw') &&
    spawnSync('test', ['-f', '/sys/fs/cgroup/cgroup.controllers']).status === 0
  );
}

test('rootless: without subuid ranges a single-id mapping runs busybox; other ids fail clearly', async () => {
  single = createRootlessUser({ prefix: 'tsrs', ranges: false, repo: repoRoot() });
  loadBusybox(single, await ensureBusyboxLayout());
  const r = single.ts('tsrun', [
    '--rm',
    '--network',
    'none',
    'busybox',
    'cat',
    '/proc/self/uid_map',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split(/\s+/).map(Number), [0, single.uid, 1]);
  const other = single.ts('tsrun', ['--rm', '--network', 'none', '-u', '1000', 'busybox', 'true']);
  assert.equal(other.status, 125);
  assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr);
  assert.match(other.stderr, /^tsrun: /);
  assert.match(
    other.stderr,
    /not mapped in the rootless user namespace: give this user a range in \/etc\/subuid/,
  );
  // a layer with a file of another owner (built and pushed by the user with ranges): unpacking
  // it says what to do, in one line
  const ctx = join(user.home, 'owned');
  mkdirSync(ctx);
  writeFileSync(
    join(ctx, 'Dockerfile'),
    'FROM busybox\nRUN mkdir /data && chown 1000:1000 /data\n',
  );
  spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, ctx]);
  const ref = `${registry.host}/rootless/owned:v1`;
  ok(
    user.ts('tsbuild', ['-t', ref, '--push', '--network', 'none', '--progress', 'plain', 'owned']),
    'tsbuild --push',
  );
  const unpack = single.ts('tsrun', ['--rm', '--network', 'none', ref, 'true']);
  assert.equal(unpack.status, 125, unpack.stderr);
  const errors = unpack.stderr.split('\n').filter((l) => l.startsWith('tsrun: '));
  assert.equal(errors.length, 1, unpack.stderr);
  assert.match(
    unpack.stderr,
    /owned by 1000:1000, which the rootless user namespace does not map: give this user ranges/,
  );
});
