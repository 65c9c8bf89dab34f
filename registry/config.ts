// Configuration: a YAML file shaped like the reference registry's (version, log, storage,
// http, auth), REGISTRY_* environment overrides (REGISTRY_HTTP_ADDR, REGISTRY_LOG_LEVEL,
// REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, REGISTRY_AUTH_TOKEN_REALM...), and the embedded
// default. As with the reference registry a file without `auth` serves without authentication;
// with no file at all token auth is on (see bin/tsregistry.ts for the generated admin password).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { InvalidInputError, TsdockError } from '../shared/errors.js';
import { registryRoot } from '../shared/paths.js';
import { configProblem, configSections } from './config-schema.js';
import type { LoginLimitConfig } from './auth/login-limiter.js';
import { normalizeProxy, type ProxyConfig } from './proxy/config.js';
import { normalizeS3Config, type S3StorageConfig } from './storage/drivers/s3/s3-config.js';

export interface TokenAuthConfig {
  /** Where clients get tokens; default: `<scheme>://<request host>/token` (the built-in service). */
  realm?: string;
  service: string;
  issuer: string;
  /** Token lifetime in seconds. */
  expiration: number;
  /** PEM private key (ES256 or RS256) the built-in service signs with; generated when absent. */
  key?: string;
  /** PEM certificates of an external token issuer; when set, /token is not served. */
  rootcertbundle?: string;
  /** Users file (JSON, bcrypt hashes); default `<root>/auth/users.json`. */
  users?: string;
  /** Pull without credentials. */
  anonymouspull: boolean;
  /** Failed-login rate limits of the built-in token service (429 with Retry-After past them). */
  loginlimit: LoginLimitConfig;
}

export interface RegistryConfig {
  version: string;
  log: { level: string; formatter: 'json' | 'text' };
  storage: {
    /** Local data: metadata (LevelDB), auth files, and the blobs unless `s3` is set. */
    filesystem: { rootdirectory: string };
    /** Blobs and upload sessions in an S3 bucket instead of under rootdirectory. */
    s3?: S3StorageConfig;
    delete: { enabled: boolean };
    maintenance: {
      gc: {
        enabled: boolean;
        interval: number;
        untagged: boolean;
        grace: number;
        /** `POST /admin/gc` only from loopback clients (besides the `registry:gc:*` grant). */
        loopbackonly: boolean;
      };
      /** Background expiry of abandoned upload sessions (the reference's `uploadpurging`). */
      uploadpurging: { enabled: boolean; age: number; interval: number; dryrun: boolean };
    };
    /** Open upload sessions one client (token subject, else address) may hold; 0: no cap. */
    uploads: { maxperclient: number };
  };
  http: {
    addr: string;
    /** Worker processes sharing the socket (registry/cluster.ts); default: CPUs with PostgreSQL, else 1. */
    workers?: number;
    tls?: { certificate: string; key: string };
    draintimeout: number;
    timeouts: {
      /** Seconds to receive the request headers. */
      headers: number;
      /** Seconds a request body may stall (no byte received while the server reads). */
      bodyidle: number;
      /** Bytes per second a body must average, after a first `bodyidle` seconds of grace. */
      bodyminrate: number;
    };
    /** A separate listener for `/metrics` (like the reference's `http.debug`); when set, the main address serves no metrics. */
    debug?: { addr: string };
  };
  auth?: { token: TokenAuthConfig };
  /** Where metadata lives: embedded LevelDB under the root directory (default), or PostgreSQL. */
  metadata?: { postgres?: PostgresMetadataConfig };
  /** Pull-through cache of other registries (registry/proxy/config.ts). */
  proxy?: ProxyConfig;
  /** The web console at `/ui/` (registry/ui/); on unless `enabled: false`. */
  ui: { enabled: boolean };
}

/** `metadata.postgres`: a PostgreSQL database shared by every replica. */
export interface PostgresMetadataConfig {
  /** `postgresql://user:password@host:port/database` (`?host=/socket/dir` for a unix socket). */
  dsn: string;
  /** Connections per process (default 10). */
  poolsize: number;
  /** Seconds to wait for a connection (default 5). */
  connecttimeout: number;
  /** Seconds a query may take before the request fails with 503 (default 30). */
  querytimeout: number;
}

export function defaultConfig(): RegistryConfig {
  return {
    version: '0.1',
    log: { level: 'info', formatter: 'json' },
    storage: {
      filesystem: { rootdirectory: defaultDataDir() },
      delete: { enabled: true },
      maintenance: {
        gc: { enabled: false, interval: 3600, untagged: false, grace: 600, loopbackonly: true },
        uploadpurging: { enabled: true, age: 168 * 3600, interval: 24 * 3600, dryrun: false },
      },
      uploads: { maxperclient: 1000 },
    },
    http: {
      addr: '127.0.0.1:5000',
      draintimeout: 10,
      timeouts: { headers: 70, bodyidle: 60, bodyminrate: 1024 },
    },
    ui: { enabled: true },
  };
}

