// Registry mirrors for pulls, as dockerd's `registry-mirrors`: `$TSDOCK_CONFIG/config.json`
// `{"registry-mirrors": ["http://127.0.0.1:5000", ...]}` (mirrors of docker.io, tried in order)
// and `{"mirrors": {"ghcr.io": ["https://ghcr-cache.internal"]}}` for other registries;
// `TSDOCK_REGISTRY_MIRRORS` (comma-separated, docker.io) comes first when set.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { configDir } from '../paths.js';
import { DEFAULT_REGISTRY } from '../reference.js';

export interface Mirror {
  /** `http://127.0.0.1:5000` */
  url: string;
  /** `127.0.0.1:5000`, the registry name the client speaks to. */
  host: string;
}

/** The mirrors to try, in order, before `registry` itself. */
export function mirrorsFor(registry: string, env: NodeJS.ProcessEnv = process.env): Mirror[] {
  const urls: string[] = [];
  if (registry === DEFAULT_REGISTRY && env.TSDOCK_REGISTRY_MIRRORS)
    urls.push(
      ...env.TSDOCK_REGISTRY_MIRRORS.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  const config = readConfig(env);
  if (registry === DEFAULT_REGISTRY)
    urls.push(...list(config['registry-mirrors'], 'registry-mirrors'));
  const byHost = config.mirrors;
  if (byHost !== null && typeof byHost === 'object' && !Array.isArray(byHost))
    urls.push(...list((byHost as Record<string, unknown>)[registry], `mirrors.${registry}`));
  return [...new Set(urls)].map(parseMirror);
}

function readConfig(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const file = join(env.TSDOCK_CONFIG ?? configDir(), 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const doc = JSON.parse(text) as unknown;
    return doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>) : {};
  } catch (err) {
    throw new InvalidInputError(`cannot parse ${file}: ${(err as Error).message}`, 'fix its JSON');
  }
}

function list(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new InvalidInputError(`config.json: ${where} must be a list of URLs`);
  return v as string[];
}

function parseMirror(url: string): Mirror {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidInputError(
      `invalid registry mirror "${url}"`,
      'expected http(s)://host[:port]',
    );
  }
  if (
    (u.protocol !== 'http:' && u.protocol !== 'https:') ||
    (u.pathname !== '/' && u.pathname !== '')
  )
    throw new InvalidInputError(
      `invalid registry mirror "${url}"`,
      'expected http(s)://host[:port]',
    );
  return { url: `${u.protocol}//${u.host}`, host: u.host };
}
