// Privileged: RUN and tsrun networking as docker's. The default network is the runner's bridge
// with outbound NAT: a Debian minbase image (debootstrap, cached) apt-get installs a package in
// a RUN; a RUN and a container reach a server in a network namespace this test makes ("the
// outside": a veth pair with no route back to the bridge, so only a masqueraded connection gets
// an answer, and the answer names the address it came from) and a server on the bridge's own
// gateway address; nothing from that outside reaches a container (no inbound). RUN
// --network=none / tsbuild --network none have only lo, --add-host (tsbuild and tsrun) lands in
// /etc/hosts. The test uses its own bridge and subnet and leaves no bridge, rule, namespace or
// veth behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fullRef,
  makeBuildRoot,
  TSBUILD,
  tsbuild,
  unpack,
  writeContext,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { importDebian } from '../helpers/debian-image.js';
import { leftoverCgroups, makeBusyboxRootfs, tsCommand, waitFor } from './runner-helpers.js';

// A bridge and subnets of our own (network.ts reads these when first imported).
const n = (process.pid % 200) + 20;
const BRIDGE = `tsbn${process.pid % 100000}`;
process.env.TSDOCK_BRIDGE = BRIDGE;
process.env.TSDOCK_SUBNET = `10.198.${n}.0/24`;
const GATEWAY = `10.198.${n}.1`;
const NETNS = `tsbn-out-${process.pid}`;
const OUT_HOST = `10.199.${n}.1`; // host end of the outside link
const OUT_PEER = `10.199.${n}.2`; // the outside server
const OUT_VETH = `tsbo${process.pid % 100000}`;

let br: BuildRoot;
let work: string;
let rootfs: string;
let outside: ChildProcess | undefined;
let gateway: ChildProcess | undefined;
const GATEWAY_PORT = 8090;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-net-'));
  rootfs = makeBusyboxRootfs(await mkdtemp(join(tmpdir(), 'tsbuild-net-rootfs-')));
  // the outside: a namespace behind a veth pair, reachable from the host only
  sh('ip', ['netns', 'add', NETNS]);
  sh('ip', ['link', 'add', OUT_VETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NETNS]);
  sh('ip', ['addr', 'add', `${OUT_HOST}/30`, 'dev', OUT_VETH]);
  sh('ip', ['link', 'set', OUT_VETH, 'up']);
  for (const cmd of [
    ['addr', 'add', `${OUT_PEER}/30`, 'dev', 'eth0'],
    ['link', 'set', 'eth0', 'up'],
    ['link', 'set', 'lo', 'up'],
  ])
    sh('ip', ['netns', 'exec', NETNS, 'ip', ...cmd]);
  // the bridge (and its NAT rules), then the servers: in the outside, and on the bridge's own
  // address (own processes: the tests wait for commands synchronously)
  const { ensureBridge } = await import('../../runner/network.js');
  ensureBridge();
  outside = await serve(['ip', 'netns', 'exec', NETNS], OUT_PEER, 8080, 'from ');
  gateway = await serve([], GATEWAY, GATEWAY_PORT, 'gateway says hi to ');
});

/** A child process answering HTTP with `reply` + the client's address; resolves once listening. */
async function serve(
  prefix: string[],
  address: string,
  port: number,
  reply: string,
): Promise<ChildProcess> {
  const script = join(work, `server-${port}.mjs`);
  await writeFile(
    script,
    `import { createServer } from 'node:http';
createServer((req, res) => res.end(${JSON.stringify(reply)} + req.socket.remoteAddress + '\\n'))
  .listen(${port}, '${address}', () => console.log('ready'));\n`,
  );
  const argv = [...prefix, process.execPath, script];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`server on ${address} exited (${code})`)));
  });
  return child;
}

