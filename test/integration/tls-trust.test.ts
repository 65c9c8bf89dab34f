// The commands' launcher lines (scripts/bundle.mjs) set NODE_EXTRA_CA_CERTS aside (Node would
// parse it at every start); the client must then trust those certificates itself. Runs a script
// that starts with tslogin's launcher lines, as an executable the way the kernel runs it from
// PATH, that lists tags over HTTPS with verification on (loopback registries are otherwise
// trusted blindly, as docker does) from a server whose certificate only the extra CA file vouches for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { makeSelfSigned } from '../helpers/self-signed.js';

const tslogin = fileURLToPath(new URL('../../bin/tslogin.js', import.meta.url));
const clientModule = new URL('../../shared/client/registry-client.js', import.meta.url).href;

function run(argv: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end();
  });
}

test('a command started through its launcher trusts NODE_EXTRA_CA_CERTS for TLS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-ca-'));
  const srvOpts: { key?: Buffer; cert?: Buffer } = {};
  try {
    makeSelfSigned(dir);
    srvOpts.key = readFileSync(join(dir, 'key.pem'));
    srvOpts.cert = readFileSync(join(dir, 'cert.pem'));
    let pings = 0;
    const srv = https.createServer(srvOpts, (req, res) => {
      pings++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url === '/v2/' ? '{}' : '{"name":"a/b","tags":["t1"]}');
    });
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    try {
      const host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
      const base: NodeJS.ProcessEnv = {
        ...process.env,
        TSDOCK_CONFIG: join(dir, 'config'),
        DOCKER_CONFIG: join(dir, 'docker-config'),
      };
      delete base.NODE_EXTRA_CA_CERTS;
      const script = join(dir, 'list-tags.mjs');
      const launcher = readFileSync(tslogin, 'utf8').split('\n').slice(0, 2);
      assert.equal(launcher[0], '#!/bin/sh');
      writeFileSync(
        script,
        `${launcher.join('\n')}
import { RegistryClient } from ${JSON.stringify(clientModule)};
const c = new RegistryClient({ registry: ${JSON.stringify(host)}, insecure: false });
c.listTags('a/b').then(
  (tags) => console.log('tags', tags.join(','), 'extra', process.env.NODE_EXTRA_CA_CERTS ?? 'unset'),
  (err) => { console.log(err.toLine ? err.toLine() : String(err)); process.exit(125); },
);
`,
      );
      chmodSync(script, 0o755);
      const argv = [script];
      // without the CA file the certificate is unknown: refused, with the --insecure hint
      const refused = await run(argv, base);
      assert.equal(refused.code, 125, refused.out);
      assert.match(refused.out, /TLS error talking to 127\.0\.0\.1:\d+: .*--insecure/);
      // with it, Node no longer sees the variable (the launcher moved it), yet the CA is trusted
      const trusted = await run(argv, { ...base, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') });
      assert.equal(trusted.code, 0, trusted.out);
      assert.equal(trusted.out.trim(), 'tags t1 extra unset');
      assert.ok(pings >= 1);
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((ok) => srv.close(() => ok()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
