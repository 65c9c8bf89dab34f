#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tslogin: log in to a registry (docker login). Verifies the credentials against the registry,
// then stores them in tsdock's auth.json (Docker's config.json `auths` format).
import { RegistryClient } from '../shared/client/registry-client.js';
import {
  parseFlags,
  promptPassword,
  promptText,
  readPasswordFromStdin,
  runCli,
  UsageError,
} from '../shared/cli.js';
import { loadCredentials, saveCredentials } from '../shared/credentials.js';
import { normalizeRegistry } from '../shared/reference.js';

const HELP = `Usage: tslogin [OPTIONS] [SERVER]

Log in to a registry (default: docker.io).

Options:
  -u, --username string   Username
  -p, --password string   Password (insecure: prefer --password-stdin)
      --password-stdin    Take the password from stdin
      --insecure          Allow plain HTTP and unverified TLS for this registry
`;

runCli('tslogin', async (argv) => {
  const { values, positionals } = parseFlags(argv, {
    username: { type: 'string', short: 'u' },
    password: { type: 'string', short: 'p' },
    'password-stdin': { type: 'boolean' },
    insecure: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 1)
    throw new UsageError('tslogin takes at most one SERVER', "see 'tslogin --help'");
  const registry = normalizeRegistry(positionals[0] ?? 'docker.io');
  if (values.password !== undefined && values['password-stdin']) {
    throw new UsageError('--password and --password-stdin are mutually exclusive');
  }
  const insecure = values.insecure ? { insecure: true } : {};
  let username = values.username;
  let password = values.password;
  if (values['password-stdin']) {
    if (!username) throw new UsageError('must provide --username with --password-stdin');
    password = await readPasswordFromStdin();
  } else if (password !== undefined) {
    process.stderr.write(
      'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n',
    );
  }
  if (username === undefined && password === undefined) {
    // Like docker: reuse stored credentials when they still work.
    const stored = await loadCredentials(registry);
    if (stored) {
      process.stderr.write('Authenticating with existing credentials...\n');
      const ok = await new RegistryClient({ registry, credentials: stored, ...insecure })
        .ping()
        .then(() => true)
        .catch(() => false);
      if (ok) {
        process.stdout.write('Login Succeeded\n');
        return 0;
      }
    }
  }
  username ??= (await promptText('Username: ')).trim();
  if (!username) throw new UsageError('username is empty');
  password ??= await promptPassword('Password: ');
  if (!password) throw new UsageError('password is empty');
  const client = new RegistryClient({ registry, credentials: { username, password }, ...insecure });
  await client.ping();
  await saveCredentials(registry, username, password);
  process.stdout.write('Login Succeeded\n');
  return 0;
});
