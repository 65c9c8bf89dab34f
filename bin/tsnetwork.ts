#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tsnetwork: the bridge containers and builds share. `ls` shows it (name, subnet, gateway,
// whether it exists, its NAT rules); `rm` takes the bridge and its iptables rules down, which
// otherwise stay, like docker0, once the first container or RUN made them.
import { parseFlags, runCli, UsageError } from '../shared/cli.js';

const HELP = `Usage: tsnetwork ls | rm [--force]

The bridge of tsrun containers and tsbuild RUN steps (TSDOCK_BRIDGE, default tsdock0; subnet
TSDOCK_SUBNET, default 172.31.0.0/16), with outbound NAT (iptables chains TSDOCK-<bridge>).

Commands:
  ls            Show the bridge, its subnet and its NAT rules
  rm            Remove the bridge and its NAT rules (refused while containers use it)
      --force   Remove even while network interfaces are plugged into it
`;

runCli('tsnetwork', async (argv) => {
  const { values: v, positionals } = parseFlags(argv, {
    force: { type: 'boolean', short: 'f' },
    help: { type: 'boolean' },
  });
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [cmd, ...rest] = positionals;
  if ((cmd !== 'ls' && cmd !== 'rm') || rest.length > 0)
    throw new UsageError(`unknown command "${positionals.join(' ')}"`, "see 'tsnetwork --help'");
  const net = await import('../runner/network.js');
  if (cmd === 'rm') {
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
