// Image references: the docker reference grammar (distribution/reference) with docker's
// normalisation, `[host[:port]/]path[:tag][@digest]`:
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path-component ( "/" path-component )*
//   domain     := host [ ":" port ]          (first component with "." or ":", or "localhost")
//   path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [\w][\w.-]{0,127}
//
// `busybox` -> docker.io/library/busybox:latest; `index.docker.io` -> docker.io.
import { type Digest, toDigest } from './digest.js';
import { InvalidInputError, InvalidNameError, InvalidTagError } from './errors.js';

export interface ImageReference {
  /** Registry host with optional port, `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** Longest name (registry + "/" + path, after normalisation) the grammar allows. */
export const NAME_TOTAL_LENGTH_MAX = 255;

const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const REPOSITORY_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN_RE = new RegExp(`^${HOST}(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const HEX64_RE = /^[a-f0-9]{64}$/;

/** Parses and normalises a reference; throws InvalidInputError saying which part is wrong. */
export function parseReference(input: string): ImageReference {
  if (input === '') throw bad(input, 'reference is empty');
  if (HEX64_RE.test(input)) {
    throw bad(input, 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = parseDigestPart(input, rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(input, tagProblem(tag));
  }
  const { registry, repository } = splitName(input, rest);
  return {
    registry,
    repository,
    ...(tag !== undefined || digest === undefined ? { tag: tag ?? DEFAULT_TAG } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** Like parseReference, but returns undefined instead of throwing. */
export function tryParseReference(input: string): ImageReference | undefined {
  try {
    return parseReference(input);
  } catch {
    return undefined;
  }
}

/** The full form: `docker.io/library/busybox:latest`, `host:5000/a/b@sha256:...`. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${suffix(r)}`;
}

/** The repository with its registry, no tag or digest: `docker.io/library/busybox`. */
export function formatName(r: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${r.registry}/${r.repository}`;
}

/** Docker's short form: `busybox:latest`, `user/app:v1`, `127.0.0.1:5000/team/p1:v2`. */
export function familiarName(r: ImageReference): string {
  return `${familiarRepository(r)}${suffix(r)}`;
}

/** Docker's short form of the name alone: `busybox`, `127.0.0.1:5000/team/p1`. */
export function familiarRepository(r: Pick<ImageReference, 'registry' | 'repository'>): string {
  if (r.registry !== DEFAULT_REGISTRY) return `${r.registry}/${r.repository}`;
  const short = r.repository.startsWith('library/') ? r.repository.slice(8) : r.repository;
  return short.includes('/') ? r.repository : short;
}

/** The host that serves the registry API: Docker Hub's differs from its name. */
export function registryApiHost(registry: string): string {
  return registry === DEFAULT_REGISTRY || registry === LEGACY_DEFAULT_REGISTRY
    ? DOCKER_HUB_API_HOST
    : registry;
}

/** Normalises a registry name as users type it (`index.docker.io`, URLs) to its key. */
export function normalizeRegistry(registry: string): string {
  let host = registry.trim().replace(/^[a-z]+:\/\//i, '');
  host = host.split('/')[0] ?? host;
  host = host.toLowerCase();
  if (
    host === LEGACY_DEFAULT_REGISTRY ||
    host === DOCKER_HUB_API_HOST ||
    host === 'registry.hub.docker.com'
  ) {
    return DEFAULT_REGISTRY;
  }
  return host;
}

/** Loopback registries are spoken to over plain HTTP by default, as docker does. */
export function isInsecureByDefault(registry: string): boolean {
  const host = hostWithoutPort(registry).toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m.slice(1).every((n) => Number(n) <= 255);
}

/** Validates a bare repository path (no registry, tag or digest) and returns it. */
export function parseRepositoryName(name: string): string {
  if (name === '') throw new InvalidNameError('invalid repository name: name is empty');
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidNameError(
      `invalid repository name ${quote(name)}: longer than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  if (!REPOSITORY_RE.test(name)) {
    throw new InvalidNameError(
      `invalid repository name ${quote(name)}: ${pathProblem(name)}`,
      'use lowercase letters, digits and single separators (. _ __ -) between "/"-separated components',
    );
  }
  return name;
}

/** Validates a tag on its own (e.g. for `tstag`). */
export function parseTag(tag: string): string {
  if (!TAG_RE.test(tag)) throw new InvalidTagError(`invalid tag ${quote(tag)}: ${tagProblem(tag)}`);
  return tag;
}

function splitName(input: string, name: string): { registry: string; repository: string } {
  if (name === '') throw bad(input, 'repository name is empty');
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasDomain =
    slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  let registry = DEFAULT_REGISTRY;
  let path = name;
  if (hasDomain) {
    registry = first;
    path = name.slice(slash + 1);
    if (!DOMAIN_RE.test(registry)) throw bad(input, `invalid registry host ${quote(registry)}`);
    if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY;
  }
  if (path === '') throw bad(input, 'repository name is empty');
  if (path.toLowerCase() !== path && REPOSITORY_RE.test(path.toLowerCase())) {
    throw bad(input, `repository name ${quote(path)} must be lowercase`);
  }
  if (!REPOSITORY_RE.test(path)) throw bad(input, pathProblem(path));
  if (registry === DEFAULT_REGISTRY && !path.includes('/')) path = `library/${path}`;
  // As docker does, the limit applies to the normalised name, registry included.
  if (registry.length + 1 + path.length > NAME_TOTAL_LENGTH_MAX) {
    throw bad(input, `name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  return { registry, repository: path };
}

function parseDigestPart(input: string, value: string): Digest {
  if (value === '') throw bad(input, 'digest after "@" is empty');
  try {
    return toDigest(value);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw bad(input, msg);
  }
}

function pathProblem(path: string): string {
  const components = path.split('/');
  for (const c of components) {
    if (c === '') {
      return path.endsWith('/')
        ? 'repository name ends with "/"'
        : 'repository name has an empty path component';
    }
    if (!PATH_COMPONENT_RE.test(c)) {
      if (c.toLowerCase() !== c) return `path component ${quote(c)} must be lowercase`;
      return `invalid path component ${quote(c)} (lowercase letters and digits, separated by . _ __ or -)`;
    }
  }
  return 'invalid repository name';
}

function tagProblem(tag: string): string {
  if (tag === '') return 'tag is empty';
  if (tag.length > 128) return `tag is longer than 128 characters (${tag.length})`;
  return `invalid tag ${quote(tag)} (letters, digits, _ . - and not starting with . or -)`;
}

function suffix(r: ImageReference): string {
  return `${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

function hostWithoutPort(registry: string): string {
  if (registry.startsWith('[')) {
    const end = registry.indexOf(']');
    return end > 0 ? registry.slice(0, end + 1) : registry;
  }
  if (registry.split(':').length > 2) return registry; // a bare IPv6 address
  return registry.replace(/:\d+$/, '');
}

function bad(input: string, problem: string): InvalidInputError {
  return new InvalidInputError(
    `invalid reference ${quote(input)}: ${problem}`,
    'expected [host[:port]/]name[:tag][@digest]',
  );
}

/** Quoted with JSON escapes so a stray newline cannot break the one-line message. */
function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}
