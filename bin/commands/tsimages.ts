// tsimages's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { InvalidInputError } from '../../shared/errors.js';

export const tsimagesCommand = defineCommand({
  name: 'tsimages',
  usage: '[REPOSITORY[:TAG]]',
  summary: 'List images.',
  args: { max: 1 },
  flags: {
    all: {
      type: 'boolean',
      short: 'a',
      description: 'Show all images (no effect: there are no intermediate images)',
    },
    digests: { type: 'boolean', description: 'Show digests' },
    filter: {
      type: 'string',
      short: 'f',
      multiple: true,
      valueName: 'filter',
      description: 'Filter output: dangling=true|false, reference=PATTERN (glob, e.g. "bu*:*")',
      complete: 'none',
      check: (f) => {
        if (!/^(dangling=(true|false)|reference=.*)$/s.test(f))
          throw new InvalidInputError('use dangling=true|false or reference=PATTERN');
      },
    },
    format: {
      type: 'string',
      description: 'Format output using a Go template ("table ..." adds a header)',
      complete: 'none',
    },
    'no-trunc': { type: 'boolean', description: "Don't truncate output" },
    quiet: { type: 'boolean', short: 'q', description: 'Only show image IDs' },
    tree: {
      type: 'boolean',
      description: "List each image's platforms under it (multi-platform indexes)",
    },
  },
});
