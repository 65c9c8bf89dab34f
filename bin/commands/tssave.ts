// tssave's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { parsePlatform } from '../../shared/platform.js';

export const tssaveCommand = defineCommand({
  name: 'tssave',
  usage: 'IMAGE [IMAGE...]',
  summary: 'Save one or more images to a tar archive (streamed to STDOUT by default).',
  args: { min: 1 },
  flags: {
    output: {
      type: 'string',
      short: 'o',
      description: 'Write to a file (or, with --format oci-dir, a directory), instead of STDOUT',
    },
    format: {
      type: 'string',
      default: 'docker',
      choices: ['docker', 'oci', 'oci-dir'],
      description: 'docker save format, OCI layout tar or OCI layout directory',
    },
    platform: {
      type: 'string',
      description: 'For multi-platform images in docker format: os/arch[/variant]',
      complete: 'none',
      check: parsePlatform,
    },
  },
  validate: ({ values }) => {
    if (values.format === 'oci-dir' && values.output === undefined)
      throw new Error('--format oci-dir needs -o DIRECTORY');
  },
});
