// The access-control seam (distribution registry/auth): a request and the access it needs go
// in; a Grant comes out, or an AuthChallenge is thrown that knows its WWW-Authenticate header.
// Implementations: allow-all.ts (no auth section in the config) and token-controller.ts.
import type { IncomingMessage } from 'node:http';
import { parseRepositoryName } from '../../shared/reference.js';
import { RegistryError } from '../errors.js';

/** One resource and the actions asked on it (`repository:team-a/app:pull,push`). */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface Grant {
  /** Who is asking ('' for anonymous). */
  subject: string;
  /** Whether the grant covers `action` on a repository. */
  can(repo: string, action: string): boolean;
  /** Whether the grant covers `action` on any resource (`registry:catalog:*`, `registry:gc:*`). */
  allows(type: string, name: string, action: string): boolean;
}

export interface AccessController {
  /** Returns a grant covering every access asked, or throws an AuthChallenge (or DENIED). */
  authorize(req: IncomingMessage, access: Access[]): Promise<Grant>;
}

/** A 401 (no or bad credentials) carrying the Bearer challenge for the access asked. */
export class AuthChallenge extends RegistryError {
  constructor(realm: string, service: string, access: Access[], error?: string) {
    const parts = [`realm=${quoted(realm)}`, `service=${quoted(service)}`];
    if (access.length > 0) parts.push(`scope=${quoted(access.map(formatScope).join(' '))}`);
    if (error) parts.push(`error=${quoted(error)}`);
    super('UNAUTHORIZED', 'authentication required', access.length ? access : undefined, {
      headers: { 'WWW-Authenticate': `Bearer ${parts.join(',')}` },
    });
  }
}

/** An RFC 9110 quoted-string: backslash and `"` escaped, control characters dropped. */
export function quoted(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\x00-\x1f\x7f]/g, '').replace(/[\\"]/g, '\\$&')}"`;
}

export function formatScope(a: Access): string {
  return `${a.type}:${a.name}:${a.actions.join(',')}`;
}

/** Parses one scope `type:name:actions` (the name may hold ':' for a registry port). */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  if (!name) return undefined;
  return { type, name, actions };
}

/**
 * Parses space-separated scopes a client asks for, from one or more `scope` values, keeping only
 * well-formed ones: repository names by the same grammar as the routes (no `..`, no `*`),
 * registry resources and actions as plain words. Invalid scopes are dropped, never signed.
 */
export function parseScopes(values: string[]): Access[] {
  return values
    .flatMap((v) => v.split(' '))
    .map((s) => parseScope(s))
    .filter((a): a is Access => a !== undefined && isValidAsked(a));
}

const WORD_RE = /^[a-z][a-z0-9_-]{0,63}$/;

function isValidAsked(a: Access): boolean {
  if (!a.actions.every((x) => x === '*' || WORD_RE.test(x))) return false;
  if (a.type === 'registry') return WORD_RE.test(a.name);
  if (a.type !== 'repository') return false;
  try {
    parseRepositoryName(a.name);
    return true;
  } catch {
    return false;
  }
}

export function repoAccess(name: string, ...actions: string[]): Access {
  return { type: 'repository', name, actions };
}
