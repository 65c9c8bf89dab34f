// Registry authentication for the client: parses `WWW-Authenticate` challenges (Bearer, Basic),
// fetches Docker tokens (GET with Basic credentials or anonymously; POST with an OAuth2
// refresh_token grant when an identity token exists, or a password grant when GET is not served),
// caches tokens per scope set until they expire, and accumulates the scopes an operation needs.
import { TsdockError } from '../errors.js';
import { drain, header, readBody, send, type HttpResponse } from './http.js';

export type Credentials = { username: string; password: string } | { identitytoken: string };

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header value (one challenge; the first if several). */
export function parseChallenge(value: string | undefined): Challenge | undefined {
  if (!value) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(value);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme, params };
}

/** `repository:name:pull,push` scope strings, actions merged per resource and sorted. */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const s of scopes) {
    for (const one of s.split(' ').filter(Boolean)) {
      const i = one.lastIndexOf(':');
      if (i <= 0) continue;
      const res = one.slice(0, i);
      const set = byResource.get(res) ?? new Set<string>();
      for (const a of one
        .slice(i + 1)
        .split(',')
        .filter(Boolean))
        set.add(a);
      byResource.set(res, set);
    }
  }
  return [...byResource.entries()]
    .map(([res, actions]) => `${res}:${[...actions].sort().join(',')}`)
    .sort();
}

export function repositoryScope(repo: string, actions: string[]): string {
  return `repository:${repo}:${actions.join(',')}`;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Authorization state for one registry: the challenge seen, tokens per scope set, scopes used. */
export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();
  /** Actions ever asked for each resource, so later tokens cover earlier needs (push + pull). */
  private readonly accumulated = new Map<string, Set<string>>();

  constructor(
    readonly registry: string,
    private readonly credentials: Credentials | undefined,
    private readonly opts: { insecureTls?: boolean; userAgent: string; ca?: string },
  ) {}

  get hasCredentials(): boolean {
    return this.credentials !== undefined;
  }

  /** Records scopes an operation needs; returns the merged scope set to ask tokens for. */
  accumulate(scopes: string[]): string[] {
    for (const s of mergeScopes(scopes)) {
      const i = s.lastIndexOf(':');
      const set = this.accumulated.get(s.slice(0, i)) ?? new Set<string>();
      for (const a of s.slice(i + 1).split(',')) set.add(a);
      this.accumulated.set(s.slice(0, i), set);
    }
    const wanted = mergeScopes(scopes).map((s) => s.slice(0, s.lastIndexOf(':')));
    return wanted.map((res) => `${res}:${[...this.accumulated.get(res)!].sort().join(',')}`);
  }

  /** The Authorization header for a request needing `scopes`, if a challenge is known. */
  async authorization(scopes: string[]): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return this.basicHeader();
    const tok = await this.token(
      mergeScopes([...scopes, ...(ch.params.scope ? [ch.params.scope] : [])]),
    );
    return tok ? `Bearer ${tok}` : undefined;
  }

  /**
   * Handles a 401: remembers its challenge and forgets the token that was refused.
   * Returns true when retrying with (new) authorization may help; callers bound the retries.
   */
  async onUnauthorized(res: HttpResponse, sentAuth: string | undefined): Promise<boolean> {
    await drain(res);
    return this.onChallenge(header(res, 'www-authenticate'), sentAuth);
  }

  /** onUnauthorized for a 401 whose body is already gone: its WWW-Authenticate header alone. */
  onChallenge(wwwAuthenticate: string | undefined, sentAuth: string | undefined): boolean {
    const ch = parseChallenge(wwwAuthenticate);
    if (!ch) return false;
    this.challenge = ch;
    if (sentAuth === undefined) return true;
    if (ch.scheme === 'basic') return false;
    for (const [k, v] of this.tokens) if (`Bearer ${v.token}` === sentAuth) this.tokens.delete(k);
    return true;
  }

  private basicHeader(): string | undefined {
    const c = this.credentials;
    if (!c || !('username' in c)) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  private async token(scopes: string[]): Promise<string | undefined> {
    const key = scopes.join(' ');
    const hit = this.tokens.get(key);
    if (hit && hit.expires > Date.now()) return hit.token;
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetchToken(scopes).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    const tok = await p;
    this.tokens.set(key, tok);
    return tok.token;
  }

  private async fetchToken(scopes: string[]): Promise<CachedToken> {
    const ch = this.challenge!;
    const realm = ch.params.realm;
    if (!realm)
      throw new TsdockError(`registry ${this.registry} sent a Bearer challenge without a realm`);
    const c = this.credentials;
    if (c && 'identitytoken' in c) {
      return this.postToken(realm, scopes, {
        grant_type: 'refresh_token',
        refresh_token: c.identitytoken,
      });
    }
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { 'user-agent': this.opts.userAgent };
    const basic = this.basicHeader();
    if (basic) headers.authorization = basic;
    const res = await send({
      method: 'GET',
      url: url.toString(),
      headers,
      insecureTls: this.opts.insecureTls,
      ca: this.opts.ca,
    });
    if ((res.status === 404 || res.status === 405) && c && 'username' in c) {
      await drain(res);
      return this.postToken(realm, scopes, {
        grant_type: 'password',
        username: c.username,
        password: c.password,
      });
    }
    return this.tokenFrom(res);
  }

  private async postToken(
    realm: string,
    scopes: string[],
    grant: Record<string, string>,
  ): Promise<CachedToken> {
    const form = new URLSearchParams({ ...grant, client_id: 'tsdock', access_type: 'offline' });
    const service = this.challenge?.params.service;
    if (service) form.set('service', service);
    if (scopes.length) form.set('scope', scopes.join(' '));
    const res = await send({
      method: 'POST',
      url: realm,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': this.opts.userAgent,
      },
      body: Buffer.from(form.toString()),
      insecureTls: this.opts.insecureTls,
      ca: this.opts.ca,
    });
    return this.tokenFrom(res);
  }

  private async tokenFrom(res: HttpResponse): Promise<CachedToken> {
    const text = (await readBody(res, 1024 * 1024)).toString('utf8');
    if ((res.status === 401 || res.status === 403) && !this.credentials) {
      // Anonymous access refused: go on without a token; the registry's 401 says what it means.
      return { token: '', expires: Date.now() + 5_000 };
    }
    if (res.status === 401 || res.status === 403) {
      throw new TsdockError(
        `unauthorized: incorrect username or password for ${this.registry}`,
        `check the username and password (tslogin ${this.registry})`,
      );
    }
    if (res.status !== 200) {
      throw new TsdockError(
        `token request to ${new URL(res.url).host} failed: HTTP ${res.status} ${text.slice(0, 120)}`,
      );
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new TsdockError(`token endpoint ${new URL(res.url).host} returned malformed JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new TsdockError(`token endpoint ${new URL(res.url).host} returned no token`);
    const lifetime = Math.max(60, body.expires_in ?? 60) * 1000;
    const issued = body.issued_at ? Date.parse(body.issued_at) : Date.now();
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    return { token, expires: start + lifetime - 10_000 };
  }
}
