#!/usr/bin/env node
// tsregistry: the OCI distribution registry server, plus `gc` and `user add|remove|list`.
// Thin: parse flags, load the config, call registry/.
import { randomBytes } from 'node:crypto';
import { readPasswordFromStdin, runCommand, UsageError, type ParsedFlags } from '../shared/cli.js';
import { loadConfig, signingKeyFile, usersFile, type RegistryConfig } from '../registry/config.js';
import { tsregistryCommand } from './commands/tsregistry.js';

async function main({
  values,
  positionals,
}: ParsedFlags<(typeof tsregistryCommand)['flags']>): Promise<number> {
  const config = loadConfig(values.config);
  const [cmd = 'serve', ...rest] = positionals;
  if (cmd === 'serve') return await serve(config, values.config === undefined, values.workers);
  if (cmd === 'gc') {
    const grace = values.grace === undefined ? undefined : Number(values.grace);
    return await gc(config, { dryRun: !!values['dry-run'], untagged: !!values.untagged, grace });
  }
  if (cmd === 'user') return await user(config, rest, values);
  throw new UsageError(`unknown command "${cmd}"`); // tsregistryCommand refused it already
}

async function serve(
  config: RegistryConfig,
  embeddedDefault: boolean,
  workersFlag: string | undefined,
): Promise<number> {
  const cluster = await import('../registry/cluster.js');
  if (!cluster.isWorker()) {
    const workers = cluster.workerCount(config, workersFlag);
    if (embeddedDefault && config.auth) await firstAdmin(config);
    if (workers > 1) {
      // Made once here, so that workers starting together do not race to create it.
      if (config.auth?.token && !config.auth.token.rootcertbundle) {
        const { loadOrCreateSigningKey } = await import('../registry/auth/keys.js');
        loadOrCreateSigningKey(signingKeyFile(config));
      }
      // The database is checked (and migrated) once here: a wrong DSN is one line, not N.
      const { openMetadataStore } = await import('../registry/metadata/open.js');
      const store = await openMetadataStore(
        config.storage.filesystem.rootdirectory,
        config.metadata,
      );
      await store.close();
      return await cluster.runPrimary(workers);
    }
  }
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

interface GcFlags {
  dryRun: boolean;
  untagged: boolean;
  /** Seconds a blob must have existed to go (default: 0 offline, the server's config online). */
  grace?: number;
}

async function gc(config: RegistryConfig, flags: GcFlags): Promise<number> {
  const { dryRun, untagged } = flags;
  const { Registry } = await import('../registry/services/registry.js');
  const { GarbageCollector } = await import('../registry/gc.js');
  let report: import('../registry/gc.js').GcReport & {
    hidden?: { manifests: number; blobs: number };
  };
  // LevelDB: collect offline when no server holds the store. PostgreSQL is shared with running
  // replicas, so collection always goes through a server (its GC guard sees its pushes).
  const registry = config.metadata?.postgres
    ? undefined
    : await Registry.openFilesystem(config.storage.filesystem.rootdirectory, {
        s3: config.storage.s3,
      }).catch(() => undefined);
  if (registry) {
    try {
      report = await new GarbageCollector(registry, {
        untagged: untagged || config.storage.maintenance.gc.untagged,
        grace: flags.grace ?? 0,
      }).run({ dryRun });
    } finally {
      await registry.close();
    }
  } else report = await onlineGc(config, flags);
  const verb = dryRun ? 'would delete' : 'deleted';
  for (const m of report.manifestsDeleted) console.log(`${verb} manifest ${m.repo}@${m.digest}`);
  for (const d of report.blobsDeleted) console.log(`${verb} blob ${d}`);
  const hidden = report.hidden;
  if (hidden && hidden.manifests + hidden.blobs > 0)
    console.log(
      `(${hidden.manifests} manifests and ${hidden.blobs} blobs outside your grants not listed)`,
    );
  console.log(
    `${verb} ${report.blobsDeleted.length + (hidden?.blobs ?? 0)} blobs (${report.bytesFreed} bytes), ${report.manifestsDeleted.length + (hidden?.manifests ?? 0)} manifests, ${report.uploadsPurged} abandoned uploads`,
  );
  return 0;
}

/**
 * The store is held by a running server: ask it to collect online (POST /admin/gc on loopback).
 * With token auth on, the credentials `tslogin 127.0.0.1:PORT` saved are used; the user needs
 * the `registry:gc:*` grant (and `registry:catalog:*` to see every name in the report).
 */
async function onlineGc(
  config: RegistryConfig,
  { dryRun, untagged, grace }: GcFlags,
): Promise<import('../registry/handlers/admin.js').VisibleGcReport> {
  const { listenAddress } = await import('../registry/config.js');
  const { RegistryClient } = await import('../shared/client/registry-client.js');
  const { readBody } = await import('../shared/client/http.js');
  const { port } = listenAddress(config);
  const host = `127.0.0.1:${port}`;
  const client = new RegistryClient({ registry: host, insecure: true });
  const path = `/admin/gc?dryRun=${dryRun}${untagged ? '&untagged=true' : ''}${grace === undefined ? '' : `&grace=${grace}`}`;
  const res = await client
    .request(
      { method: 'POST', path, scopes: ['registry:gc:*', 'registry:catalog:*'], attempts: 1 },
      { op: 'delete', registry: host },
    )
    .catch((err: Error) => {
      if (/unauthorized|authentication/i.test(err.message))
        throw new UsageError(
          `online gc refused: ${err.message}`,
          `run 'tslogin ${host}' as a user granted registry:gc:*`,
        );
      throw new UsageError(
        `${config.metadata?.postgres ? 'with PostgreSQL metadata gc runs in a server' : 'the registry store is locked'} and no server answers on ${host}: ${err.message}`,
        'check --config (the data directory and http.addr of the running registry)',
      );
    });
  const text = (await readBody(res, 64 * 1024 * 1024)).toString('utf8');
  if (res.status !== 200) throw new UsageError(`online gc failed: ${res.status} ${text}`);
  return JSON.parse(text) as import('../registry/handlers/admin.js').VisibleGcReport;
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

void runCommand(tsregistryCommand, main);
