// Unit tests for the pure container spec (docker's semantics) and the helper's argv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSpec,
  mergeEnv,
  parseLimits,
  parseMemory,
  parsePublish,
  parseVolume,
  resolveArgv,
  type RunFlags,
} from '../../runner/spec.js';
import { sandboxArgs } from '../../runner/sandbox.js';
import { sharesToWeight, CgroupV2Driver, CgroupV1Driver } from '../../runner/cgroups.js';
import { mkdtempSync, readFileSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const flags = (f: Partial<RunFlags> = {}): RunFlags => ({
  cmd: [],
  env: [],
  volumes: [],
  tmpfs: [],
  publish: [],
  ...f,
});

test('entrypoint and cmd follow docker', () => {
  const cfg = { Entrypoint: ['/ep'], Cmd: ['a', 'b'] };
  assert.deepEqual(resolveArgv(cfg, flags()), ['/ep', 'a', 'b']);
  assert.deepEqual(resolveArgv(cfg, flags({ cmd: ['x'] })), ['/ep', 'x']);
  assert.deepEqual(resolveArgv(cfg, flags({ entrypoint: 'sh' })), ['sh']);
  assert.deepEqual(resolveArgv(cfg, flags({ entrypoint: '', cmd: ['ls'] })), ['ls']);
  assert.throws(() => resolveArgv({}, flags()), /no command specified/);
});

test('env: PATH default, image then flags, KEY alone from the caller', () => {
  const env = mergeEnv(
    ['A=1', 'PATH=/x'],
    ['A=2', 'B', 'C'],
    { hostname: 'h', tty: true },
    { B: 'b' },
  );
  assert.deepEqual(env, ['PATH=/x', 'HOSTNAME=h', 'A=2', 'B=b', 'TERM=xterm']);
  assert.ok(
    mergeEnv([], [], { hostname: 'h', tty: false }).includes(
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ),
  );
  assert.throws(() => mergeEnv([], ['=x'], { hostname: 'h', tty: false }), /invalid environment/);
});

test('limits: memory units, --cpus as quota, conflicts', () => {
  assert.equal(parseMemory('32m'), 32 * 1024 * 1024);
  assert.equal(parseMemory('1g'), 1024 ** 3);
  assert.throws(() => parseMemory('12x'), /invalid memory/);
  assert.throws(() => parseMemory('1k'), /too small/);
  assert.deepEqual(parseLimits(flags({ cpus: '0.2' })), { cpuPeriod: 100000, cpuQuota: 20000 });
  assert.deepEqual(
    parseLimits(flags({ cpuPeriod: '100000', cpuQuota: '20000', pidsLimit: '20' })),
    {
      cpuPeriod: 100000,
      cpuQuota: 20000,
      pids: 20,
    },
  );
  assert.throws(() => parseLimits(flags({ cpus: '1', cpuQuota: '5' })), /conflicts/);
  assert.throws(() => parseLimits(flags({ pidsLimit: '-1' })), /invalid --pids-limit/);
});

test('volumes, tmpfs and ports', () => {
  assert.deepEqual(parseVolume('/h:/c:ro'), {
    type: 'bind',
    source: '/h',
    target: '/c',
    readOnly: true,
  });
  assert.equal(parseVolume('data:/c').type, 'volume');
  assert.equal(parseVolume('/h:/c:rw').readOnly, false);
  assert.equal(parseVolume('/h:/c:ro').recursiveReadOnly, undefined);
  assert.equal(parseVolume('/h:/c:rro').recursiveReadOnly, 'required');
  assert.equal(parseVolume('/h:/c:ro-non-recursive,z').recursiveReadOnly, 'disabled');
  assert.equal(parseVolume('/h:/c:ro-non-recursive').readOnly, true);
  assert.throws(() => parseVolume('/h:/c:ro,rw'), /invalid volume mode/);
  assert.throws(() => parseVolume('/h:/c:rro,ro'), /invalid volume mode/);
  assert.throws(() => parseVolume('/h:/c:ro-recursive'), /invalid volume mode/);
  assert.throws(
    () => parseVolume('/h:rel'),
    (e: Error & { hint?: string }) => /absolute/.test(e.hint ?? ''),
  );
  assert.throws(() => parseVolume('/h'), /invalid volume/);
  assert.deepEqual(parsePublish('8080:80'), {
    hostIp: '127.0.0.1',
    hostPort: 8080,
    containerPort: 80,
    protocol: 'tcp',
  });
  assert.equal(parsePublish('0.0.0.0:80:80/tcp').hostIp, '0.0.0.0');
  assert.throws(() => parsePublish('80:80/udp'), /unsupported protocol/);
  assert.throws(() => parsePublish('99999:80'), /invalid port/);
});

test('buildSpec: defaults and network checks', () => {
  const spec = buildSpec(
    { Cmd: ['sh'], WorkingDir: '/app', User: 'nobody' },
    flags({ tmpfs: ['/run'] }),
    'abcdef0123456789',
  );
  assert.equal(spec.hostname, 'abcdef012345');
  assert.equal(spec.cwd, '/app');
  assert.equal(spec.user, 'nobody');
  assert.deepEqual(spec.network, { mode: 'bridge' });
  assert.equal(spec.mounts[0]!.type, 'tmpfs');
  assert.deepEqual(buildSpec({ Cmd: ['sh'] }, flags({ network: 'container:web' }), 'x').network, {
    mode: 'container',
    container: 'web',
  });
  assert.throws(
    () => buildSpec({ Cmd: ['sh'] }, flags({ network: 'none', publish: ['1:1'] }), 'x'),
    /bridge/,
  );
  assert.throws(() => buildSpec({ Cmd: ['sh'] }, flags({ workdir: 'rel' }), 'x'), /not absolute/);
  assert.throws(
    () => buildSpec({ Cmd: ['sh'] }, flags({ network: 'weird' }), 'x'),
    /invalid network/,
  );
});

test('sandboxArgs renders every option before -- and the argv after', () => {
  const args = sandboxArgs({
    rootfs: '/r',
    overlay: { base: '/c', lowers: ['l/1', 'l/0'], upper: 'upper', work: 'work' },
    argv: ['sh', '-c', '--'],
    env: ['A=1'],
    cwd: '/w',
    user: 'nobody',
    hostname: 'h',
    network: 'new',
    mounts: [
      { type: 'bind', source: '/s', target: '/t', readOnly: true },
      { type: 'bind', source: '/a', target: '/b', readOnly: true, recursiveReadOnly: 'required' },
      { type: 'bind', source: '/c', target: '/d', readOnly: true, recursiveReadOnly: 'disabled' },
      { type: 'bind', source: '/e', target: '/f', readOnly: false },
      { type: 'tmpfs', source: 'tmpfs', target: '/tmp', readOnly: false, options: 'size=1m' },
    ],
    cgroups: ['/sys/fs/cgroup/memory/tsdock/x'],
    init: true,
  });
  const sep = args.indexOf('--');
  assert.deepEqual(args.slice(sep + 1), ['sh', '-c', '--']);
  const opts = args.slice(0, sep).join(' ');
  assert.match(opts, /^run --rootfs \/r --overlay \/c l\/1:l\/0 upper work/);
  assert.match(opts, /--bind \/s \/t ro /);
  assert.match(opts, /--bind \/a \/b rro /);
  assert.match(opts, /--bind \/c \/d ro-non-recursive /);
  assert.match(opts, /--bind \/e \/f rw /);
  assert.match(opts, /--tmpfs \/tmp size=1m/);
  assert.match(opts, /--user nobody/);
  assert.match(opts, /--cgroup \/sys\/fs\/cgroup\/memory\/tsdock\/x/);
  assert.match(opts, /--init/);
});

test('cgroup drivers write the limit files (v2 and v1, fake roots)', () => {
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(2), 1);
  const root = mkdtempSync(join(tmpdir(), 'cg-'));
  try {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids');
    mkdirSync(join(root, 'tsdock'));
    writeFileSync(join(root, 'tsdock', 'cgroup.controllers'), 'cpu memory pids');
    const cg = new CgroupV2Driver(root).create('c1', {
      memory: 33554432,
      cpuQuota: 20000,
      cpuPeriod: 100000,
      pids: 20,
    });
    const dir = join(root, 'tsdock', 'c1');
    assert.deepEqual(cg.dirs, [dir]);
    assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8'), '33554432');
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '20000 100000');
    assert.equal(readFileSync(join(dir, 'pids.max'), 'utf8'), '20');
    assert.equal(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8'), '+memory +cpu +pids');
    writeFileSync(join(dir, 'memory.events'), 'oom 1\noom_kill 1\n');
    assert.equal(cg.oomKilled(), true);
    const v1root = join(root, 'v1');
    for (const c of ['memory', 'cpu', 'pids']) mkdirSync(join(v1root, c), { recursive: true });
    const cg1 = new CgroupV1Driver(v1root).create('c2', {
      memory: 33554432,
      cpuQuota: 20000,
      pids: 5,
    });
    assert.equal(cg1.dirs.length, 3);
    assert.equal(readFileSync(join(v1root, 'cpu/tsdock/c2/cpu.cfs_quota_us'), 'utf8'), '20000');
    assert.equal(cg1.oomKilled(), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
