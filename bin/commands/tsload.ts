// tsload's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tsloadCommand = defineCommand({
  name: 'tsload',
  usage: '',
  summary: 'Load images from a tar archive or OCI layout directory (or a tar on STDIN).',
  args: { max: 0 },
  flags: {
    input: {
      type: 'string',
      short: 'i',
      description: 'Read from this tar archive file or OCI layout directory, instead of STDIN',
    },
    quiet: { type: 'boolean', short: 'q', description: 'Suppress the load output' },
    tag: {
      type: 'string',
      short: 't',
      multiple: true,
      description: 'Name the loaded image (the archive must hold one image); repeatable',
      complete: 'none',
    },
  },
});
