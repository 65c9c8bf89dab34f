// tslogs's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tslogsCommand = defineCommand({
  name: 'tslogs',
  usage: 'CONTAINER',
  summary: "Print a detached container's logs.",
  args: { min: 1, max: 1 },
  flags: {
    follow: { type: 'boolean', short: 'f', description: 'Follow log output until it exits' },
  },
});
