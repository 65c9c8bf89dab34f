#!/usr/bin/env node
// tsnetwork: the bridge containers and builds share. `ls` shows it (name, subnet, gateway,
// whether it exists, its NAT rules); `rm` takes the bridge and its iptables rules down, which
// otherwise stay, like docker0, once the first container or RUN made them.
import { runCommand } from '../shared/cli.js';
import { TsdockError } from '../shared/errors.js';
import { tsnetworkCommand } from './commands/tsnetwork.js';

void runCommand(tsnetworkCommand, async ({ values: v, positionals }) => {
  const cmd = positionals[0];
  const net = await import('../runner/network.js');
  if (cmd === 'rm') {
    const name = positionals[1];
    if (name !== undefined && name !== net.BRIDGE)
      throw new TsdockError(
        `no network "${name}": tsdock has one bridge, ${net.BRIDGE}`,
        `run "tsnetwork rm ${net.BRIDGE}", or set TSDOCK_BRIDGE=${name} to manage that one`,
      );
    const { removed } = net.removeBridge({ force: v.force === true });
    process.stdout.write(removed ? `${net.BRIDGE}\n` : '');
    return 0;
  }
  const { existsSync } = await import('node:fs');
  const { natRulesPresent } = await import('../runner/nat.js');
  const subnet = net.parseSubnet();
  const rows = [
    ['NAME', 'SUBNET', 'GATEWAY', 'STATE', 'NAT RULES'],
    [
      net.BRIDGE,
      net.cidrOf(subnet),
      net.gatewayOf(subnet),
      existsSync(`/sys/class/net/${net.BRIDGE}`) ? 'up' : 'absent',
      String(natRulesPresent(net.BRIDGE).length),
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]! + 3))
        .join('')
        .trimEnd()}\n`,
    );
  return 0;
});
