// The `proxy:` config section: pull-through caching of other registries. Two shapes:
//   proxy: { remoteurl, username, password, ttl }       the reference registry's, one upstream
//                                                        served at the root (daemon mirror)
//   proxy: { maxsize, upstreams: [{ prefix, remoteurl, username, password, ttl, tls }] }
// A prefix `dockerhub` serves `dockerhub/library/busybox` from `library/busybox` upstream; an
// empty prefix serves the root (what dockerd's `registry-mirrors` asks for), except repositories
// under its `local` prefixes, which stay normal push/pull repositories like every repository
// outside all prefixes.
import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../../shared/errors.js';

export interface UpstreamConfig {
  /** Repository prefix in this registry (no slashes at either end); '' for the root. */
  prefix: string;
  /** `https://registry-1.docker.io` */
  remoteurl: string;
  username?: string;
  password?: string;
  /** Seconds a cached tag is served before it is revalidated with the upstream. */
  ttl: number;
  /** `ca`: PEM contents of the CA bundle file configured (the upstream's own CA). */
  tls: { insecureskipverify: boolean; ca?: string };
  /** Root upstream only: repository prefixes that are this registry's own, not proxied. */
  local: string[];
}

export interface ProxyConfig {
  upstreams: UpstreamConfig[];
  /** Bytes of proxied blobs to keep; least recently used ones are evicted past it (0: no cap). */
  maxsize: number;
}

const DEFAULT_TTL = 300;

/** Checks and fills a raw `proxy` section (as merged from YAML and REGISTRY_PROXY_* env). */
export function normalizeProxy(raw: unknown, seconds: (v: unknown) => number): ProxyConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidInputError('invalid proxy section', 'expected remoteurl: or upstreams: [...]');
  const section = raw as Record<string, unknown>;
  const list = section.upstreams;
  let entries: Record<string, unknown>[];
  if (list !== undefined) {
    if (!Array.isArray(list) || list.length === 0)
      throw new InvalidInputError('invalid proxy.upstreams', 'expected a non-empty list');
    entries = list.map((e, i) => {
      if (e === null || typeof e !== 'object')
        throw new InvalidInputError(`invalid proxy.upstreams[${i}]`, 'expected a mapping');
      return lowerKeys(e as Record<string, unknown>);
    });
  } else entries = [{ ...section, prefix: '' }];
  const upstreams = entries.map((e, i) => upstream(e, i, seconds));
  const prefixes = new Set<string>();
  for (const u of upstreams) {
    if (prefixes.has(u.prefix))
      throw new InvalidInputError(`proxy: prefix "${u.prefix}" is configured twice`);
    prefixes.add(u.prefix);
  }
  return { upstreams, maxsize: size(section.maxsize ?? 0) };
}

function upstream(
  e: Record<string, unknown>,
  i: number,
  seconds: (v: unknown) => number,
): UpstreamConfig {
  const where = `proxy.upstreams[${i}]`;
  const url = e.remoteurl;
  if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(url))
    throw new InvalidInputError(
      `invalid ${where}.remoteurl "${String(url)}"`,
      'expected http(s)://host[:port]',
    );
  const prefix = String(e.prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (
    prefix !== '' &&
    !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(prefix)
  )
    throw new InvalidInputError(
      `invalid ${where}.prefix "${prefix}"`,
      'expected a repository path',
    );
  if ((e.username === undefined) !== (e.password === undefined))
    throw new InvalidInputError(`${where}: username and password go together`);
  const tls = (e.tls ?? {}) as Record<string, unknown>;
  const local = e.local ?? [];
  if (!Array.isArray(local) || local.some((l) => typeof l !== 'string'))
    throw new InvalidInputError(`invalid ${where}.local`, 'expected a list of repository prefixes');
  return {
    prefix,
    remoteurl: url.replace(/\/+$/, ''),
    ...(e.username !== undefined
      ? { username: String(e.username), password: String(e.password) }
      : {}),
    ttl: seconds(e.ttl ?? DEFAULT_TTL),
    tls: {
      insecureskipverify: tls.insecureskipverify === true,
      ...(tls.ca !== undefined ? { ca: readCa(tls.ca, where) } : {}),
    },
    local: (local as string[]).map((l) => l.replace(/^\/+|\/+$/g, '')).filter(Boolean),
  };
}

/** The PEM contents of `tls.ca` (a file path). */
function readCa(file: unknown, where: string): string {
  let pem: string;
  try {
    pem = readFileSync(String(file), 'utf8');
  } catch (err) {
    throw new InvalidInputError(
      `cannot read ${where}.tls.ca ${String(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new InvalidInputError(`${where}.tls.ca ${String(file)} holds no PEM certificate`);
  return pem;
}

function lowerKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

/** 1073741824, "512m", "10g", "1.5g" -> bytes. */
function size(v: unknown): number {
  if (typeof v === 'number' && v >= 0) return Math.floor(v);
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(String(v).trim());
  if (!m)
    throw new InvalidInputError(`invalid proxy.maxsize "${String(v)}"`, 'use bytes or 512m, 10g');
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * unit);
}
