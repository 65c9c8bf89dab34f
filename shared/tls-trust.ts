// Extra CA certificates for TLS clients when a command's launcher set NODE_EXTRA_CA_CERTS aside.
// Node 20 reads that file at start-up, before any code runs (about 40 ms of CPU here for Debian's
// bundle), even in commands that never open a TLS connection; the commands' sh launcher lines
// (scripts/bundle.mjs) therefore move it to TSDOCK_EXTRA_CA_CERTS, and the HTTP client adds it
// back here when it makes its TLS agent:
// Node's built-in roots plus the extra file, which is what NODE_EXTRA_CA_CERTS means.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** TLS options that trust Node's roots plus the set-aside extra certificates, if any. */
export function extraCaOptions(): { ca?: string[] } {
  const file = process.env.TSDOCK_EXTRA_CA_CERTS;
  let opts: { ca?: string[] } = {};
  // NODE_EXTRA_CA_CERTS still set means Node already loaded it (run as `node tsbuild.js`)
  if (file && !process.env.NODE_EXTRA_CA_CERTS) {
    try {
      const { rootCertificates } = createRequire(import.meta.url)(
        'node:tls',
      ) as typeof import('node:tls');
      opts = { ca: [...rootCertificates, readFileSync(file, 'utf8')] };
    } catch (err) {
      // as Node does for NODE_EXTRA_CA_CERTS: warn once, go on with the built-in roots
      process.emitWarning(`Ignoring extra certs from ${file}: ${(err as Error).message}`);
    }
  }
  return opts;
}
