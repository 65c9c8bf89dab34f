// tscommit's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tscommitCommand = defineCommand({
  name: 'tscommit',
  usage: 'CONTAINER REPOSITORY[:TAG]',
  summary: "Create a new image from a container's changes.",
  args: { min: 2, max: 2 },
  flags: {
    message: { type: 'string', short: 'm', description: 'Commit message', complete: 'none' },
    author: {
      type: 'string',
      short: 'a',
      description: 'Author (e.g. "Jane <jane@example.com>")',
      complete: 'none',
    },
    pause: {
      type: 'boolean',
      short: 'p',
      default: true,
      description: 'Pause the container while its files are read (--pause=false: not)',
    },
  },
});