after(async () => {
  gateway?.kill();
  outside?.kill();
  spawnSync('ip', ['netns', 'del', NETNS]);
  const { removeBridge } = await import('../../runner/network.js');
  const { natRulesPresent } = await import('../../runner/nat.js');
  removeBridge({ force: true });
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
  if (rootfs) await rm(join(rootfs, '..'), { recursive: true, force: true });
  assert.deepEqual(natRulesPresent(BRIDGE), [], 'no iptables rule of the test bridge is left');
  assert.ok(!existsSync(`/sys/class/net/${BRIDGE}`), 'the test bridge is gone');
  assert.ok(!existsSync(`/sys/class/net/${OUT_VETH}`), 'the outside veth is gone');
});

const context = (name: string, files: Record<string, string>): Promise<string> =>
  writeContext(work, name, files);

/** Builds and returns the text of `file` in the built image. */
async function buildAndRead(
  name: string,
  dockerfile: string,
  file: string,
  flags: string[] = [],
): Promise<string> {
  const dir = await context(name, { Dockerfile: dockerfile });
  const res = tsbuild(br, ['-t', `${name}:1`, ...flags, dir]);
  assert.equal(res.status, 0, res.stderr + res.stdout);
  const u = await unpack(br, fullRef(`${name}:1`));
  try {
    return readFileSync(join(u.rootfs, file), 'utf8');
  } finally {
    await u.close();
  }
}

test('RUN on the default network reaches the outside through NAT, and the bridge gateway', async () => {
  const text = await buildAndRead(
    'nat-run',
    [
      'FROM busybox',
      `RUN (timeout 10 wget -qO- http://${OUT_PEER}:8080/; timeout 10 wget -qO- http://${GATEWAY}:${GATEWAY_PORT}/; ls /sys/class/net) > /out`,
      '',
    ].join('\n'),
    'out',
  );
  const lines = text.split('\n');
  assert.equal(lines[0], `from ${OUT_HOST}`, 'the outside sees the host (masqueraded)');
  assert.match(lines[1]!, new RegExp(`^gateway says hi to 10\\.198\\.${n}\\.\\d+$`));
  assert.deepEqual(lines.slice(2), ['eth0', 'lo', '']);
});

test('RUN --network=none and tsbuild --network none: only lo, no way out', async () => {
  const df = [
    'FROM busybox',
    `RUN --network=none (ls /sys/class/net; timeout 3 wget -qO- http://${OUT_PEER}:8080/ || echo no-route) > /a`,
    `RUN --network=default ls /sys/class/net > /b`,
    '',
  ].join('\n');
  assert.equal(await buildAndRead('none-a', df, 'a'), 'lo\nno-route\n');
  assert.equal(await buildAndRead('none-b', df, 'b', ['--network', 'none']), 'lo\n');
  const host = await buildAndRead('none-c', df, 'b', ['--network', 'host']);
  assert.ok(host.split('\n').includes(BRIDGE), 'RUN --network=default is the build flag: host');
  const bad = tsbuild(br, ['--network', 'bogus', work]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /invalid argument "bogus" for "--network" flag/);
});

test('--add-host entries are in RUN /etc/hosts, which stays out of the layer', async () => {
  const dir = await context('hosts', {
    Dockerfile: 'FROM busybox\nRUN cat /etc/hosts > /h && cat /etc/resolv.conf > /r\n',
  });
  const res = tsbuild(br, [
    '-t',
    'hosts:1',
    '--add-host',
    'db.internal:10.9.8.7',
    '--add-host',
    'gw.internal=host-gateway',
    dir,
  ]);
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('hosts:1'));
  try {
    const hosts = readFileSync(join(u.rootfs, 'h'), 'utf8');
    assert.match(hosts, /^127\.0\.0\.1\s+localhost$/m);
    assert.match(hosts, /^10\.9\.8\.7\s+db\.internal$/m);
    assert.match(hosts, new RegExp(`^${GATEWAY.replaceAll('.', '\\.')}\\s+gw\\.internal$`, 'm'));
    assert.match(readFileSync(join(u.rootfs, 'r'), 'utf8'), /^nameserver /m);
    assert.ok(!existsSync(join(u.rootfs, 'etc/hosts')), '/etc/hosts is a mount, not in the layer');
  } finally {
    await u.close();
  }
  const bad = tsbuild(br, ['--add-host', 'nocolon', dir]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /invalid --add-host "nocolon"/);
});

