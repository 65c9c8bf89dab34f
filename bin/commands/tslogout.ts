// tslogout's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tslogoutCommand = defineCommand({
  name: 'tslogout',
  usage: '[SERVER]',
  summary: 'Log out from a registry (default: docker.io).',
  args: { max: 1 },
  flags: {},
});