/** Registry server data: `$TSDOCK_ROOT/registry` (the local image store is `$TSDOCK_ROOT/images`). */
export function defaultDataDir(): string {
  return registryRoot();
}

export function defaultTokenAuth(): TokenAuthConfig {
  return {
    service: 'tsregistry',
    issuer: 'tsregistry',
    expiration: 300,
    anonymouspull: false,
    loginlimit: { enabled: true, peruser: 10, peraddress: 50, window: 300 },
  };
}

/**
 * Loads the config file (or the embedded default), applies REGISTRY_* env overrides, and checks
 * the result against registry/config-schema.ts: an unknown key, a value of the wrong type or an
 * invalid setting throws one line naming the key (exit 1).
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): RegistryConfig {
  const config = defaultConfig();
  if (file === undefined) {
    config.auth = { token: defaultTokenAuth() };
  } else {
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new InvalidInputError(
        `cannot read config ${file}: ${(err as Error).message.split('\n')[0]}`,
        undefined,
        1,
      );
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc)))
      throw new InvalidInputError(`config: ${file} is not a mapping of settings`, undefined, 1);
    if (doc) merge(config as unknown as Obj, doc as Obj);
  }
  const fromEnv = applyEnv(config as unknown as Obj, env);
  for (const key of dropIgnoredReferenceKeys(config as unknown as Obj))
    process.stderr.write(
      `tsregistry: config: ${key}: a reference-registry setting tsregistry does not use (ignored)\n`,
    );
  const problem = configProblem(config);
  if (problem) {
    const envName = [...fromEnv].find(([path]) => (problem.path + '.').startsWith(path + '.'))?.[1];
    const where = envName ? `${envName} (${problem.path})` : problem.path;
    throw new InvalidInputError(`config: ${where}: ${problem.message}`, undefined, 1);
  }
  if (config.auth) config.auth.token = withTokenDefaults(config.auth.token);
  try {
    normalize(config);
  } catch (err) {
    if (err instanceof TsdockError && err.exitCode !== 1)
      throw new InvalidInputError(err.message, err.hint, 1, { cause: err });
    throw err;
  }
  return config;
}

/**
 * Settings of the reference registry's config.yml that change nothing tsregistry must honour
 * for safety (caches, extra headers, health checks, notifications, access-log switches), so a
 * config taken from a registry:2 deployment starts with a warning for each instead of refusing.
 * Settings whose absence would change what is allowed or served (auth.htpasswd, http.prefix,
 * storage.maintenance.readonly...) are not here: the schema refuses them.
 */
const IGNORED_REFERENCE_KEYS = [
  'storage.cache',
  'storage.redirect',
  'storage.tag',
  'http.headers',
  'http.secret',
  'http.http2',
  'http.h2c',
  'http.host',
  'http.relativeurls',
  'http.net',
  'log.accesslog',
  'log.fields',
  'log.hooks',
  'health',
  'notifications',
  'reporting',
  'redis',
  'validation',
  'compatibility',
];

/** Removes the IGNORED_REFERENCE_KEYS present in `config`; returns their paths. */
function dropIgnoredReferenceKeys(config: Obj): string[] {
  const dropped: string[] = [];
  for (const key of IGNORED_REFERENCE_KEYS) {
    const path = key.split('.');
    const parent = path
      .slice(0, -1)
      .reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), config);
    const last = path.at(-1)!;
    if (isObj(parent) && last in parent) {
      delete parent[last];
      dropped.push(key);
    }
  }
  return dropped;
}

function withTokenDefaults(given: Partial<TokenAuthConfig> = {}): TokenAuthConfig {
  const defaults = defaultTokenAuth();
  return { ...defaults, ...given, loginlimit: { ...defaults.loginlimit, ...given.loginlimit } };
}

type Obj = Record<string, unknown>;

/** Copies `source` into `target`, keys lower-cased (matched case-insensitively, as distribution does). */
function merge(target: Obj, source: Obj): void {
  for (const [k, v] of Object.entries(source)) {
    const key = k.toLowerCase();
    if (isObj(v)) {
      if (!isObj(target[key])) target[key] = {};
      merge(target[key] as Obj, v);
    } else target[key] = Array.isArray(v) ? v.map(lowerKeys) : v;
  }
}

function lowerKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(lowerKeys);
  if (!isObj(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, e]) => [k.toLowerCase(), lowerKeys(e)]));
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * REGISTRY_A_B_C=value sets config.a.b.c. Variables whose first part names no config section
 * (REGISTRY_URL...) are not settings and are left alone. Returns which variable set which path.
 */
function applyEnv(config: Obj, env: NodeJS.ProcessEnv): Map<string, string> {
  const set = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('REGISTRY_') || value === undefined) continue;
    const parts = name.slice('REGISTRY_'.length).toLowerCase().split('_');
    if (!configSections.includes(parts[0]!)) continue;
    let node = config;
    for (const part of parts.slice(0, -1)) {
      if (!isObj(node[part])) node[part] = {};
      node = node[part] as Obj;
    }
    const leaf = parts[parts.length - 1]!;
    node[leaf] =
      value === 'true'
        ? true
        : value === 'false'
          ? false
          : /^\d+$/.test(value)
            ? Number(value)
            : value;
    set.set(parts.join('.'), name);
  }
  return set;
}

function normalize(config: RegistryConfig): void {
  normalizePostgres(config);
  if (config.proxy !== undefined) config.proxy = normalizeProxy(config.proxy, seconds);
  if (config.storage.s3 !== undefined)
    config.storage.s3 = normalizeS3Config(config.storage.s3 as unknown as Obj);
  const gc = config.storage.maintenance.gc;
  gc.interval = seconds(gc.interval);
  gc.grace = seconds(gc.grace);
  const purging = config.storage.maintenance.uploadpurging;
  purging.age = seconds(purging.age);
  purging.interval = seconds(purging.interval);
  const timeouts = config.http.timeouts;
  timeouts.headers = seconds(timeouts.headers);
  timeouts.bodyidle = seconds(timeouts.bodyidle);
  if (config.auth?.token) {
    config.auth.token.expiration = seconds(config.auth.token.expiration);
    config.auth.token.loginlimit.window = seconds(config.auth.token.loginlimit.window);
  }
  if (config.http.debug && !/:\d+$/.test(String(config.http.debug.addr)))
    throw new InvalidInputError(
      `invalid http.debug.addr "${String(config.http.debug.addr)}"`,
      'expected host:port',
    );
  if (typeof config.ui.enabled !== 'boolean')
    throw new InvalidInputError(
      `invalid ui.enabled "${String(config.ui.enabled)}"`,
      'expected true or false',
    );
  if (typeof config.http.addr !== 'string' || !/:\d+$/.test(config.http.addr))
    throw new InvalidInputError(
      `invalid http.addr "${String(config.http.addr)}"`,
      'expected host:port',
    );
}

/** Fills `metadata.postgres` defaults and checks the DSN's shape (not that it connects). */
function normalizePostgres(config: RegistryConfig): void {
  const pg = config.metadata?.postgres as Partial<PostgresMetadataConfig> | undefined;
  if (pg === undefined) return;
  if (typeof pg.dsn !== 'string' || !/^postgres(ql)?:\/\//.test(pg.dsn))
    throw new InvalidInputError(
      'invalid metadata.postgres.dsn',
      'expected postgresql://user:password@host:port/database',
      1, // as for a database that cannot be reached: exit 1
    );
  pg.poolsize = positive(pg.poolsize ?? 10, 'metadata.postgres.poolsize');
  pg.connecttimeout = seconds(pg.connecttimeout ?? 5);
  pg.querytimeout = seconds(pg.querytimeout ?? 30);
}

function positive(v: unknown, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidInputError(`invalid ${name} "${String(v)}"`, 'expected a positive integer');
  return n;
}

/** Accepts 300, "300", "5m", "1h", "30s", "168h". */
function seconds(v: unknown): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)(s|m|h)?$/.exec(String(v));
  if (!m)
    throw new InvalidInputError(`invalid duration "${String(v)}"`, 'use seconds or 30s, 5m, 1h');
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

/** Where the users file lives. */
export function usersFile(config: RegistryConfig): string {
  return (
    config.auth?.token.users ?? join(config.storage.filesystem.rootdirectory, 'auth', 'users.json')
  );
}

/** Where the built-in token service keeps its signing key when none is configured. */
export function signingKeyFile(config: RegistryConfig): string {
  return (
    config.auth?.token.key ?? join(config.storage.filesystem.rootdirectory, 'auth', 'token-key.pem')
  );
}

/** Splits http.addr (or another `host:port`) into host and port. */
export function listenAddress(
  config: RegistryConfig,
  addr = config.http.addr,
): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i) || '127.0.0.1', port: Number(addr.slice(i + 1)) };
}