test('tsrun default bridge: outbound NAT, the gateway reachable, no inbound from outside', async () => {
  const root = br.root;
  const r = tsCommand(root, 'tsrun', [
    '--rm',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    `timeout 10 wget -qO- http://${OUT_PEER}:8080/ && timeout 10 wget -qO- http://${GATEWAY}:${GATEWAY_PORT}/`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`^from ${OUT_HOST}\ngateway says hi to 10\\.198\\.${n}\\.\\d+\n$`),
  );
  // a server in a container: the host reaches it, the outside (even with a route) does not
  const d = tsCommand(root, 'tsrun', ['-d', '--rootfs', rootfs, 'httpd', '-f', '-p', '8081']);
  assert.equal(d.code, 0, d.stderr);
  const id = d.stdout.trim();
  try {
    const ip = JSON.parse(tsCommand(root, 'tsinspect', [id]).stdout)[0]?.NetworkSettings
      ?.IPAddress as string | undefined;
    assert.ok(ip, 'the container has an address');
    sh('ip', [
      'netns',
      'exec',
      NETNS,
      'ip',
      'route',
      'replace',
      `10.198.${n}.0/24`,
      'via',
      OUT_HOST,
    ]);
    const inbound = spawnSync(
      'ip',
      ['netns', 'exec', NETNS, '/bin/busybox', 'nc', '-w', '3', ip, '8081'],
      { input: 'GET / HTTP/1.0\r\n\r\n', encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(inbound.stdout, '', 'no connection from the outside to a container');
    const fromHost = spawnSync('/bin/busybox', ['nc', '-w', '3', ip, '8081'], {
      input: 'GET / HTTP/1.0\r\n\r\n',
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.match(fromHost.stdout, /^HTTP\/1\.[01] /, 'the host itself reaches it');
  } finally {
    tsCommand(root, 'tsrm', ['-f', id]);
    // the monitor settles the container after tsrm returns: wait for its cgroup to go
    await waitFor(() => leftoverCgroups(id).length === 0, `container ${id} settled`, 30_000);
  }
});

test('tsrun --add-host lands in /etc/hosts (host-gateway is the bridge address); bad ones refused', () => {
  const r = tsCommand(br.root, 'tsrun', [
    '--rm',
    '--network',
    'none',
    '--add-host',
    'db.internal:10.9.8.7',
    '--add-host=gw.internal:host-gateway',
    '--rootfs',
    rootfs,
    'cat',
    '/etc/hosts',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^10\.9\.8\.7\s+db\.internal$/m);
  assert.match(r.stdout, new RegExp(`^${GATEWAY.replaceAll('.', '\\.')}\\s+gw\\.internal$`, 'm'));
  const bad = tsCommand(br.root, 'tsrun', [
    '--rm',
    '--add-host',
    'x:y',
    '--rootfs',
    rootfs,
    'true',
  ]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid --add-host "x:y"/);
});

test('a Debian minbase image apt-get installs a package in RUN on the default network', async () => {
  const store = await withRoot(br.root, () => ContentStore.open());
  await importDebian(store, 'debian:bookworm');
  const dir = await context('apt', {
    Dockerfile: [
      'FROM debian:bookworm',
      'RUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*',
      'RUN hello > /greeting',
      '',
    ].join('\n'),
  });
  const res = spawnSync(process.execPath, [TSBUILD, '--progress=plain', '-t', 'apt:1', dir], {
    env: br.env,
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  assert.equal(res.status, 0, res.stderr);
  const u = await unpack(br, fullRef('apt:1'));
  try {
    assert.equal(readFileSync(join(u.rootfs, 'greeting'), 'utf8'), 'Hello, world!\n');
    assert.ok(existsSync(join(u.rootfs, 'usr/bin/hello')));
  } finally {
    await u.close();
  }
});

async function withRoot<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TSDOCK_ROOT;
  process.env.TSDOCK_ROOT = root;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.TSDOCK_ROOT;
    else process.env.TSDOCK_ROOT = saved;
  }
}
