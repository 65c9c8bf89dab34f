// tsps's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tspsCommand = defineCommand({
  name: 'tsps',
  usage: '',
  summary: 'List containers.',
  args: { max: 0 },
  flags: {
    all: { type: 'boolean', short: 'a', description: 'Show all containers (default: running)' },
    quiet: { type: 'boolean', short: 'q', description: 'Only display container IDs' },
  },
});
