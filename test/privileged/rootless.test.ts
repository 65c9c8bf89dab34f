// Privileged setup, rootless commands: root makes an ordinary user (useradd, its own
// /etc/subuid and /etc/subgid range) and a tsregistry; everything after runs as that user
// through runuser: load the busybox base, build the example app (RUN with outbound user-mode
// networking), run it with a published port and curl it, exec into it, commit and push to the
// registry, pull into a second store and run again; files made in a bind mount belong on the
// host to the user (container root) and to its mapped subordinate ids (container uid 1000);
// -m warns and runs; tsexec, tsstop and tsrm reach a container that runs as a subordinate id;
// kill -9 of a -p container's supervisor frees the port (pasta goes too). A second user without
// ranges gets a single-id mapping: busybox runs, other ids fail with one clear line.
// Everything is removed afterwards: containers, pause processes, users, files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
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

function canListen(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(p, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

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

test('rootless: a fully cached rebuild runs as the plain user (same image, no namespace)', () => {
  // its own state root: its pause process can be killed without touching the other tests'
  const root = join(user.home, 'probe-root');
  const ts = (cmd: string, args: string[]) =>
    user.run([
      'env',
      `TSDOCK_ROOT=${root}`,
      process.execPath,
      join(user.dist, 'bin', `${cmd}.js`),
      ...args,
    ]);
  const build = ['-q', '--network', 'none', '-t', 'app:probe', 'app'];
  ok(ts('tsload', ['-i', join(user.home, 'busybox-layout'), '-t', 'busybox:latest']), 'tsload');
  const first = ok(ts('tsbuild', build), 'first tsbuild').trim();
  assert.match(first, /^sha256:[0-9a-f]{64}$/);
  // the namespace goes away: a rebuild that re-executed itself would make a new pause process
  const pauseFile = join(root, 'rootless-pause');
  const pause = readFileSync(pauseFile, 'utf8');
  process.kill(Number(pause.split(' ')[0]), 'SIGKILL');
  for (let i = 0; i < 50 && existsSync(`/proc/${pause.split(' ')[0]}`); i++)
    spawnSync('sleep', ['0.1']);
  const again = ts('tsbuild', ['--progress', 'plain', ...build.slice(1)]);
  ok(again, 'cached tsbuild');
  assert.match(again.stdout, new RegExp(`writing image ${first} done`));
  assert.equal(again.stderr.match(/CACHED/g)?.length, 3, again.stderr); // WORKDIR, ADD, RUN
  assert.equal(readFileSync(pauseFile, 'utf8'), pause, 'the cached rebuild started a namespace');
  // a changed context misses: that build runs in the namespace (its log shown once)
  writeFileSync(join(user.home, 'app', 'www', 'probe.txt'), 'probe\n');
  spawnSync('chown', [`${user.uid}:${user.gid}`, join(user.home, 'app', 'www', 'probe.txt')]);
  const changed = ts('tsbuild', ['--progress', 'plain', ...build.slice(1)]);
  ok(changed, 'tsbuild after a change');
  assert.notEqual(readFileSync(pauseFile, 'utf8'), pause);
  assert.equal(changed.stderr.match(/ADD \. \/app/g)?.length, 1, changed.stderr);
  assert.doesNotMatch(changed.stdout, new RegExp(first));
  rmSync(join(user.home, 'app', 'www', 'probe.txt'));
  // a failing build fails as it did, its error said once
  const bad = join(user.home, 'bad-ctx');
  mkdirSync(bad);
  writeFileSync(join(bad, 'Dockerfile'), 'FROM busybox\nCOPY not-there /x\n');
  spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, bad]);
  const failed = ts('tsbuild', ['--progress', 'plain', 'bad-ctx']);
  assert.equal(failed.status, 1, failed.stderr);
  assert.equal(failed.stderr.match(/"not-there": not found/g)?.length, 2, failed.stderr); // log + error line
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

test('rootless: kill -9 of the supervisor of a -p container leaves no published port', async () => {
  const p2 = port + 1;
  const id = ok(
    user.ts('tsrun', [
      '-d',
      '--name',
      'k9',
      '-p',
      `${p2}:80`,
      'busybox',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/etc',
    ]),
    'tsrun -d -p',
  ).trim();
  const curl = () =>
    spawnSync('curl', ['-s', '-m', '5', `http://127.0.0.1:${p2}/passwd`], { encoding: 'utf8' });
  let body = '';
  for (let i = 0; i < 50 && !body.startsWith('root:'); i++) {
    body = curl().stdout;
    if (!body.startsWith('root:')) spawnSync('sleep', ['0.1']);
  }
  assert.match(body, /^root:/);
  const pid = Number(
    ok(user.ts('tsinspect', ['--format', '{{.State.Pid}}', 'k9']), 'tsinspect').trim(),
  );
  const ppid = (p: number) =>
    Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  const monitor = ppid(ppid(pid)); // container PID 1 <- sandbox helper <- monitor
  assert.match(readFileSync(`/proc/${monitor}/cmdline`, 'utf8'), /monitor-main/);
  process.kill(monitor, 'SIGKILL');
  spawnSync('sleep', ['0.5']);
  assert.match(ok(user.ts('tsps', ['-a']), 'tsps'), /Exited \(255\)/);
  // the port is free again (pasta gone, not merely a listener whose container died)
  let free = false;
  for (let i = 0; i < 50 && !free; i++) {
    free = await canListen(p2);
    if (!free) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(free, `port ${p2} is still held after the supervisor of ${id} was killed`);
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

test('rootless: a container running as a mapped id: tsexec joins it, tsstop and tsrm end it', () => {
  ok(
    user.ts('tsrun', [
      '-d',
      '--name',
      'sub',
      '--network',
      'none',
      '-u',
      '1000:1000',
      'busybox',
      'sleep',
      '300',
    ]),
    'tsrun -d -u',
  );
  assert.equal(ok(user.ts('tsexec', ['sub', 'id', '-u']), 'tsexec').trim(), '1000');
  const pid = Number(
    ok(user.ts('tsinspect', ['--format', '{{.State.Pid}}', 'sub']), 'tsinspect').trim(),
  );
  assert.equal(statSync(`/proc/${pid}`).uid, user.subStart! + 999);
  ok(user.ts('tsstop', ['-t', '1', 'sub']), 'tsstop');
  assert.match(ok(user.ts('tsps', ['-a']), 'tsps'), /Exited \(137\).*sub/);
  ok(user.ts('tsrm', ['sub']), 'tsrm');
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

test('rootless: TSDOCK_ROOTLESS_OVERLAY=fuse-overlayfs mounts the root with fuse-overlayfs', async () => {
  const fuse = { TSDOCK_ROOTLESS_OVERLAY: 'fuse-overlayfs' };
  const script = 'echo fuse > /written && grep " / / " /proc/self/mountinfo';
  const r = await user.tsAsync(
    'tsrun',
    ['--name', 'fo', '--network', 'none', 'busybox', 'sh', '-c', script],
    fuse,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, / - fuse\.fuse-overlayfs /); // the container's root
  const id = ok(user.ts('tsinspect', ['--format', '{{.Id}}', 'fo']), 'tsinspect').trim();
  const upper = join(user.home, '.local', 'share', 'tsdock', 'containers', id, 'upper');
  assert.equal(readFileSync(join(upper, 'written'), 'utf8'), 'fuse\n');
  assert.equal(statSync(join(upper, 'written')).uid, user.uid); // container root = the user
  // unmounted and gone once the container exited: no daemon, no mount left on the host
  const daemons = spawnSync('pgrep', ['-u', String(user.uid), 'fuse-overlayfs']).stdout;
  assert.equal(String(daemons).trim(), '');
  assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(id));
  // a RUN step goes through it too, and its layer has what it wrote
  const ctx = join(user.home, 'fuse-ctx');
  mkdirSync(ctx);
  writeFileSync(
    join(ctx, 'Dockerfile'),
    'FROM busybox\nRUN echo from-run > /ran && rm /bin/true\n',
  );
  spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, ctx]);
  const b = await user.tsAsync(
    'tsbuild',
    ['-t', 'fuse:run', '--network', 'none', '--progress', 'plain', 'fuse-ctx'],
    fuse,
  );
  assert.equal(b.status, 0, b.stderr);
  const c = await user.tsAsync(
    'tsrun',
    ['--rm', '--network', 'none', 'fuse:run', 'sh', '-c', 'cat /ran; ls /bin/true || echo none'],
    fuse,
  );
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^from-run\n/);
  assert.match(c.stdout, /none\n$/); // the whiteout made it into the layer
  // a detached one: tsexec sees the same root, tsstop ends the daemon with it
  const d = await user.tsAsync(
    'tsrun',
    ['-d', '--name', 'fod', '--network', 'none', 'busybox', 'sleep', '300'],
    fuse,
  );
  assert.equal(d.status, 0, d.stderr);
  ok(user.ts('tsexec', ['fod', 'sh', '-c', 'echo exec > /by-exec']), 'tsexec');
  assert.notEqual(
    String(spawnSync('pgrep', ['-u', String(user.uid), 'fuse-overlayfs']).stdout),
    '',
  );
  ok(user.ts('tsstop', ['-t', '1', 'fod']), 'tsstop');
  const upperD = join(
    user.home,
    '.local',
    'share',
    'tsdock',
    'containers',
    d.stdout.trim(),
    'upper',
  );
  assert.equal(readFileSync(join(upperD, 'by-exec'), 'utf8'), 'exec\n');
  const daemonsLeft = () =>
    String(spawnSync('pgrep', ['-u', String(user.uid), 'fuse-overlayfs']).stdout);
  for (let i = 0; i < 50 && daemonsLeft() !== ''; i++) spawnSync('sleep', ['0.1']);
  assert.equal(daemonsLeft(), '');
  ok(user.ts('tsrm', ['fo', 'fod']), 'tsrm');
});

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
