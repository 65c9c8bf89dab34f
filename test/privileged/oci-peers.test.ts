// Other runtimes read tsdock's images: an image built by tsbuild and pushed to tsregistry is
// pulled and run by podman (private storage root, runc, no network) and by containerd's `ctr`
// (a private containerd with its own root, state and socket, stopped by its PID). Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBuildRoot, tsbuild, type BuildRoot } from '../helpers/builder-run.js';
import { requirePeer } from '../helpers/peers.js';
import { spawnRegistry, type RegistryProcess } from '../helpers/registry-server.js';
import { waitFor } from '../helpers/wait.js';

const GREETING = `hello from tsbuild ${process.pid}\n`;
let dir: string;
let br: BuildRoot;
let reg: RegistryProcess;
let image: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oci-peers-'));
  br = await makeBuildRoot();
  reg = await spawnRegistry(join(dir, 'registry'));
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'greeting.txt'), GREETING);
  writeFileSync(
    join(ctx, 'Dockerfile'),
    'FROM busybox\nCOPY greeting.txt /greeting.txt\nRUN wc -c /greeting.txt > /size\nCMD ["cat", "/greeting.txt"]\n',
  );
  image = `${reg.host}/peers/hello:v1`;
  const built = tsbuild(br, ['-t', image, '--push', ctx]);
  assert.equal(built.status, 0, built.stderr);
});
after(async () => {
  await reg?.stop();
  await br?.close();
  rmSync(dir, { recursive: true, force: true });
});

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error) };
}

/** Unmounts whatever is still mounted under `root` (deepest first). */
function unmountUnder(root: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(root))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}

test('podman pulls the image from tsregistry and runs it', (t) => {
  if (!requirePeer(t, 'podman', 'runc')) return;
  const home = join(dir, 'podman');
  mkdirSync(home);
  const conf = join(home, 'registries.conf');
  writeFileSync(conf, `[[registry]]\nlocation = "${reg.host}"\ninsecure = true\n`);
  const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: conf };
  const podman = (args: string[]) =>
    sh(
      'podman',
      [
        '--root',
        join(home, 'root'),
        '--runroot',
        join(home, 'run'),
        '--storage-driver',
        'vfs',
        '--cgroup-manager',
        'cgroupfs',
        '--runtime',
        'runc',
        ...args,
      ],
      env,
    );
  try {
    const pulled = podman(['pull', '-q', image]);
    assert.equal(pulled.status, 0, pulled.stderr);
    // podman's defaults ask for more open files and processes than this machine grants
    const runArgs = ['run', '--rm', '--network', 'none', '--ulimit', 'nofile=20000:20000'];
    const ran = podman([...runArgs, '--ulimit', 'nproc=4096:4096', image]);
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(ran.stdout, GREETING, 'the CMD tsbuild recorded, over its layers');
    const size = podman([...runArgs, '--ulimit', 'nproc=4096:4096', image, 'cat', '/size']);
    assert.equal(size.status, 0, size.stderr);
    assert.equal(size.stdout.trim(), `${GREETING.length} /greeting.txt`, 'the RUN layer');
  } finally {
    podman(['rmi', '-a', '-f']);
    unmountUnder(home);
  }
});

test('containerd (ctr) pulls the image from tsregistry and runs it', async (t) => {
  if (!requirePeer(t, 'containerd', 'ctr', 'containerd-shim-runc-v2', 'runc')) return;
  // Short paths: the sockets must stay under 108 bytes.
  const base = mkdtempSync(join('/tmp', 'ctd-'));
  const sock = join(base, 'c.sock');
  writeFileSync(
    join(base, 'config.toml'),
    [
      'version = 2',
      `root = "${join(base, 'root')}"`,
      `state = "${join(base, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '[debug]',
      `  address = "${join(base, 'debug.sock')}"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(base, 'opt')}"`,
      '',
    ].join('\n'),
  );
  const runDir = '/run/containerd'; // the shims' sockets and fifos, and runc's state, go here
  const runDirBefore = existsSync(runDir);
  const daemon: ChildProcess = spawn('containerd', ['--config', join(base, 'config.toml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  daemon.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(daemon, 'exit');
  const namespace = `tsdock-peers-${process.pid}`;
  const ctr = (args: string[]) => sh('ctr', ['--address', sock, '--namespace', namespace, ...args]);
  try {
    await waitFor(
      () => daemon.exitCode === null && existsSync(sock) && ctr(['version']).status === 0,
      `containerd to answer on ${sock} (${stderr.slice(-300)})`,
    );
    const pulled = ctr(['images', 'pull', '--plain-http', image]);
    assert.equal(pulled.status, 0, pulled.stderr);
    const ran = ctr(['run', '--rm', image, `hello-${process.pid}`]);
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(ran.stdout, GREETING, 'the CMD tsbuild recorded, over its layers');
    const size = ctr(['run', '--rm', image, `size-${process.pid}`, 'cat', '/size']);
    assert.equal(size.status, 0, size.stderr);
    assert.equal(size.stdout.trim(), `${GREETING.length} /greeting.txt`, 'the RUN layer');
  } finally {
    ctr(['images', 'rm', image]);
    daemon.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    unmountUnder(base);
    for (const c of ['cpu', 'cpuacct', 'memory', 'pids', 'devices', 'freezer', 'blkio', 'cpuset'])
      spawnSync('rmdir', [join('/sys/fs/cgroup', c, namespace)]);
    rmSync(join(runDir, 'runc', namespace), { recursive: true, force: true });
    if (!runDirBefore)
      for (const d of ['fifo', 's', 'runc', ''].map((n) => join(runDir, n)))
        spawnSync('rmdir', [d], { stdio: 'ignore' });
    rmSync(base, { recursive: true, force: true });
  }
});
