// Registry credentials in Docker's config.json `auths` format. tslogin writes
// `${configDir()}/auth.json`; Docker's `$DOCKER_CONFIG/config.json` (or ~/.docker/config.json)
// is read too, credential helpers (`credHelpers`, `credsStore`) included, so `docker login`
// just works. Passwords are never logged.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from './errors.js';
import { ensureDir, writeFileAtomic } from './fs-atomic.js';
import { configDir } from './paths.js';
import { normalizeRegistry } from './reference.js';
import { withLock } from './store/lock-file.js';

export type RegistryCredentials =
  { username: string; password: string } | { identitytoken: string };

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

/** The key Docker uses for Docker Hub in `auths`. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/** tsdock's own credentials file. */
export function authFilePath(): string {
  return join(configDir(), 'auth.json');
}

/** Docker's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(): string {
  return join(process.env['DOCKER_CONFIG'] || join(homedir(), '.docker'), 'config.json');
}

/** Credentials for `registry` from auth.json, then Docker's config; undefined if none. */
export async function loadCredentials(registry: string): Promise<RegistryCredentials | undefined> {
  const key = normalizeRegistry(registry);
  for (const file of [authFilePath(), dockerConfigPath()]) {
    const config = await readConfig(file);
    if (!config) continue;
    const helper = config.credHelpers?.[findKey(Object.keys(config.credHelpers ?? {}), key) ?? ''];
    if (helper) {
      const fromHelper = await fromCredentialHelper(helper, key);
      if (fromHelper) return fromHelper;
    }
    const entryKey = findKey(Object.keys(config.auths ?? {}), key);
    if (entryKey !== undefined) {
      const creds = decodeEntry(config.auths![entryKey]!, file, entryKey);
      if (creds) return creds;
    }
    if (config.credsStore) {
      const fromStore = await fromCredentialHelper(config.credsStore, key);
      if (fromStore) return fromStore;
    }
  }
  return undefined;
}

/** Stores credentials in auth.json (mode 0600, atomic), keeping every other entry. */
export async function saveCredentials(
  registry: string,
  username: string,
  password: string,
): Promise<void> {
  if (username.includes(':')) {
    throw new InvalidInputError(
      'username must not contain ":"',
      'Docker config auth cannot encode it',
    );
  }
  const key = normalizeRegistry(registry);
  const file = authFilePath();
  await ensureDir(configDir(), 0o700);
  await withAuthLock(async () => {
    const config = (await readConfig(file)) ?? {};
    const auths = { ...(config.auths ?? {}) };
    for (const k of Object.keys(auths)) if (normalizeRegistry(k) === key) delete auths[k];
    auths[authKey(key)] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
    await writeConfig(file, { ...config, auths });
  });
}

/** Removes the registry's entries from auth.json; false if there were none. */
export async function removeCredentials(registry: string): Promise<boolean> {
  const key = normalizeRegistry(registry);
  const file = authFilePath();
  if (!(await readConfig(file))?.auths) return false;
  return withAuthLock(async () => {
    const config = await readConfig(file);
    const auths = { ...(config?.auths ?? {}) };
    const keys = Object.keys(auths).filter((k) => normalizeRegistry(k) === key);
    if (keys.length === 0) return false;
    for (const k of keys) delete auths[k];
    await writeConfig(file, { ...config, auths });
    return true;
  });
}

/** The `auths` key written for a registry: Docker Hub keeps Docker's legacy URL key. */
export function authKey(registry: string): string {
  const key = normalizeRegistry(registry);
  return key === 'docker.io' ? DOCKER_HUB_AUTH_KEY : key;
}

/** Serialises read-modify-write of auth.json between concurrent logins. */
function withAuthLock<T>(fn: () => Promise<T>): Promise<T> {
  return withLock(join(configDir(), '.auth.json.lock'), fn, { timeoutMs: 30_000, staleMs: 10_000 });
}

function writeConfig(file: string, config: ConfigFile): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
}

function findKey(keys: string[], registry: string): string | undefined {
  return keys.find((k) => k === registry) ?? keys.find((k) => normalizeRegistry(k) === registry);
}

async function readConfig(file: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (text.trim() === '') return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(
      `${file}: invalid JSON: ${(err as Error).message}`,
      'fix or remove the file, then log in again',
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InvalidInputError(`${file}: must be a JSON object`, 'fix or remove the file');
  }
  return doc as ConfigFile;
}

function decodeEntry(entry: AuthEntry, file: string, key: string): RegistryCredentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  if (entry.identitytoken) return { identitytoken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new InvalidInputError(
        `${file}: auths[${JSON.stringify(key)}].auth is not base64 of user:password`,
        `log in again with tslogin ${key}`,
      );
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Asks `docker-credential-NAME get`; undefined if the helper is missing or has nothing. */
function fromCredentialHelper(
  name: string,
  registry: string,
): Promise<RegistryCredentials | undefined> {
  const server = registry === 'docker.io' ? DOCKER_HUB_AUTH_KEY : registry;
  return new Promise((resolve) => {
    const child = execFile(
      `docker-credential-${name}`,
      ['get'],
      { timeout: 10_000, maxBuffer: 1 << 20 },
      (err, stdout) => {
        if (err) return resolve(undefined);
        try {
          const r = JSON.parse(stdout) as { Username?: string; Secret?: string };
          if (!r.Secret) return resolve(undefined);
          // Docker's convention: username "<token>" means the secret is an identity token.
          if (r.Username === '<token>') return resolve({ identitytoken: r.Secret });
          resolve({ username: r.Username ?? '', password: r.Secret });
        } catch {
          resolve(undefined);
        }
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(server);
  });
}
