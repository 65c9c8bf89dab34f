// tsnetwork's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tsnetworkCommand = defineCommand({
  name: 'tsnetwork',
  usage: 'ls | rm [NAME]',
  summary: 'Show or remove the bridge of tsrun containers and tsbuild RUN steps.',
  args: { min: 1, max: 2 },
  commands: {
    ls: 'Show the bridge, its subnet and its NAT rules',
    rm: 'Remove the bridge and its NAT rules (refused while containers use it); NAME, when given, must be the bridge',
  },
  flags: {
    force: {
      type: 'boolean',
      short: 'f',
      description: 'rm: remove even while network interfaces are plugged into it',
    },
  },
  notes:
    'The bridge is TSDOCK_BRIDGE (default tsdock0) on subnet TSDOCK_SUBNET (default 172.31.0.0/16),\nwith outbound NAT (iptables chains TSDOCK-<bridge>).',
  validate: ({ positionals }) => {
    if (positionals[0] !== 'ls' && positionals[0] !== 'rm')
      throw new Error(`unknown command "${positionals[0]}"`);
    if (positionals.length > 1 && positionals[0] !== 'rm')
      throw new Error(`"tsnetwork ${positionals[0]}" takes no argument`);
  },
});
