// tskill's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { signalName } from '../../shared/cli-values.js';

export const tskillCommand = defineCommand({
  name: 'tskill',
  usage: 'CONTAINER [CONTAINER...]',
  summary: "Send a signal (default KILL) to containers' main process.",
  args: { min: 1 },
  flags: {
    signal: {
      type: 'string',
      short: 's',
      default: 'KILL',
      description: 'Signal to send (name or number)',
      complete: 'none',
      check: signalName,
    },
  },
});
