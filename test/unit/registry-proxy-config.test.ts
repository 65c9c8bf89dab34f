// The `proxy:` config section: the reference registry's one-upstream shape (served at the root),
// the list form with prefixes, REGISTRY_PROXY_* overrides, and one-line errors for bad input;
// plus which repositories each configuration proxies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../registry/config.js';
import { ProxyRoutes } from '../../registry/proxy/routes.js';
import type { Upstream } from '../../registry/proxy/upstream.js';

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-proxycfg-'));
  try {
    const file = join(dir, 'config.yml');
    writeFileSync(file, yaml);
    return loadConfig(file, env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the reference registry's proxy shape: one upstream at the root", () => {
  const c = load(
    'proxy:\n  remoteurl: https://registry-1.docker.io\n  username: u\n  password: p\n  ttl: 10m\n',
  );
  assert.deepEqual(c.proxy, {
    maxsize: 0,
    upstreams: [
      {
        prefix: '',
        remoteurl: 'https://registry-1.docker.io',
        username: 'u',
        password: 'p',
        ttl: 600,
        tls: { insecureskipverify: false },
        local: [],
      },
    ],
  });
  const env = load('version: 0.1\n', { REGISTRY_PROXY_REMOTEURL: 'http://127.0.0.1:5001' });
  assert.equal(env.proxy?.upstreams[0]?.remoteurl, 'http://127.0.0.1:5001');
  assert.equal(env.proxy?.upstreams[0]?.ttl, 300, 'default tag TTL');
});

test('the list form: prefixes, local repositories under a root upstream, maxsize', () => {
  const c = load(`proxy:
  maxsize: 2g
  upstreams:
    - prefix: /dockerhub/
      remoteurl: https://registry-1.docker.io/
    - prefix: ghcr
      remoteurl: https://ghcr.io
      tls: { insecureskipverify: true }
    - remoteurl: http://127.0.0.1:5001
      local: [mine, team/apps]
`);
  assert.equal(c.proxy?.maxsize, 2 * 2 ** 30);
  const fake = (url: string) => ({ url }) as unknown as Upstream;
  const routes = new ProxyRoutes(
    c.proxy!.upstreams.map((u) => ({ config: u, upstream: fake(u.remoteurl) })),
  );
  const at = (repo: string) => {
    const t = routes.resolve(repo);
    return t && [t.route.upstream.url, t.remoteRepo];
  };
  assert.deepEqual(at('dockerhub/library/busybox'), [
    'https://registry-1.docker.io',
    'library/busybox',
  ]);
  assert.deepEqual(at('ghcr/org/tool'), ['https://ghcr.io', 'org/tool']);
  assert.deepEqual(at('library/busybox'), ['http://127.0.0.1:5001', 'library/busybox']);
  assert.equal(at('mine/app'), undefined, 'local repositories stay push/pull');
  assert.equal(at('team/apps/web'), undefined);
  assert.deepEqual(at('team/other'), ['http://127.0.0.1:5001', 'team/other']);
  assert.equal(c.proxy?.upstreams[1]?.tls.insecureskipverify, true);
});

test('bad proxy config: one-line errors', () => {
  assert.throws(
    () => load('proxy:\n  remoteurl: ftp://x\n'),
    /invalid proxy.upstreams\[0\].remoteurl/,
  );
  assert.throws(
    () => load('proxy:\n  remoteurl: https://x\n  username: u\n'),
    /username and password go together/,
  );
  assert.throws(
    () => load('proxy:\n  upstreams:\n    - remoteurl: https://a\n    - remoteurl: https://b\n'),
    /prefix "" is configured twice/,
  );
  assert.throws(() => load('proxy:\n  upstreams: []\n'), /invalid proxy.upstreams/);
  assert.throws(
    () => load('proxy:\n  remoteurl: https://x\n  tls:\n    ca: /nonexistent/ca.pem\n'),
    /cannot read proxy.upstreams\[0\].tls.ca \/nonexistent\/ca.pem: ENOENT/,
  );
  assert.throws(
    () => load('proxy:\n  remoteurl: https://x\n  maxsize: lots\n'),
    /invalid proxy.maxsize/,
  );
  assert.throws(
    () => load('proxy:\n  remoteurl: https://x\n  ttl: soon\n'),
    /config: proxy\.ttl: expected a duration/,
  );
});
