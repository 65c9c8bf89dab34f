// tstag's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { parseReference } from '../../shared/reference.js';

export const tstagCommand = defineCommand({
  name: 'tstag',
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.',
  args: { min: 2, max: 2 },
  flags: {},
  validate: ({ positionals }) => parseReference(positionals[1]!),
});
