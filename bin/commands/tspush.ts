// tspush's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { parseReference } from '../../shared/reference.js';
import { TRANSFER_FLAGS } from './tspull.js';

export const tspushCommand = defineCommand({
  name: 'tspush',
  usage: 'NAME[:TAG] [TARGET[:TAG]]',
  summary: 'Push an image to a registry (to TARGET if given).',
  args: { min: 1, max: 2 },
  flags: TRANSFER_FLAGS,
  validate: ({ positionals }) => parseReference(positionals.at(-1)!),
});
