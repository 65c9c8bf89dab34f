// A throwaway PostgreSQL cluster for tests: Debian's binaries (package `postgresql`), `initdb`
// into a temp dir, the server on 127.0.0.1 at a free port and on a unix socket in that dir,
// started and stopped by the test (stop sends SIGINT, a fast shutdown, to the postmaster's PID
// and waits for it).
// As root it runs as the `postgres` user (PostgreSQL refuses to run as root).
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { after, before } from 'node:test';
import { freePort, type RegistryProcess } from './registry-server.js';

export interface TestPostgres {
  port: number;
  /** The directory of its unix socket (`?host=<socketDir>` in a DSN). */
  socketDir: string;
  /** DSN of a database (default `postgres`). */
  dsn(database?: string): string;
  /** Creates an empty database and returns its DSN. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown by PID; resolves when the server has exited. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data. */
  start(): Promise<void>;
  /** Stops the server and removes the cluster. */
  close(): Promise<void>;
}

/** The directory holding initdb/pg_ctl: the newest /usr/lib/postgresql/N/bin. */
function binDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error('PostgreSQL server binaries not found: apt-get install postgresql');
  return join(base, versions[0]!, 'bin');
}

/** uid/gid to run the server as: the `postgres` user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

async function run(cmd: string, args: string[], user?: { uid: number; gid: number }) {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...user, cwd: '/' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${stderr.trim()}`)),
    );
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  await run(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'tsregistry', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    user,
  );
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`;
  const start = (): Promise<void> =>
    run(
      join(bin, 'pg_ctl'),
      ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start'],
      user,
    );
  const pid = (): number | undefined => {
    const file = join(data, 'postmaster.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
  };
  const stop = async (): Promise<void> => {
    const p = pid();
    if (p === undefined) return;
    try {
      process.kill(p, 'SIGINT');
    } catch {
      return;
    }
    // bounded: a postmaster that ignores a fast shutdown is killed; a PID that is no longer a
    // postgres process (the server died and the number was reused) is not waited for
    for (const deadline = Date.now() + 60_000; ;) {
      try {
        process.kill(p, 0);
        if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('postgres')) return;
      } catch {
        return;
      }
      if (Date.now() > deadline) process.kill(p, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await start();
  const dsn = (database = 'postgres') => `postgresql://tsregistry@127.0.0.1:${port}/${database}`;
  return {
    port,
    socketDir: dir,
    dsn,
    async createDatabase(name: string) {
      const client = new pg.Client({ connectionString: dsn() });
      await client.connect();
      try {
        // A natural-language default collation (ICU en-US: "a" < "B"), as many production
        // databases have, so ordering that relies on the store's own collation is tested.
        await client.query(
          `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`,
        );
      } finally {
        await client.end();
      }
      return dsn(name);
    },
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One PostgreSQL for a test file, started before its tests and stopped after them, with temp
 * directories and tsregistry child processes that are cleaned up then too (`ending` says how a
 * process still running at the end is stopped).
 */
export function postgresRegistryFixture(ending: 'kill9' | 'stop'): {
  server: () => TestPostgres;
  tempDir: (prefix: string) => string;
  track: (p: RegistryProcess) => RegistryProcess;
} {
  let server: TestPostgres | undefined;
  const dirs: string[] = [];
  const procs: RegistryProcess[] = [];
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) await p[ending]();
    await server?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    server: () => server!,
    tempDir: (prefix) => {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    track: (p) => {
      procs.push(p);
      return p;
    },
  };
}
