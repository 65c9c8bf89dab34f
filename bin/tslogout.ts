#!/usr/bin/env node
// tslogout: forget the credentials stored for a registry (docker logout).
import { runCommand } from '../shared/cli.js';
import { removeCredentials } from '../shared/credentials.js';
import { normalizeRegistry } from '../shared/reference.js';
import { tslogoutCommand } from './commands/tslogout.js';

void runCommand(tslogoutCommand, async ({ positionals }) => {
  const registry = normalizeRegistry(positionals[0] ?? 'docker.io');
  if (await removeCredentials(registry))
    process.stdout.write(`Removing login credentials for ${registry}\n`);
  else process.stdout.write(`Not logged in to ${registry}\n`);
  return 0;
});
