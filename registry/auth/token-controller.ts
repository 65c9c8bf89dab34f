// The token AccessController (Docker token auth): requests carry `Authorization: Bearer <JWT>`
// signed by our token service (or an external issuer's keys); the token's `access` claim must
// cover what the request needs. Otherwise a 401 with the Bearer challenge for that scope.
// Expired, tampered, `alg: none`, wrong-audience or wrong-issuer tokens are refused.
import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, exportJWK, jwtVerify, type JWTPayload, type JWK } from 'jose';
import type { KeyObject } from 'node:crypto';
import { Lru } from '../lru.js';
import { AuthChallenge, type Access, type AccessController, type Grant } from './access.js';

export interface TokenControllerOptions {
  /** Fixed realm, or undefined to derive `<scheme>://<Host>/token` from the request. */
  realm?: string;
  scheme: string;
  service: string;
  issuer: string;
  anonymousPull: boolean;
  /** Public keys tokens may be signed with, each with its kid. */
  keys: Array<{ kid: string; key: KeyObject; alg: string }>;
}

export interface TokenClaims extends JWTPayload {
  access?: Access[];
  token_type?: string;
}

export class TokenAccessController implements AccessController {
  private readonly verified = new Lru<string, TokenClaims>(10_000);
  private jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  constructor(private readonly opts: TokenControllerOptions) {}

  async authorize(req: IncomingMessage, access: Access[]): Promise<Grant> {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) {
      if (this.opts.anonymousPull && access.length > 0 && access.every(isPullOnly))
        return {
          subject: '',
          can: (_repo, action) => action === 'pull',
          allows: (type, _name, action) => type === 'repository' && action === 'pull',
        };
      throw this.challenge(req, access);
    }
    const claims = await this.verify(header.slice(7).trim()).catch(() => undefined);
    if (!claims) throw this.challenge(req, access, 'invalid_token');
    const grant = grantOf(claims);
    for (const a of access)
      for (const action of a.actions)
        if (!covers(claims, a.type, a.name, action))
          throw this.challenge(req, access, 'insufficient_scope');
    return grant;
  }

  /** Decides a pull without I/O from the verified-token cache (fast path). */
  fastPull(req: IncomingMessage, repo: string): boolean | undefined {
    const header = req.headers.authorization;
    if (!header) return this.opts.anonymousPull ? true : undefined;
    if (!header.startsWith('Bearer ')) return undefined;
    const claims = this.verified.get(header.slice(7).trim());
    if (!claims || (claims.exp ?? 0) * 1000 <= Date.now()) return undefined;
    return covers(claims, 'repository', repo, 'pull') ? true : undefined;
  }

  private async verify(token: string): Promise<TokenClaims> {
    const hit = this.verified.get(token);
    if (hit && (hit.exp ?? 0) * 1000 > Date.now()) return hit;
    this.jwks ??= createLocalJWKSet({
      keys: await Promise.all(
        this.opts.keys.map(
          async (k) => ({ ...(await exportJWK(k.key)), kid: k.kid, alg: k.alg }) as JWK,
        ),
      ),
    });
    const { payload } = await jwtVerify(token, this.jwks, {
      algorithms: ['ES256', 'RS256'],
      issuer: this.opts.issuer,
      audience: this.opts.service,
      requiredClaims: ['exp', 'sub'],
    });
    const claims = payload as TokenClaims;
    if (claims.token_type === 'refresh') throw new Error('refresh token used as access token');
    this.verified.set(token, claims);
    return claims;
  }

  private challenge(req: IncomingMessage, access: Access[], error?: string): AuthChallenge {
    const realm = this.opts.realm ?? `${this.opts.scheme}://${realmHost(req)}/token`;
    return new AuthChallenge(realm, this.opts.service, access, error);
  }
}

const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The host of a derived realm: the request's Host when it is a plain `name[:port]` or
 * `[v6][:port]`, else the address the client connected to (never attacker-chosen text).
 */
export function realmHost(req: IncomingMessage): string {
  const host = req.headers.host;
  if (host !== undefined && HOST_RE.test(host)) return host;
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const name = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return `${name.includes(':') ? `[${name}]` : name}:${req.socket.localPort ?? 80}`;
}

function isPullOnly(a: Access): boolean {
  return a.type === 'repository' && a.actions.every((x) => x === 'pull');
}

function covers(claims: TokenClaims, type: string, name: string, action: string): boolean {
  return (claims.access ?? []).some(
    (c) =>
      c.type === type && c.name === name && (c.actions.includes(action) || c.actions.includes('*')),
  );
}

function grantOf(claims: TokenClaims): Grant {
  return {
    subject: claims.sub ?? '',
    can: (repo, action) => covers(claims, 'repository', repo, action),
    allows: (type, name, action) => covers(claims, type, name, action),
  };
}
