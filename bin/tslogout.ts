#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tslogout: forget the credentials stored for a registry (docker logout).
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { removeCredentials } from '../shared/credentials.js';
import { normalizeRegistry } from '../shared/reference.js';

runCli('tslogout', async (argv) => {
  const { values, positionals } = parseFlags(argv, { help: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(
      'Usage: tslogout [SERVER]\n\nLog out from a registry (default: docker.io).\n',
    );
    return 0;
  }
  if (positionals.length > 1)
    throw new UsageError('tslogout takes at most one SERVER', "see 'tslogout --help'");
  const registry = normalizeRegistry(positionals[0] ?? 'docker.io');
  if (await removeCredentials(registry))
    process.stdout.write(`Removing login credentials for ${registry}\n`);
  else process.stdout.write(`Not logged in to ${registry}\n`);
  return 0;
});
