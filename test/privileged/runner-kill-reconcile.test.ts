// Privileged: kill -9 of a foreground `tsrun --rm` at random moments (while it creates, starts
// or runs the container; bridge, none, cgroup v1 and v2), then one command (tsps -a): nothing
// is left. No record, name or address reservation, runtime dir, cgroup dir in any hierarchy,
// mount, veth or process of those containers.
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
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  cgroupV2Root,
  collect,
  leftoverCgroups,
  leftoverVeths,
  makeBusyboxRootfs,
  mountsMatching,
  sandboxProcesses,
  tsCommand,
  tsSpawn,
} from './runner-helpers.js';

let dir = '';
let root = '';
let rootfs = '';
let runtime = '';
const net = { TSDOCK_BRIDGE: 'tsrk0', TSDOCK_SUBNET: '10.231.7.0/24' };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-kill-'));
  root = join(dir, 'state');
  runtime = join(dir, 'run');
  rootfs = makeBusyboxRootfs(dir);
});
after(() => {
  const left = listDir(join(root, 'containers'));
  if (left.length) tsCommand(root, 'tsrm', ['-f', ...left], { env: envFor(0) });
  rmSync(dir, { recursive: true, force: true });
  // the test's own bridge and its NAT rules
  const rm = tsCommand(root, 'tsnetwork', ['rm', '--force'], { env: net });
  assert.equal(rm.code, 0, rm.stderr);
});

function listDir(path: string): string[] {
  try {
    return readdirSync(path).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

function envFor(i: number): Record<string, string> {
  const v2 = cgroupV2Root();
  const env: Record<string, string> = { ...net, TSDOCK_RUNTIME: runtime };
  if (v2 && i % 3 === 2) Object.assign(env, { TSDOCK_CGROUP_VERSION: '2', TSDOCK_CGROUP_ROOT: v2 });
  return env;
}

test('kill -9 of foreground tsrun --rm at random moments, then one command: nothing left', async () => {
  const ids = new Set<string>();
  const seen = () => {
    for (const id of [...listDir(runtime), ...listDir(join(root, 'containers'))]) ids.add(id);
  };
  const runs = 15;
  for (let i = 0; i < runs; i++) {
    const network = i % 2 === 0 ? 'bridge' : 'none';
    const child = tsSpawn(
      root,
      'tsrun',
      ['--rm', '--network', network, '--rootfs', rootfs, 'sh', '-c', 'echo up; sleep 30'],
      { env: envFor(i) },
    );
    const { exit } = collect(child);
    // spread over creating, starting and running (a start takes ~100-400 ms here)
    const delay = Math.floor(Math.random() * 700);
    await new Promise((r) => setTimeout(r, delay));
    seen();
    child.kill('SIGKILL');
    await exit;
    seen();
  }
  assert.ok(ids.size > 0, 'some runs got far enough to make a container');
  const r = tsCommand(root, 'tsps', ['-a'], { env: { ...net, TSDOCK_RUNTIME: runtime } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, `tsps -a lists nothing:\n${r.stdout}`);
  assert.deepEqual(listDir(join(root, 'containers')), [], 'no record directories');
  assert.deepEqual(listDir(join(root, 'containers/.names')), [], 'no names');
  assert.deepEqual(listDir(join(root, 'containers/.ips')), [], 'no address reservations');
  const leftRuntime = (existsSync(runtime) ? readdirSync(runtime) : []).map((id) => {
    const files = readdirSync(join(runtime, id));
    const owner = existsSync(join(runtime, id, 'owner'))
      ? readFileSync(join(runtime, id, 'owner'), 'utf8')
      : '-';
    return `${id.slice(0, 12)}: ${files.join(',')} owner=${owner}`;
  });
  assert.deepEqual(leftRuntime, [], 'no runtime dirs');
  const cgroups = [...ids].flatMap((id) => leftoverCgroups(id));
  assert.deepEqual(cgroups, [], 'no cgroup dirs in any hierarchy');
  const veths = leftoverVeths().filter((v) => [...ids].some((id) => id.startsWith(v.slice(3))));
  assert.deepEqual(veths, []);
  assert.deepEqual(mountsMatching(root), []);
  for (let i = 0; i < 100 && sandboxProcesses(root).length; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(sandboxProcesses(root), []);
  assert.ok(!existsSync(join(root, 'containers', [...ids][0]!)));
});

test('runtime dirs of owners that died before making the record are swept; ownerless ones stay', () => {
  const dead = spawnSync('true').pid!;
  const orphan = join(runtime, 'ab'.repeat(32));
  const legacy = join(runtime, 'cd'.repeat(32));
  mkdirSync(join(orphan, 'l'), { recursive: true });
  writeFileSync(join(orphan, 'owner'), `${dead} 1`);
  mkdirSync(legacy, { recursive: true });
  const unclaimed = join(runtime, `.new-${'ef'.repeat(32)}-${dead}`); // killed mid-claim
  mkdirSync(unclaimed);
  const r = tsCommand(root, 'tsps', [], { env: { ...net, TSDOCK_RUNTIME: runtime } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(orphan), 'swept');
  assert.ok(!existsSync(unclaimed), 'half-made claim swept');
  assert.ok(existsSync(legacy), 'no owner file: made by an older tsdock, left alone');
  rmSync(legacy, { recursive: true });
});
