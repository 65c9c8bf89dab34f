// tsrmi's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tsrmiCommand = defineCommand({
  name: 'tsrmi',
  usage: 'IMAGE [IMAGE...]',
  summary: 'Remove one or more images.',
  args: { min: 1 },
  flags: {
    force: { type: 'boolean', short: 'f', description: 'Force removal of the image' },
    'no-prune': { type: 'boolean', description: '(accepted for compatibility)' },
  },
});
