// The signed-in session and every call to the registry. Sign-in posts the user's credentials
// once to the token service (`POST /token`, OAuth2 password grant, client_id tsregistry-ui) and
// keeps only the short-lived refresh token it returns (in sessionStorage: gone with the tab;
// the password is never stored), and the access tokens it got (minutes long) beside it. Each call asks the token service for an access token of the
// scope it needs (cached in memory until it expires) and sends it as `Authorization: Bearer`,
// never as a cookie, so another site cannot make the browser act for the user (CSRF).
// What a token grants is the intersection of what is asked and the user's own grants.

const STORAGE_KEY = 'tsregistry-ui-session';
const CLIENT_ID = 'tsregistry-ui';
/** Registry-wide grants the console asks for at sign-in, to know which admin pages to show. */
const ADMIN_SCOPES = ['registry:catalog:*', 'registry:gc:*', 'registry:users:*'];

export interface Session {
  user: string;
  refreshToken: string;
  /** Milliseconds since the epoch when the session ends. */
  expires: number;
  /** Registry-wide grants the user holds, e.g. `catalog`, `gc`, `users`. */
  admin: string[];
  /** The registry runs without authentication: no sign-in, no tokens. */
  open?: boolean;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKENS_KEY = 'tsregistry-ui-tokens';

interface CachedToken {
  token: string;
  expires: number;
  access: Access[];
}

let session: Session | undefined = load();
/** Access tokens by scope, kept for the tab (minutes long), so a reload need not ask again. */
const tokens = new Map<string, CachedToken>(session ? loadTokens() : []);

function loadTokens(): Array<[string, CachedToken]> {
  try {
    const saved = JSON.parse(sessionStorage.getItem(TOKENS_KEY) ?? '[]') as Array<
      [string, CachedToken]
    >;
    return saved.filter(([, t]) => t.expires > Date.now());
  } catch {
    return [];
  }
}

function saveTokens(): void {
  sessionStorage.setItem(TOKENS_KEY, JSON.stringify([...tokens].slice(-50)));
}
const listeners = new Set<() => void>();

function load(): Session | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Session | null;
    return s && s.expires > Date.now() ? s : undefined;
  } catch {
    return undefined;
  }
}

export function currentSession(): Session | undefined {
  if (session && session.expires <= Date.now()) signOut();
  return session;
}

export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function claims(jwt: string): { exp?: number; access?: Access[] } {
  const part = jwt.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(json) as { exp?: number; access?: Access[] };
}

async function tokenRequest(form: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch('/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form, client_id: CLIENT_ID, service: 'tsregistry' }),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new ApiError(res.status, errorMessage(body, res.status));
  return body;
}

export async function signIn(user: string, password: string): Promise<void> {
  const body = await tokenRequest({
    grant_type: 'password',
    username: user,
    password,
    scope: ADMIN_SCOPES.join(' '),
  });
  const refresh = String(body.refresh_token ?? '');
  const access = claims(String(body.access_token)).access ?? [];
  session = {
    user,
    refreshToken: refresh,
    expires: (claims(refresh).exp ?? 0) * 1000,
    admin: access.filter((a) => a.type === 'registry').map((a) => a.name),
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  tokens.clear();
  sessionStorage.removeItem(TOKENS_KEY);
  listeners.forEach((fn) => fn());
}

export function signOut(): void {
  session = undefined;
  tokens.clear();
  sessionStorage.removeItem(STORAGE_KEY);
  sessionStorage.removeItem(TOKENS_KEY);
  listeners.forEach((fn) => fn());
}

/** An access token for `scope` (space-separated scopes), and what it grants. */
export async function tokenFor(scope: string): Promise<{ token: string; access: Access[] }> {
  const s = currentSession();
  if (!s) throw new ApiError(401, 'signed out');
  if (s.open) return { token: '', access: [] };
  const hit = tokens.get(scope);
  if (hit && hit.expires > Date.now() + 5000) return hit;
  const pending = tokenRequest({
    grant_type: 'refresh_token',
    refresh_token: s.refreshToken,
    scope,
  }).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) signOut();
    throw err;
  });
  const body = await pending;
  const token = String(body.access_token);
  const c = claims(token);
  const entry = { token, expires: (c.exp ?? 0) * 1000, access: c.access ?? [] };
  tokens.set(scope, entry);
  saveTokens();
  return entry;
}

/**
 * Without a session, asks `GET /v2/` with no credentials: a registry configured without `auth`
 * answers 200, and the console then works without signing in (as any client would).
 */
export async function detectOpenRegistry(): Promise<void> {
  if (session) return;
  const res = await fetch('/v2/').catch(() => undefined);
  if (res?.status !== 200 || session) return;
  session = {
    user: 'anonymous',
    refreshToken: '',
    expires: Number.MAX_SAFE_INTEGER,
    admin: ['catalog', 'gc'],
    open: true,
  };
  listeners.forEach((fn) => fn());
}

/** Whether the token for `scope` grants `action` on the repository. */
export async function mayOnRepo(repo: string, action: string): Promise<boolean> {
  if (currentSession()?.open) return true;
  const { access } = await tokenFor(repoScope(repo));
  return access.some(
    (a) => a.type === 'repository' && a.name === repo && a.actions.includes(action),
  );
}

export function repoScope(repo: string): string {
  return `repository:${repo}:pull,delete`;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** A registry call with a token for `scope`; throws ApiError with the registry's message. */
export async function call(path: string, scope: string, init: RequestInit = {}): Promise<Response> {
  const { token } = await tokenFor(scope);
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    throw new ApiError(res.status, errorMessage(body, res.status));
  }
  return res;
}

export async function json<T>(path: string, scope: string, init: RequestInit = {}): Promise<T> {
  return (await (await call(path, scope, init)).json()) as T;
}

function errorMessage(body: Record<string, unknown>, status: number): string {
  const errors = body.errors as Array<{ code?: string; message?: string }> | undefined;
  const e = errors?.[0];
  if (e) return `${e.message ?? e.code ?? 'error'} (${e.code ?? status})`;
  return `request failed with status ${status}`;
}

/** The `last` of a `Link: <...?n=N&last=X>; rel="next"` header, if any. */
export function nextLast(res: Response): string | undefined {
  const link = res.headers.get('Link');
  const m = link && /[?&]last=([^&>]*)/.exec(link);
  return m ? decodeURIComponent(m[1]!) : undefined;
}
