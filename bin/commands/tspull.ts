// tspull's command line (shared/cli.ts CommandSpec).
import { defineCommand, type FlagSpecs } from '../../shared/cli.js';
import { parsePlatform } from '../../shared/platform.js';
import { parseReference } from '../../shared/reference.js';

/** The flags tspull and tspush share. */
export const TRANSFER_FLAGS = {
  insecure: { type: 'boolean', description: 'Allow plain HTTP and unverified TLS' },
  quiet: { type: 'boolean', short: 'q', description: 'Suppress progress output' },
  progress: {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'tty', 'plain', 'quiet'],
    description: 'Progress output',
  },
} as const satisfies FlagSpecs;

export const tspullCommand = defineCommand({
  name: 'tspull',
  usage: 'NAME[:TAG|@DIGEST]',
  summary: 'Pull an image from a registry.',
  args: { min: 1, max: 1 },
  flags: {
    platform: {
      type: 'string',
      description: 'os/arch[/variant] to pick from a multi-platform image',
      complete: 'none',
      check: parsePlatform,
    },
    ...TRANSFER_FLAGS,
  },
  validate: ({ positionals }) => parseReference(positionals[0]!),
});
