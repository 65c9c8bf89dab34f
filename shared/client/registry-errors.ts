// Turns a registry's failed response (status + OCI error JSON) into one docker-like line:
// "pull access denied for x, repository does not exist or may require 'tslogin'" and friends.
import { NotFoundError, TsdockError } from '../errors.js';
import { readBody, type HttpResponse } from './http.js';

export interface Operation {
  op: 'pull' | 'push' | 'login' | 'delete';
  repo?: string;
  ref?: string;
  registry?: string;
  /** Whether the refused request carried the user's credentials. */
  sentCredentials?: boolean;
}

interface OciError {
  code?: string;
  message?: string;
}

/** The name docker would print: `busybox` for docker.io/library/busybox, else host/repo. */
export function displayName(registry: string | undefined, repo: string | undefined): string {
  if (!repo) return registry ?? '';
  if (!registry || registry === 'docker.io') return repo.replace(/^library\//, '');
  return `${registry}/${repo}`;
}

export async function errorFromResponse(res: HttpResponse, ctx: Operation): Promise<TsdockError> {
  const errors = await ociErrors(res);
  const first = errors[0];
  const detail = first
    ? `${(first.code ?? '').toLowerCase()}: ${first.message ?? ''}`.replace(/^: /, '')
    : '';
  const name = displayName(ctx.registry, ctx.repo);
  const host = ctx.registry ?? '';
  const login = `run 'tslogin ${host}' with valid credentials`;
  const s = res.status;
  if (ctx.op === 'login') {
    if (s === 401 || s === 403)
      return new TsdockError(
        `unauthorized: incorrect username or password for ${host}`,
        'check the username and password',
      );
    return new TsdockError(`login to ${host} failed: HTTP ${s}${detail ? ` ${detail}` : ''}`);
  }
  if (ctx.sentCredentials && s === 401)
    return new TsdockError(`unauthorized: authentication to ${host} failed`, login);
  if (ctx.op === 'pull') {
    if (s === 404 && first?.code === 'MANIFEST_UNKNOWN' && ctx.ref)
      return new NotFoundError(`manifest for ${name}:${ctx.ref} not found: manifest unknown`);
    if (s === 401 || s === 403 || s === 404)
      return new NotFoundError(
        `pull access denied for ${name}, repository does not exist or may require 'tslogin'`,
        detail || undefined,
      );
  }
  if (s === 401 || s === 403)
    return new TsdockError(`denied: requested access to ${name} is denied`, detail || login);
  if (s === 404)
    return new NotFoundError(
      `${name}${ctx.ref ? `:${ctx.ref}` : ''} not found`,
      detail || undefined,
    );
  if (s === 429)
    return new TsdockError(`toomanyrequests: ${host} is rate limiting`, 'try again later');
  return new TsdockError(
    `${ctx.op} ${name} failed: HTTP ${s}${detail ? ` ${detail}` : ''}`,
    s >= 500 ? 'the registry had an internal error; try again' : undefined,
  );
}

async function ociErrors(res: HttpResponse): Promise<OciError[]> {
  try {
    const text = (await readBody(res, 64 * 1024)).toString('utf8');
    const body = JSON.parse(text) as { errors?: OciError[] };
    return Array.isArray(body.errors) ? body.errors : [];
  } catch {
    return [];
  }
}
