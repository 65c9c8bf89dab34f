// tsrm's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tsrmCommand = defineCommand({
  name: 'tsrm',
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers.',
  args: { min: 1 },
  flags: {
    force: {
      type: 'boolean',
      short: 'f',
      description: 'Force the removal of a running container (stops it first)',
    },
  },
});
