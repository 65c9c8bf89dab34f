// The access-control seam (distribution registry/auth): a request and the access it needs go
// in; a Grant comes out, or an AuthChallenge is thrown that knows its WWW-Authenticate header.
// Implementations: allow-all.ts (no auth section in the config) and token-controller.ts.
import type { IncomingMessage } from 'node:http';
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
}

export interface AccessController {
  /** Returns a grant covering every access asked, or throws an AuthChallenge (or DENIED). */
  authorize(req: IncomingMessage, access: Access[]): Promise<Grant>;
}

/** A 401 (no or bad credentials) carrying the Bearer challenge for the access asked. */
export class AuthChallenge extends RegistryError {
  constructor(realm: string, service: string, access: Access[], error?: string) {
    const parts = [`realm="${realm}"`, `service="${service}"`];
    if (access.length > 0) parts.push(`scope="${access.map(formatScope).join(' ')}"`);
    if (error) parts.push(`error="${error}"`);
    super('UNAUTHORIZED', 'authentication required', access.length ? access : undefined, {
      headers: { 'WWW-Authenticate': `Bearer ${parts.join(',')}` },
    });
  }
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

/** Parses space-separated scopes from one or more `scope` query values. */
export function parseScopes(values: string[]): Access[] {
  return values
    .flatMap((v) => v.split(' '))
    .map((s) => parseScope(s))
    .filter((a): a is Access => a !== undefined);
}

export function repoAccess(name: string, ...actions: string[]): Access {
  return { type: 'repository', name, actions };
}
