// Unit tests: tsrun argument parsing, bridge subnet/address allocation, capped json logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunArgs } from '../../runner/run-flags.js';
import {
  allocateAddress,
  gatewayOf,
  ipString,
  parseSubnet,
  releaseAddress,
} from '../../runner/network.js';
import { LogWriter } from '../../runner/monitor.js';

test('tsrun flags stop at the image; combined short flags; = values; lists', () => {
  const a = parseRunArgs([
    '-dit',
    '--name=web',
    '-e',
    'A=1',
    '-e',
    'B=2',
    '-p',
    '8080:80',
    '-v',
    '/h:/c',
    '--cpus',
    '0.5',
    'img:v1',
    'sh',
    '-c',
    'echo -e hi',
  ]);
  assert.equal(a.image, 'img:v1');
  assert.equal(a.detached, true);
  assert.equal(a.interactive, true);
  assert.equal(a.flags.tty, true);
  assert.equal(a.name, 'web');
  assert.deepEqual(a.flags.env, ['A=1', 'B=2']);
  assert.deepEqual(a.flags.publish, ['8080:80']);
  assert.deepEqual(a.flags.cmd, ['sh', '-c', 'echo -e hi']);
  assert.equal(a.flags.cpus, '0.5');
  const b = parseRunArgs(['--rm', '--rootfs', '/some/dir', 'true']);
  assert.equal(b.rootfsDir, '/some/dir');
  assert.equal(b.autoRemove, true);
  assert.throws(() => parseRunArgs(['--bogus', 'x']), /unknown flag/);
  assert.throws(() => parseRunArgs(['--name']), /needs an argument/);
  assert.throws(() => parseRunArgs(['-d']), /at least 1 argument/);
  assert.throws(() => parseRunArgs(['-dz', 'x']), /unknown shorthand/);
  // values are checked while parsing, before anything is looked up or pulled
  assert.throws(() => parseRunArgs(['-m', '12zz', 'x']), /"-m, --memory" flag: invalid memory/);
  assert.throws(() => parseRunArgs(['-p', '1:2:3:4', 'x']), /"-p, --publish" flag/);
  assert.throws(() => parseRunArgs(['--cpus', '1', '--cpu-period', '9', 'x']), /--cpus conflicts/);
  assert.equal(parseRunArgs(['--net', 'none', '--rm=false', 'x']).flags.network, 'none');
});

test('subnet parsing and lowest-free address allocation', () => {
  const net = parseSubnet('10.88.0.0/24');
  assert.equal(gatewayOf(net), '10.88.0.1');
  assert.equal(ipString(net.base), '10.88.0.0');
  assert.throws(() => parseSubnet('10.0.0.0/31'), /invalid subnet/);
  assert.throws(() => parseSubnet('nope'), /invalid subnet/);
  const dir = mkdtempSync(join(tmpdir(), 'ips-'));
  try {
    const ipsDir = join(dir, '.ips');
    // owners must exist as container dirs beside .ips, or their address counts as free
    for (const id of ['a', 'b', 'c']) mkdirSync(join(dir, id));
    assert.equal(allocateAddress('a', net, ipsDir), '10.88.0.2');
    assert.equal(allocateAddress('b', net, ipsDir), '10.88.0.3');
    releaseAddress('10.88.0.2', 'a', ipsDir);
    assert.equal(allocateAddress('c', net, ipsDir), '10.88.0.2');
    releaseAddress('10.88.0.3', 'someone-else', ipsDir);
    assert.equal(readlinkSync(join(ipsDir, '10.88.0.3')), 'b', 'only the owner releases');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logs are json lines and rotate at the cap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logs-'));
  try {
    const file = join(dir, 'container.log');
    const w = new LogWriter(file, 300);
    for (let i = 0; i < 10; i++) w.write(i % 2 ? 'stderr' : 'stdout', Buffer.from(`line ${i}\n`));
    w.close();
    const cur = readFileSync(file, 'utf8');
    assert.ok(cur.length <= 300);
    assert.ok(existsSync(`${file}.1`));
    const last = cur
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { log: string; stream: string });
    assert.deepEqual(last.at(-1), { ...last.at(-1), log: 'line 9\n', stream: 'stderr' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the run path's reference normalisation agrees with shared/reference.ts", async () => {
  const { fastRefName } = await import('../../runner/image.js');
  const { parseReference, formatReference } = await import('../../shared/reference.js');
  for (const ref of [
    'busybox',
    'busybox:1.36',
    'library/busybox',
    'user/app:v1',
    'index.docker.io/library/busybox',
    'localhost/app',
    'localhost:5000/a/b:c',
    '127.0.0.1:5000/team/app:2.0-rc.1',
    'registry.example.com/x__y/z-q',
    'ghcr.io/o/r:latest',
  ]) {
    const p = parseReference(ref);
    assert.equal(fastRefName(ref), formatReference({ ...p, tag: p.tag ?? 'latest' }), ref);
  }
  for (const odd of [
    'Busybox',
    'a@sha256:' + '0'.repeat(64),
    'a//b',
    'a:b:c',
    '-x',
    'x:-bad',
    '',
  ]) {
    assert.equal(fastRefName(odd), undefined, odd);
  }
});
