// tsstop's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { wholeNumber } from '../../shared/cli-values.js';

export const tsstopCommand = defineCommand({
  name: 'tsstop',
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Stop containers: SIGTERM, then SIGKILL after a grace period.',
  args: { min: 1 },
  flags: {
    time: {
      type: 'string',
      short: 't',
      aliases: ['timeout'],
      default: '10',
      valueName: 'seconds',
      description: 'Seconds to wait before killing the container',
      complete: 'none',
      check: wholeNumber(0),
    },
  },
});
