// A throwaway self-signed certificate for 127.0.0.1 (CN and IP subjectAltName), made with openssl
// into a test's temp dir: for TLS servers in tests (the registry's http.tls, fake registries).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface SelfSigned {
  keyFile: string;
  certFile: string;
}

/** Writes key.pem and cert.pem under dir; `ec` makes a P-256 key, else RSA 2048. */
export function makeSelfSigned(dir: string, key: 'rsa' | 'ec' = 'rsa'): SelfSigned {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const keyArgs = key === 'ec' ? ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['rsa:2048'];
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      ...keyArgs,
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ].concat(['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile]),
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `openssl: ${r.stderr}`);
  return { keyFile, certFile };
}
