// The token signing key: loaded from PEM or generated (ES256) on first start, with the `kid`
// Docker's libtrust derives (SHA-256 of the DER public key, first 240 bits, base32, groups of
// four joined by ':'), which the reference registry expects in token headers.
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  createPrivateKey,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: 'ES256' | 'RS256';
  kid: string;
}

export function loadOrCreateSigningKey(file: string): SigningKey {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    });
  }
  const privateKey = createPrivateKey(readFileSync(file));
  const publicKey = createPublicKey(privateKey);
  const alg = privateKey.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256';
  if (alg === 'ES256' && privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new Error(`token key ${file}: ES256 needs a P-256 key`);
  return { privateKey, publicKey, alg, kid: libtrustKid(publicKey) };
}

/** libtrust's key id for a public key. */
export function libtrustKid(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const b32 = base32(hash);
  return b32.match(/.{4}/g)!.join(':');
}

function base32(buf: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
