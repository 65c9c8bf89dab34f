// Privileged: the bridge's NAT rules are idempotent and survive crashes. Repeated setups leave
// one copy of each rule; a bridge made before NAT existed (or by a setup that crashed after
// creating it) gets its rules on the next start; rules left without a bridge (a crash before the
// bridge was made) are rebuilt, not doubled; removal takes every jump (even doubled ones) and
// chain away; a bridge left without its address by a crash is completed. Uses a bridge and subnet of its own, checked with `iptables -S`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const BRIDGE = `tsnat${process.pid % 100000}`;
process.env.TSDOCK_BRIDGE = BRIDGE;
process.env.TSDOCK_SUBNET = `10.196.${process.pid % 250}.0/24`;
const CHAIN = `TSDOCK-${BRIDGE}`;

const { ensureBridge, removeBridge } = await import('../../runner/network.js');
const { ensureNat, natRulesPresent } = await import('../../runner/nat.js');
const { tsBin } = await import('./runner-helpers.js');

/** Every rule line of the test bridge's chains and jumps, per table, sorted. */
function rules(): string[] {
  return natRulesPresent(BRIDGE).sort();
}

const jumpCount = (table: string, builtin: string): number =>
  execFileSync('iptables', ['-w', '-t', table, '-S', builtin], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l === `-A ${builtin} -j ${CHAIN}`).length;

after(() => {
  removeBridge({ force: true });
  assert.deepEqual(rules(), [], 'nothing of the test bridge is left in iptables');
  assert.ok(!existsSync(`/sys/class/net/${BRIDGE}`));
});

test('setup twice: the same rules once; the bridge carries the mark', () => {
  ensureBridge();
  const once = rules();
  assert.ok(
    once.some((l) => l.includes('-j MASQUERADE')),
    once.join('\n'),
  );
  assert.equal(jumpCount('filter', 'FORWARD'), 1);
  assert.equal(jumpCount('nat', 'POSTROUTING'), 1);
  ensureNat(BRIDGE, process.env.TSDOCK_SUBNET!);
  ensureBridge();
  assert.deepEqual(rules(), once, 'a second setup changes nothing');
  assert.match(readFileSync(`/sys/class/net/${BRIDGE}/ifalias`, 'utf8'), /^tsdock nat 10\.196\./);
});

test('a bridge without its rules (old bridge, or flushed rules) gets them on the next start', () => {
  const full = rules();
  removeBridge({ force: true });
  // a bridge as made before NAT existed: no rules, no mark
  execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  assert.deepEqual(rules(), []);
  ensureBridge();
  assert.deepEqual(rules(), full);
  const addr = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE], {
    encoding: 'utf8',
  });
  assert.match(addr, /inet 10\.196\.\d+\.1\/24/, 'a half-made bridge gets its address');
});

test('rules without a bridge (crash before it was made) are rebuilt, not doubled', () => {
  const full = rules();
  spawnSync('ip', ['link', 'del', BRIDGE]);
  // a crash half-way: one rule gone from the chain, the bridge never made
  execFileSync('iptables', ['-w', '-t', 'nat', '-F', CHAIN]);
  ensureBridge();
  assert.deepEqual(rules(), full);
});

test('tsnetwork ls shows the bridge; rm refuses while something is plugged in', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [tsBin('tsnetwork'), ...args], { encoding: 'utf8' });
  const ls = cli(['ls']);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(
    ls.stdout,
    new RegExp(`^${BRIDGE}\\s+10\\.196\\.\\d+\\.0/24\\s+10\\.196\\.\\d+\\.1\\s+up\\s+[1-9]`, 'm'),
  );
  const veth = `tsnv${process.pid % 100000}`;
  execFileSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`]);
  try {
    execFileSync('ip', ['link', 'set', veth, 'master', BRIDGE]);
    const rm = cli(['rm']);
    assert.equal(rm.status, 125);
    assert.match(rm.stderr, /is in use by 1 container network interface/);
    const named = cli(['rm', BRIDGE]); // docker users name the network
    assert.equal(named.status, 125);
    assert.match(named.stderr, /is in use by 1 container network interface/);
    const other = cli(['rm', 'nosuchnet']);
    assert.equal(other.status, 125);
    assert.match(other.stderr, /no network "nosuchnet": tsdock has one bridge/);
    assert.ok(existsSync(`/sys/class/net/${BRIDGE}`));
  } finally {
    spawnSync('ip', ['link', 'del', veth]);
  }
});

test('removal takes doubled jumps too (two setups that raced)', () => {
  execFileSync('iptables', ['-w', '-I', 'FORWARD', '1', '-j', CHAIN]);
  assert.equal(jumpCount('filter', 'FORWARD'), 2);
  assert.deepEqual(removeBridge(), { removed: true });
  assert.deepEqual(rules(), []);
  assert.equal(jumpCount('filter', 'FORWARD'), 0);
});
