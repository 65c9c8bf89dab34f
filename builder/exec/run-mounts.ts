// RUN --mount=type=cache and type=secret as BuildKit makes them (dockerfile2llb's
// convert_runmount.go and convert_secrets.go, solver/llbsolver/mounts):
// - cache: one directory per `id` (default: the target) and base; the base is `from=` (a stage or
//   image whose files seed the cache when it is first made) or, with uid/gid/mode and no source,
//   a directory of that owner and mode; `source=` mounts a path inside the cache. `sharing=shared`
//   (default) lets concurrent RUNs use it together, `locked` makes them wait their turn,
//   `private` gives a RUN that finds it in use a directory of its own (another instance).
// - secret: the value in a file of its own, owned uid:gid (default 0:0) with mode (default
//   0400), at target (default /run/secrets/<id>); `env=` puts it in an environment variable
//   instead (or as well, with a target); a missing secret is skipped unless `required`.
import { spawn } from 'node:child_process';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Mount } from '../../runner/executor.js';
import { withLock } from '../../shared/store/lock-file.js';
import { BuildStepError } from '../errors.js';
import type { RunMount } from '../instructions/mounts.js';
import type { SourceLocation } from '../errors.js';
import { trackTemp } from './interrupt.js';

/** A mount ready for the sandbox, and what to do once the RUN is over. */
export interface HeldMount {
  mount?: Mount;
  env?: string;
  release(): Promise<void>;
}

export interface CacheMountEnv {
  /** The directory of a cache key (BuildCache.mountDir). */
  mountDir(key: string): string;
  tmpDir: string;
  /** The files of a `from=` stage or image, and their identity. */
  fromView(from: string): Promise<{ dir: string; id: string }>;
}

const NO_RELEASE = async (): Promise<void> => undefined;

/** What a cache mount's directory is made from (BuildKit keys the cache by id and base). */
async function cacheBase(
  m: RunMount,
  env: CacheMountEnv,
): Promise<{ key: string; seed?: string; owner?: { uid: number; gid: number; mode: number } }> {
  if (m.from) {
    const v = await env.fromView(m.from);
    return { key: `${m.id}\0from:${v.id}`, seed: v.dir };
  }
  if (!m.source && (m.uid !== undefined || m.gid !== undefined || m.mode !== undefined)) {
    const owner = { uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o755 };
    return { key: `${m.id}\0dir:${owner.uid}:${owner.gid}:${owner.mode.toString(8)}`, owner };
  }
  return { key: m.id! };
}

/** The cache mount's identity in the RUN's cache key. */
export function cacheMountIdentity(m: RunMount): string {
  const owner = [m.uid, m.gid, m.mode?.toString(8)].map((x) => x ?? '').join(':');
  return `${m.id}:${m.sharing ?? 'shared'}:${owner}:${m.from ?? ''}:${m.source ?? ''}`;
}

/** Makes `dir` once (seeded from `seed`, or with an owner and mode), atomically. */
async function ensureCacheDir(
  dir: string,
  base: Awaited<ReturnType<typeof cacheBase>>,
  tmpDir: string,
): Promise<void> {
  if (await stat(dir).catch(() => undefined)) return;
  const tmp = trackTemp(await mkdtemp(join(tmpDir, 'cache-mount-')));
  try {
    if (base.seed) await copyTree(base.seed, tmp);
    else {
      await chown(tmp, base.owner?.uid ?? 0, base.owner?.gid ?? 0);
      await chmod(tmp, base.owner?.mode ?? 0o755);
    }
    await mkdir(posix.dirname(dir), { recursive: true });
    await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
      // another build made it first: use theirs
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** cp -a: owners, modes, links and times as they are (the seed is a merged image view). */
function copyTree(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const cp = spawn('cp', ['-a', `${from}/.`, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    cp.stderr.on('data', (c: Buffer) => (err += c.toString()));
    cp.on('error', reject);
    cp.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`seeding the cache failed: ${err.trim()}`)),
    );
  });
}

/** Holds the lock at `path` until the returned release is called; undefined if `wait` is false
 * and someone else holds it. */
async function holdLock(path: string, wait: boolean): Promise<(() => Promise<void>) | undefined> {
  let release!: () => void;
  let acquired!: () => void;
  const got = new Promise<void>((r) => (acquired = r));
  const held = withLock(
    path,
    () => {
      acquired();
      return new Promise<void>((r) => (release = r));
    },
    { timeoutMs: wait ? 3_600_000 : 0 },
  );
  const ok = await Promise.race([got.then(() => true), held.then(() => false)]).catch(() => false);
  if (!ok) return undefined;
  return async () => {
    release();
    await held;
  };
}

export async function cacheMount(m: RunMount, env: CacheMountEnv): Promise<HeldMount> {
  const base = await cacheBase(m, env);
  const root = env.mountDir(base.key);
  let dir = root;
  let release = NO_RELEASE;
  if (m.sharing === 'locked') {
    await mkdir(posix.dirname(root), { recursive: true });
    release = (await holdLock(`${root}.lock`, true))!;
  } else if (m.sharing === 'private') {
    await mkdir(posix.dirname(root), { recursive: true });
    for (let n = 0; ; n++) {
      const candidate = n === 0 ? root : `${root}-${n}`;
      const r = await holdLock(`${candidate}.lock`, false);
      if (r) {
        dir = candidate;
        release = r;
        break;
      }
    }
  }
  try {
    await ensureCacheDir(dir, base, env.tmpDir);
    const source = join(dir, posix.normalize(`/${m.source ?? ''}`));
    if (m.source) await mkdir(source, { recursive: true });
    return {
      mount: { type: 'bind', source, target: m.target, readOnly: m.readonly },
      release,
    };
  } catch (e) {
    await release();
    throw e;
  }
}

export interface SecretValue {
  file?: string;
  env?: string;
}

/** A secret as a file (owner, mode) and/or an env var; undefined when absent and optional. */
export async function secretMount(
  m: RunMount,
  secret: SecretValue | undefined,
  tmpDir: string,
  loc: SourceLocation,
): Promise<HeldMount | undefined> {
  if (!secret) {
    if (m.required)
      throw new BuildStepError(
        loc.file,
        loc.line,
        `secret ${m.id} not found`,
        `pass --secret id=${m.id},src=FILE`,
      );
    return undefined;
  }
  const value = secret.file
    ? await readFile(secret.file)
    : Buffer.from(process.env[secret.env ?? m.id!] ?? '');
  const held: HeldMount = { release: NO_RELEASE };
  if (m.env) held.env = `${m.env}=${value.toString('utf8')}`;
  if (m.target) {
    const dir = trackTemp(await mkdtemp(join(tmpDir, 'secret-')));
    const file = join(dir, 'secret');
    await writeFile(file, value, { mode: 0o600 });
    await chown(file, m.uid ?? 0, m.gid ?? 0);
    await chmod(file, m.mode ?? 0o400);
    held.mount = { type: 'bind', source: file, target: m.target, readOnly: true };
    held.release = () => rm(dir, { recursive: true, force: true });
  }
  return held;
}
