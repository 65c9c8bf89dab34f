// The built-in token service (Docker token spec): `GET /token` with Basic credentials (or none,
// for anonymous), `POST /token` with the OAuth2 `password` and `refresh_token` grants. Access
// tokens are JWTs (iss, sub, aud, exp, nbf, iat, jti, access[]) signed with the registry key
// and its libtrust `kid`; they grant the intersection of the scopes asked and the user's grants.
// Failed logins are rate limited (login-limiter.ts). Refresh tokens carry the user's credential
// generation (`gen`) and stop working when the password or grants change or the user is removed.
// The web console signs in as `client_id=tsregistry-ui`: its refresh token is a short session
// (UI_SESSION_LIFETIME), and refreshing it gives access tokens only, never a longer session.
import express, { type Request, type Response, type Router } from 'express';
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { RegistryError } from '../errors.js';
import { parseScopes, quoted, type Access } from './access.js';
import type { SigningKey } from './keys.js';
import type { LoginLimiter } from './login-limiter.js';
import { allowedAccess, type UsersFile } from './users.js';

export interface TokenServiceOptions {
  key: SigningKey;
  users: UsersFile;
  service: string;
  issuer: string;
  expiration: number;
  anonymousPull: boolean;
  limiter: LoginLimiter;
}

const REFRESH_LIFETIME = 30 * 24 * 3600;
/** The OAuth2 client id the web console (registry/ui) signs in with. */
export const UI_CLIENT_ID = 'tsregistry-ui';
/** Seconds a console session (its refresh token) lasts. */
export const UI_SESSION_LIFETIME = 8 * 3600;

export function tokenRouter(opts: TokenServiceOptions): Router {
  const router = express.Router();
  router.get('/token', async (req, res) => {
    const who = basicCredentials(req);
    const subject = who ? await login(opts, req, who.user, who.password) : '';
    const offline = req.query.offline_token === 'true' && subject !== '';
    await reply(opts, res, subject, scopesOf(req.query.scope), offline && REFRESH_LIFETIME);
  });
  router.post(
    '/token',
    express.urlencoded({ extended: false, limit: '64kb' }),
    async (req, res) => {
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      let subject: string;
      let session: number | false = REFRESH_LIFETIME;
      if (body.grant_type === 'password') {
        subject = await login(opts, req, body.username ?? '', body.password ?? '', false);
        if (body.client_id === UI_CLIENT_ID) session = UI_SESSION_LIFETIME;
      } else if (body.grant_type === 'refresh_token') {
        const refreshed = await refreshSubject(opts, body.refresh_token ?? '');
        subject = refreshed.subject;
        if (refreshed.client === UI_CLIENT_ID) session = false;
      } else {
        throw new RegistryError(
          'UNSUPPORTED',
          'grant_type must be password or refresh_token',
          undefined,
          { status: 400 },
        );
      }
      await reply(opts, res, subject, scopesOf(body.scope), session);
    },
  );
  return router;
}

function scopesOf(value: unknown): Access[] {
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return parseScopes(values.filter((v): v is string => typeof v === 'string'));
}

function basicCredentials(req: Request): { user: string; password: string } | undefined {
  const h = req.headers.authorization;
  if (!h?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? undefined : { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

async function login(
  opts: TokenServiceOptions,
  req: Request,
  user: string,
  password: string,
  /**
   * Answer a failure with a Basic challenge (GET with Basic credentials). Not for the OAuth2
   * password grant: a browser (the console) would pop up its own password dialog.
   */
  basicChallenge = true,
): Promise<string> {
  const address = req.socket.remoteAddress ?? '';
  const wait = opts.limiter.blocked(user, address);
  if (wait !== undefined)
    throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins; retry later', undefined, {
      headers: { 'Retry-After': String(wait) },
    });
  if (!(await opts.users.verify(user, password))) {
    opts.limiter.failed(user, address);
    throw new RegistryError(
      'UNAUTHORIZED',
      'invalid username or password',
      undefined,
      basicChallenge
        ? { headers: { 'WWW-Authenticate': `Basic realm=${quoted(opts.service)}` } }
        : undefined,
    );
  }
  opts.limiter.succeeded(user);
  return user;
}

function grantsOf(opts: TokenServiceOptions, subject: string): string[] {
  const anon = opts.anonymousPull ? ['repository:*:pull'] : [];
  if (subject === '') return anon;
  return [...(opts.users.read()[subject]?.access ?? []), ...anon];
}

async function reply(
  opts: TokenServiceOptions,
  res: Response,
  subject: string,
  asked: Access[],
  /** Lifetime of a refresh token to add (seconds), or false for none. */
  session: number | false,
): Promise<void> {
  const access = allowedAccess(grantsOf(opts, subject), asked);
  const now = Math.floor(Date.now() / 1000);
  const token = await sign(opts, { access }, subject, now, opts.expiration);
  const body: Record<string, unknown> = {
    token,
    access_token: token,
    expires_in: opts.expiration,
    issued_at: new Date(now * 1000).toISOString(),
  };
  if (asked.length)
    body.scope = asked.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
  if (session !== false) {
    const claims: Record<string, unknown> = {
      token_type: 'refresh',
      gen: opts.users.generation(subject),
    };
    if (session === UI_SESSION_LIFETIME) claims.cid = UI_CLIENT_ID;
    body.refresh_token = await sign(opts, claims, subject, now, session);
  }
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).json(body);
}

async function sign(
  opts: TokenServiceOptions,
  claims: Record<string, unknown>,
  subject: string,
  now: number,
  lifetime: number,
): Promise<string> {
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: opts.key.alg, kid: opts.key.kid, typ: 'JWT' })
    .setIssuer(opts.issuer)
    .setSubject(subject)
    .setAudience(opts.service)
    .setIssuedAt(now)
    .setNotBefore(now - 1)
    .setExpirationTime(now + lifetime)
    .setJti(randomUUID())
    .sign(opts.key.privateKey);
}

async function refreshSubject(
  opts: TokenServiceOptions,
  token: string,
): Promise<{ subject: string; client?: string }> {
  try {
    const { payload } = await jwtVerify(token, opts.key.publicKey, {
      algorithms: [opts.key.alg],
      issuer: opts.issuer,
      audience: opts.service,
    });
    const sub = payload.sub ?? '';
    const gen = opts.users.generation(sub);
    if (payload.token_type !== 'refresh' || gen === undefined || payload.gen !== gen)
      throw new Error('not a current refresh token');
    return { subject: sub, client: typeof payload.cid === 'string' ? payload.cid : undefined };
  } catch {
    throw new RegistryError('UNAUTHORIZED', 'invalid refresh token');
  }
}
