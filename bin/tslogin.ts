#!/usr/bin/env node
// tslogin: log in to a registry (docker login). Verifies the credentials against the registry,
// then stores them in tsdock's auth.json (Docker's config.json `auths` format).
import { RegistryClient } from '../shared/client/registry-client.js';
import {
  promptPassword,
  promptText,
  readPasswordFromStdin,
  runCommand,
  UsageError,
} from '../shared/cli.js';
import { loadCredentials, saveCredentials } from '../shared/credentials.js';
import { normalizeRegistry } from '../shared/reference.js';
import { tsloginCommand } from './commands/tslogin.js';

void runCommand(tsloginCommand, async ({ values, positionals }) => {
  const registry = normalizeRegistry(positionals[0] ?? 'docker.io');
  const insecure = values.insecure ? { insecure: true } : {};
  let username = values.username;
  let password = values.password;
  if (values['password-stdin']) {
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
