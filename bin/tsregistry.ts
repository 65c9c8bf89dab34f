#!/usr/bin/env node
// tsregistry: the OCI distribution registry server, plus `gc` and `user add|remove|list`.
// Thin: parse flags, load the config, call registry/.
import { randomBytes } from 'node:crypto';
import { parseFlags, readPasswordFromStdin, runCli, UsageError } from '../shared/cli.js';
import { loadConfig, usersFile, type RegistryConfig } from '../registry/config.js';

const USAGE = `Usage:
  tsregistry [serve] [--config FILE]      run the registry (default 127.0.0.1:5000)
  tsregistry gc [--dry-run] [--untagged] [--config FILE]
                                          delete unreferenced blobs (registry stopped; the
                                          running server collects online: storage.maintenance.gc)
  tsregistry user add NAME [--password-stdin] [--access GRANT]... [--config FILE]
  tsregistry user remove NAME [--config FILE]
  tsregistry user list [--config FILE]

GRANT is a scope pattern: repository:team-a/*:pull,push | repository:*:pull | registry:catalog:*
(default for a new user: repository:*:pull,push,delete and registry:catalog:*).
Environment: REGISTRY_HTTP_ADDR, REGISTRY_LOG_LEVEL, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, ...`;

const FLAGS = {
  config: { type: 'string' },
  'dry-run': { type: 'boolean' },
  untagged: { type: 'boolean' },
  'password-stdin': { type: 'boolean' },
  access: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS, { name: 'tsregistry' });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig(values.config);
  const [cmd = 'serve', ...rest] = positionals;
  if (cmd === 'serve') return await serve(config, values.config === undefined);
  if (cmd === 'gc') return await gc(config, !!values['dry-run'], !!values.untagged);
  if (cmd === 'user') return await user(config, rest, values);
  throw new UsageError(`unknown command "${cmd}"`, "see 'tsregistry --help'");
}

async function serve(config: RegistryConfig, embeddedDefault: boolean): Promise<number> {
  if (embeddedDefault && config.auth) await firstAdmin(config);
  const { startServer } = await import('../registry/server.js');
  const running = await startServer(config);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      running.logger.info({ signal }, 'shutting down');
      void running.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

/** With the embedded default config and no users yet, start creates `admin` and shows its password once. */
async function firstAdmin(config: RegistryConfig): Promise<void> {
  const { UsersFile } = await import('../registry/auth/users.js');
  const users = new UsersFile(usersFile(config));
  if (Object.keys(users.read()).length > 0) return;
  const password = randomBytes(18).toString('base64url');
  users.add('admin', password);
  process.stderr.write(
    `tsregistry: token auth is on; created user "admin" with password ${password}\n` +
      `  (shown once; stored hashed in ${users.file}; add users with "tsregistry user add")\n`,
  );
}

async function gc(config: RegistryConfig, dryRun: boolean, untagged: boolean): Promise<number> {
  const { Registry } = await import('../registry/services/registry.js');
  const { GarbageCollector } = await import('../registry/gc.js');
  const registry = await Registry.openFilesystem(config.storage.filesystem.rootdirectory).catch(
    (err: Error) => {
      throw new UsageError(
        `cannot open the registry store: ${err.message}`,
        'stop the server first (it collects online), or check --config',
      );
    },
  );
  try {
    const report = await new GarbageCollector(registry, {
      untagged: untagged || config.storage.maintenance.gc.untagged,
      grace: 0,
    }).run({ dryRun });
    const verb = dryRun ? 'would delete' : 'deleted';
    for (const m of report.manifestsDeleted) console.log(`${verb} manifest ${m.repo}@${m.digest}`);
    for (const d of report.blobsDeleted) console.log(`${verb} blob ${d}`);
    console.log(
      `${verb} ${report.blobsDeleted.length} blobs (${report.bytesFreed} bytes), ${report.manifestsDeleted.length} manifests, ${report.uploadsPurged} abandoned uploads`,
    );
  } finally {
    await registry.close();
  }
  return 0;
}

async function user(
  config: RegistryConfig,
  args: string[],
  values: { 'password-stdin'?: boolean; access?: string[] },
): Promise<number> {
  const { UsersFile, ADMIN_ACCESS } = await import('../registry/auth/users.js');
  const users = new UsersFile(usersFile(config));
  const [sub, name] = args;
  if (sub === 'list') {
    for (const [n, u] of Object.entries(users.read())) console.log(`${n}\t${u.access.join(' ')}`);
    return 0;
  }
  if (!name)
    throw new UsageError(`user ${sub ?? ''}: a user name is required`, "see 'tsregistry --help'");
  if (sub === 'add') {
    let password: string;
    if (values['password-stdin']) password = await readPasswordFromStdin();
    else {
      password = randomBytes(18).toString('base64url');
      console.log(`password for ${name}: ${password}`);
    }
    users.add(name, password, values.access?.length ? values.access : ADMIN_ACCESS);
    return 0;
  }
  if (sub === 'remove') {
    users.remove(name);
    return 0;
  }
  throw new UsageError(`unknown user command "${sub ?? ''}"`, 'use add, remove or list');
}

void runCli('tsregistry', main);
