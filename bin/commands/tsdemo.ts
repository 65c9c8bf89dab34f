// tsdemo's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tsdemoCommand = defineCommand({
  name: 'tsdemo',
  usage: '',
  summary:
    'Walk the reference workflow: start a registry, build, run, commit, push and pull the example app.',
  args: { max: 0 },
  flags: {},
  notes:
    'Environment: REGISTRY_HTTP_ADDR (default 127.0.0.1:5000), TSDEMO_PORT (8080), TSDOCK_ROOT.\nRun as root (it runs containers).',
});
