// The registry config is checked against its schema (registry/config-schema.ts): a misspelt
// key, a section tsregistry does not implement, a value of the wrong type, in the file or in a
// REGISTRY_* variable, stops tsregistry with one line naming the key path (exit 1); configs
// shaped like the reference registry's and the ones this repo ships are accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../registry/config.js';
import { TsdockError } from '../../shared/errors.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function withFile<T>(yaml: string, fn: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-schema-'));
  try {
    const file = join(dir, 'config.yml');
    writeFileSync(file, yaml);
    return fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The one line and exit code loadConfig refuses `yaml` (with `env`) with. */
function refusal(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  return withFile(yaml, (file) => {
    try {
      loadConfig(file, env);
    } catch (err) {
      assert.ok(err instanceof TsdockError, String(err));
      assert.equal(err.exitCode, 1, err.toLine());
      return err.toLine();
    }
    assert.fail(`accepted:\n${yaml}`);
  });
}

test('config schema: a misspelt key is named with its path and the key meant', () => {
  assert.equal(
    refusal('http:\n  addr: 127.0.0.1:5000\n  tls:\n    certficate: /c.pem\n    key: /k.pem\n'),
    'config: http.tls.certficate: unknown key (did you mean http.tls.certificate?)',
  );
  assert.equal(
    refusal('storage:\n  s3:\n    buckt: b\n'),
    'config: storage.s3.buckt: unknown key (did you mean storage.s3.bucket?)',
  );
  assert.equal(
    refusal('proxy:\n  upstreams:\n    - remoteurl: https://a\n      Prefx: hub\n'),
    'config: proxy.upstreams[0].prefx: unknown key (did you mean proxy.upstreams[0].prefix?)',
  );
  assert.equal(
    refusal('storage:\n  maintenance:\n    uploadpurging:\n      dry-run: true\n'),
    'config: storage.maintenance.uploadpurging.dry-run: unknown key (did you mean storage.maintenance.uploadpurging.dryrun?)',
  );
});

test('config schema: reference settings that change nothing tsregistry must honour warn and are ignored', () => {
  // the parts of Debian's docker-registry config.yml that tsregistry has no use for
  const yaml =
    'version: 0.1\nlog:\n  fields:\n    service: registry\nstorage:\n  cache:\n    blobdescriptor: inmemory\n' +
    '  delete:\n    enabled: true\nhttp:\n  addr: :5000\n  headers:\n    X-Content-Type-Options: [nosniff]\n' +
    'health:\n  storagedriver:\n    enabled: true\n    interval: 10s\n';
  const warnings: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((line: string) => warnings.push(line) > 0) as typeof process.stderr.write;
  try {
    const config = withFile(yaml, (file) => loadConfig(file, {}));
    assert.equal(config.http.addr, ':5000');
    assert.equal(config.storage.delete.enabled, true);
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(
    warnings.map((w) => w.split(':')[2]!.trim()),
    ['storage.cache', 'http.headers', 'log.fields', 'health'],
  );
  assert.match(warnings[0]!, /^tsregistry: config: storage\.cache: .*\(ignored\)\n$/);
});

test('config schema: settings tsregistry does not implement and cannot ignore are refused', () => {
  // ignoring htpasswd would open the registry to everyone
  assert.match(
    refusal('auth:\n  htpasswd:\n    realm: r\n'),
    /^config: auth\.htpasswd: unknown key/,
  );
  assert.match(refusal('http:\n  prefix: /reg/\n'), /^config: http\.prefix: unknown key/);
  assert.match(
    refusal('proxy:\n  remoteurl: https://a\n  upstreams:\n    - remoteurl: https://b\n'),
    /^config: proxy\.remoteurl: unknown key/,
  );
  assert.match(
    refusal('metadata:\n  leveldb: {}\n  postgres:\n    dsn: postgresql://u@db/r\n'),
    /^config: metadata: set one of leveldb and postgres/,
  );
});

test('config schema: wrong types name the key and what it takes', () => {
  const cases: Array<[string, string]> = [
    ['http:\n  workers: many\n', 'config: http.workers: expected a whole number'],
    ['http:\n  addr: 5000\n', 'config: http.addr: expected host:port'],
    ['http:\n  tls:\n    certificate: /c.pem\n', 'config: http.tls.key: missing'],
    ['http:\n  debug:\n    addr: [a]\n', 'config: http.debug.addr: expected host:port'],
    [
      'storage:\n  delete:\n    enabled: yes please\n',
      'config: storage.delete.enabled: expected true or false',
    ],
    [
      'storage:\n  s3:\n    bucket: b\n    chunksize: big\n',
      'config: storage.s3.chunksize: expected a whole number',
    ],
    [
      'storage:\n  maintenance:\n    gc:\n      interval: soon\n',
      'config: storage.maintenance.gc.interval: expected a duration (seconds, or 30s, 5m, 1h)',
    ],
    [
      'log:\n  level: loud\n',
      'config: log.level: expected one of error, warn, info, debug, trace, silent',
    ],
    [
      'auth:\n  token:\n    loginlimit:\n      peruser: lots\n',
      'config: auth.token.loginlimit.peruser: expected a whole number',
    ],
    [
      'metadata:\n  postgres:\n    poolsize: [1]\n',
      'config: metadata.postgres.poolsize: expected a whole number',
    ],
    ['proxy:\n  upstreams: https://a\n', 'config: proxy.upstreams: expected a list of upstreams'],
    ['ui:\n  enabled: sometimes\n', 'config: ui.enabled: expected true or false'],
    ['storage: disk\n', 'config: storage: expected a mapping'],
  ];
  for (const [yaml, line] of cases) assert.equal(refusal(yaml), line, yaml);
});

test('config schema: REGISTRY_* variables are checked too, named in the error', () => {
  assert.equal(
    refusal('version: 0.1\n', { REGISTRY_HTTP_TLS_CERTFICATE: '/c.pem' }),
    'config: REGISTRY_HTTP_TLS_CERTFICATE (http.tls.certficate): unknown key (did you mean http.tls.certificate?)',
  );
  assert.equal(
    refusal('version: 0.1\n', { REGISTRY_STORAGE_DELETE_ENABLED: 'maybe' }),
    'config: REGISTRY_STORAGE_DELETE_ENABLED (storage.delete.enabled): expected true or false',
  );
  // Variables outside every section are not settings (REGISTRY_URL is the tests' own).
  withFile('version: 0.1\n', (file) => loadConfig(file, { REGISTRY_URL: 'http://x' }));
});

test('config schema: a reference-registry-shaped config and every section are accepted', () => {
  const yaml = `version: 0.1
log:
  level: debug
  formatter: text
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  s3:
    region: eu-west-1
    regionendpoint: http://127.0.0.1:7480
    bucket: registry
    accesskey: AK
    secretkey: SK
    rootdirectory: /r
    forcepathstyle: true
    chunksize: 10485760
    multipartcopychunksize: 33554432
    multipartcopythresholdsize: 33554432
    multipartcopymaxconcurrency: 10
    redirect: false
  delete:
    enabled: true
  maintenance:
    gc: { enabled: true, interval: 6h, untagged: true, grace: 10m, loopbackonly: true }
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
  uploads:
    maxperclient: 100
http:
  addr: 127.0.0.1:5000
  workers: 1
  draintimeout: 5
  timeouts: { headers: 70, bodyidle: 1m, bodyminrate: 1024 }
  debug:
    addr: 127.0.0.1:5001
auth:
  token:
    realm: https://auth.example/token
    service: registry
    issuer: issuer
    expiration: 5m
    anonymouspull: true
    loginlimit: { enabled: true, peruser: 5, peraddress: 20, window: 5m }
metadata:
  leveldb: {}
proxy:
  remoteurl: https://registry-1.docker.io
  username: u
  password: p
  ttl: 1h
  maxsize: 10g
ui:
  enabled: true
`;
  const config = withFile(yaml, (file) => loadConfig(file, {}));
  assert.equal(config.storage.s3?.bucket, 'registry');
  assert.equal(config.auth?.token.expiration, 300);
  assert.equal(config.proxy?.upstreams[0]?.ttl, 3600);
  withFile(
    'Version: 0.1\nHTTP:\n  Addr: 127.0.0.1:5000\nproxy:\n  upstreams:\n    - Prefix: hub\n      RemoteURL: https://a\n      TLS: { InsecureSkipVerify: true }\n',
    (file) => assert.equal(loadConfig(file, {}).proxy?.upstreams[0]?.prefix, 'hub'),
  );
});

test("config schema: the repo's own compose config passes, with compose's environment", () => {
  const compose = parse(readFileSync(join(repo, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { volumes?: string[]; environment?: Record<string, string> }>;
  };
  let checked = 0;
  for (const service of Object.values(compose.services)) {
    for (const volume of service.volumes ?? []) {
      const [source, target] = volume.split(':');
      if (!source!.startsWith('./') || !/config\.ya?ml$/.test(target!)) continue;
      const config = loadConfig(join(repo, source!), service.environment ?? {});
      assert.equal(config.auth?.token.loginlimit.peraddress, 0);
      checked++;
    }
  }
  assert.equal(checked, 1, 'docker-compose.yml mounts registry/compose-config.yml');
});

test('config schema: tsregistry exits 1 with one line on a bad config', () => {
  withFile('http:\n  tls:\n    certficate: /c.pem\n', (file) => {
    const r = spawnSync(
      process.execPath,
      [join(repo, 'dist', 'bin', 'tsregistry.js'), 'serve', '--config', file],
      { encoding: 'utf8', env: { ...process.env, TSDOCK_ROOT: dirname(file) } },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr,
      'tsregistry: config: http.tls.certficate: unknown key (did you mean http.tls.certificate?)\n',
    );
  });
});
