// A tiny Docker token service for tests against the reference registry's `auth.token`: an RSA key
// and self-signed certificate made with openssl (the certificate is the registry's rootcertbundle),
// `GET /token` with Basic credentials or anonymous, `POST /token` with OAuth2 password and
// refresh_token grants; RS256 JWTs carrying the certificate in `x5c`. Records what was asked.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TokenIssuer {
  /** The realm URL for the registry config and challenges. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the signing certificate (the registry's rootcertbundle). */
  certFile: string;
  /** Every token request seen: method, grant, account and scopes. */
  requests: { method: string; grant: string; account?: string; scopes: string[] }[];
  close(): Promise<void>;
}

export interface TokenIssuerOptions {
  /** username -> password; users get every action they ask for. */
  users: Record<string, string>;
  /** Whether anonymous requests get pull access. */
  anonymousPull?: boolean;
  service?: string;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

export async function startTokenIssuer(opts: TokenIssuerOptions): Promise<TokenIssuer> {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-token-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile].concat([
      '-days',
      '2',
      '-subj',
      '/CN=tsdock-test-token-issuer',
    ]),
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  const key = createPrivateKey(readFileSync(keyFile));
  const certDer = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
  const service = opts.service ?? 'tsdock-test-registry';
  const issuer = 'tsdock-test-issuer';
  const refreshTokens = new Map<string, string>();
  const requests: TokenIssuer['requests'] = [];

  const issue = (account: string | undefined, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const access: Access[] = [];
    for (const s of scopes) {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()?.split(',') ?? [];
      const granted = account
        ? actions
        : opts.anonymousPull
          ? actions.filter((a) => a === 'pull')
          : [];
      if (type && granted.length) access.push({ type, name: rest.join(':'), actions: granted });
    }
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: account ?? '',
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const data = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${data}.${sign('sha256', Buffer.from(data), key).toString('base64url')}`;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/token') return reply(404, { error: 'not found' });
      let account: string | undefined;
      let scopes: string[];
      let grant: string;
      let refresh: string | undefined;
      if (req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        grant = form.get('grant_type') ?? '';
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        if (grant === 'password') {
          const u = form.get('username') ?? '';
          if (opts.users[u] === undefined || opts.users[u] !== form.get('password'))
            return reply(401, { error: 'invalid_grant' });
          account = u;
          refresh = randomBytes(16).toString('hex');
          refreshTokens.set(refresh, u);
        } else if (grant === 'refresh_token') {
          account = refreshTokens.get(form.get('refresh_token') ?? '');
          if (!account) return reply(401, { error: 'invalid_grant' });
        } else return reply(400, { error: 'unsupported_grant_type' });
      } else {
        grant = 'get';
        scopes = url.searchParams
          .getAll('scope')
          .flatMap((s) => s.split(' '))
          .filter(Boolean);
        const auth = req.headers.authorization;
        if (auth?.startsWith('Basic ')) {
          const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
          if (!u || opts.users[u] === undefined || opts.users[u] !== p.join(':'))
            return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
          account = u;
        }
      }
      requests.push({ method: req.method ?? '', grant, account, scopes });
      const token = issue(account, scopes);
      reply(200, {
        token,
        access_token: token,
        expires_in: 300,
        issued_at: new Date().toISOString(),
        ...(refresh ? { refresh_token: refresh } : {}),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}
