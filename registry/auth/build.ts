// Picks the access controller from the config: none (allow all), the built-in token service,
// or an external token issuer (rootcertbundle: only verify, do not serve /token).
import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Router } from 'express';
import { signingKeyFile, usersFile, type RegistryConfig } from '../config.js';
import type { AccessController } from './access.js';
import { AllowAll } from './allow-all.js';
import { libtrustKid, loadOrCreateSigningKey } from './keys.js';
import { TokenAccessController } from './token-controller.js';
import { tokenRouter } from './token-service.js';
import { UsersFile } from './users.js';
import { PasswordPool } from './password-pool.js';
import { LoginLimiter } from './login-limiter.js';
import type { FastAuthorizer } from '../fast-path.js';

export interface AuthSetup {
  controller: AccessController;
  fast: FastAuthorizer;
  routers: Router[];
  /** The users of the built-in token service (the user admin endpoints edit them). */
  users?: UsersFile;
  /** Stops what the auth setup started (the password worker threads). */
  close(): Promise<void>;
}

const noop = async (): Promise<void> => {};

export async function buildAuth(config: RegistryConfig, scheme: string): Promise<AuthSetup> {
  const token = config.auth?.token;
  if (!token) return { controller: new AllowAll(), fast: () => true, routers: [], close: noop };
  const common = {
    realm: token.realm,
    scheme,
    service: token.service,
    issuer: token.issuer,
    anonymousPull: token.anonymouspull,
  };
  if (token.rootcertbundle) {
    const keys = certificates(readFileSync(token.rootcertbundle, 'utf8')).map((key) => ({
      key,
      kid: libtrustKid(key),
      alg: key.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256',
    }));
    const controller = new TokenAccessController({ ...common, keys });
    return {
      controller,
      fast: (req, repo) => controller.fastPull(req, repo),
      routers: [],
      close: noop,
    };
  }
  const key = loadOrCreateSigningKey(signingKeyFile(config));
  const controller = new TokenAccessController({
    ...common,
    keys: [{ key: key.publicKey, kid: key.kid, alg: key.alg }],
  });
  const pool = new PasswordPool();
  const users = new UsersFile(usersFile(config), pool);
  const router = tokenRouter({
    key,
    users,
    service: token.service,
    issuer: token.issuer,
    expiration: token.expiration,
    anonymousPull: token.anonymouspull,
    limiter: new LoginLimiter(token.loginlimit),
  });
  return {
    controller,
    fast: (req, repo) => controller.fastPull(req, repo),
    routers: [router],
    users,
    close: () => pool.close(),
  };
}

function certificates(pem: string): KeyObject[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b).publicKey);
}
