// Outbound NAT for the container bridge, with iptables as Debian's docker.io does (here iptables
// is the nf_tables backend, `iptables-nft`; the rules are the same with the legacy one).
// Each bridge owns one chain named TSDOCK-<bridge> in the filter table and one in the nat table,
// rebuilt atomically by iptables-restore --noflush (declaring a chain flushes it), so a crash
// half-way leaves nothing that the next setup does not replace. One jump to each chain, first
// in FORWARD and POSTROUTING, is added only when `iptables -C` does not find it.
//   nat:    -s SUBNET ! -o BRIDGE -j MASQUERADE            (containers reach the outside)
//   filter: replies to the bridge accepted, bridge-to-bridge and bridge-to-outside accepted,
//           anything else towards the bridge dropped       (no inbound: ports are published by
//                                                            the userland proxy, never by DNAT)
// Like docker, IPv4 forwarding is switched on when it is off, and then FORWARD's policy becomes
// DROP so the host does not start routing for others. removeNat() deletes the jumps and chains.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { TsdockError } from '../shared/errors.js';

const FORWARD_SYSCTL = '/proc/sys/net/ipv4/ip_forward';

/** The chain owned by one bridge (same name in the filter and nat tables; <= 28 chars). */
export function natChain(bridge: string): string {
  return `TSDOCK-${bridge}`;
}

/** iptables-restore input that (re)builds both chains of a bridge (pure). */
export function natRules(bridge: string, subnet: string): string {
  const c = natChain(bridge);
  return [
    '*filter',
    `:${c} - [0:0]`,
    `-A ${c} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A ${c} -i ${bridge} -o ${bridge} -j ACCEPT`,
    `-A ${c} -i ${bridge} ! -o ${bridge} -j ACCEPT`,
    `-A ${c} -o ${bridge} -j DROP`,
    'COMMIT',
    '*nat',
    `:${c} - [0:0]`,
    `-A ${c} -s ${subnet} ! -o ${bridge} -j MASQUERADE`,
    'COMMIT',
    '',
  ].join('\n');
}

/** The jumps into a bridge's chains: [table, built-in chain]. */
function jumps(): [string, string][] {
  return [
    ['filter', 'FORWARD'],
    ['nat', 'POSTROUTING'],
  ];
}

function iptables(args: string[]): { ok: boolean; stderr: string } {
  const r = spawnSync('iptables', ['-w', ...args], { encoding: 'utf8' });
  if (r.error) {
    throw new TsdockError(
      `cannot run iptables: ${r.error.message}`,
      'bridge networking needs the iptables package (apt-get install iptables)',
    );
  }
  return { ok: r.status === 0, stderr: (r.stderr ?? '').trim() };
}

function fail(what: string, stderr: string): never {
  throw new TsdockError(
    `network NAT setup failed (${what}): ${stderr.split('\n')[0]}`,
    'bridge networking needs root and iptables; or use --network none|host',
  );
}

/** docker's behaviour: forwarding on; when it had to switch it on, FORWARD's policy DROP. */
function ensureForwarding(): void {
  let on = '1';
  try {
    on = readFileSync(FORWARD_SYSCTL, 'utf8').trim();
  } catch {
    return; // no /proc/sys here: nothing we can do, the kernel default stands
  }
  if (on === '1') return;
  writeFileSync(FORWARD_SYSCTL, '1\n');
  const r = iptables(['-P', 'FORWARD', 'DROP']);
  if (!r.ok) fail('FORWARD policy', r.stderr);
}

/** Installs (or rebuilds) the NAT and filter rules of a bridge; safe to repeat and to race. */
export function ensureNat(bridge: string, subnet: string): void {
  ensureForwarding();
  try {
    execFileSync('iptables-restore', ['-w', '--noflush'], {
      input: natRules(bridge, subnet),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  } catch (err) {
    fail('iptables-restore', String((err as { stderr?: Buffer }).stderr ?? err));
  }
  const chain = natChain(bridge);
  for (const [table, builtin] of jumps()) {
    if (iptables(['-t', table, '-C', builtin, '-j', chain]).ok) continue;
    const r = iptables(['-t', table, '-I', builtin, '1', '-j', chain]);
    if (!r.ok) fail(`${table} ${builtin}`, r.stderr);
  }
}

/** Removes every jump to a bridge's chains and the chains themselves (missing ones are fine). */
export function removeNat(bridge: string): void {
  const chain = natChain(bridge);
  for (const [table, builtin] of jumps()) {
    for (let i = 0; i < 16 && iptables(['-t', table, '-C', builtin, '-j', chain]).ok; i++)
      iptables(['-t', table, '-D', builtin, '-j', chain]);
    iptables(['-t', table, '-F', chain]);
    iptables(['-t', table, '-X', chain]);
  }
}

/** The rules mentioning a bridge's chain, from `iptables -S` of both tables (for checks). */
export function natRulesPresent(bridge: string): string[] {
  const chain = natChain(bridge);
  const out: string[] = [];
  for (const table of ['filter', 'nat']) {
    const r = spawnSync('iptables', ['-w', '-t', table, '-S'], { encoding: 'utf8' });
    for (const line of (r.stdout ?? '').split('\n'))
      if (line.includes(chain) || line.includes(` ${bridge} `)) out.push(`${table}: ${line}`);
  }
  return out;
}
