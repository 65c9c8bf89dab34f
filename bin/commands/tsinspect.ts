// tsinspect's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { compileTemplate } from '../../shared/go-template.js';
import { parsePlatform } from '../../shared/platform.js';

export const tsinspectCommand = defineCommand({
  name: 'tsinspect',
  usage: 'NAME|ID [NAME|ID...]',
  summary: 'Return low-level information on containers and images.',
  args: { min: 1 },
  flags: {
    format: {
      type: 'string',
      short: 'f',
      description: 'Format output using a Go template',
      complete: 'none',
      check: compileTemplate,
    },
    type: {
      type: 'string',
      choices: ['container', 'image'],
      description: 'Only inspect objects of the given type',
    },
    size: { type: 'boolean', short: 's', description: '(accepted for compatibility)' },
    platform: {
      type: 'string',
      description: "Inspect that platform's image of a multi-platform image (os/arch[/variant])",
      complete: 'none',
      check: parsePlatform,
    },
  },
});
