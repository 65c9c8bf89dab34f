// docker-compose.ha.yml (3 replicas, PostgreSQL, an S3 endpoint from the environment, HAProxy in
// front, one signing key): Debian's docker-compose 1.29 resolves it (`config`, no daemon needed)
// into what a team runs, and refuses to without S3_ENDPOINT, naming it; HAProxy accepts the
// balancer's config (`haproxy -c`); and the replicas' config file, with the environment compose
// gives them, loads into S3 storage, PostgreSQL metadata and token auth with the shared key.
// The replicas themselves, behind HAProxy on PostgreSQL and radosgw, are registry-ha.test.ts.
// Skipped with a reason when docker-compose or haproxy is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../registry/config.js';
import { repo } from '../helpers/node-base-image.js';
import { requirePeer } from '../helpers/peers.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const composeFile = join(repo, 'docker-compose.ha.yml');
const env = {
  S3_ENDPOINT: 'http://s3.internal:9000',
  S3_BUCKET: 'team-registry',
  S3_ACCESS_KEY: 'AKIATEST',
  S3_SECRET_KEY: 'secret-test',
  POSTGRES_PASSWORD: 'pg-test',
  TSREGISTRY_PORT: '5123',
};

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: Array<string | { published: number; host_ip: string }>;
  secrets?: Array<string | { source: string }>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

function composeConfig(extra: Record<string, string | undefined>) {
  const { NODE_TEST_CONTEXT: _, ...parent } = process.env;
  return spawnSync('docker-compose', ['-f', composeFile, '-p', 'tsregha', 'config'], {
    cwd: repo,
    env: { ...parent, ...extra },
    encoding: 'utf8',
  });
}

test('docker-compose.ha.yml resolves to 3 replicas on PostgreSQL and S3 behind HAProxy', async (t) => {
  if (!requirePeer(t, 'docker-compose')) return;
  const r = composeConfig(env);
  assert.equal(r.status, 0, r.stderr);
  const config = parse(r.stdout) as {
    services: Record<string, Service>;
    secrets: Record<string, { file: string }>;
  };
  const replicas = ['registry-1', 'registry-2', 'registry-3'];
  assert.deepEqual(
    Object.keys(config.services).sort(),
    ['balancer', 'postgres', ...replicas].sort(),
  );
  for (const name of replicas) {
    const s = config.services[name]!;
    const e = s.environment!;
    assert.equal(e.REGISTRY_STORAGE_S3_REGIONENDPOINT, env.S3_ENDPOINT, name);
    assert.equal(e.REGISTRY_STORAGE_S3_BUCKET, env.S3_BUCKET, name);
    assert.equal(e.REGISTRY_STORAGE_S3_ACCESSKEY, env.S3_ACCESS_KEY, name);
    assert.equal(
      e.REGISTRY_METADATA_POSTGRES_DSN,
      `postgresql://tsregistry:${env.POSTGRES_PASSWORD}@postgres:5432/tsregistry`,
      name,
    );
    assert.deepEqual(s.command?.slice(-2), ['--workers', '2'], name);
    const secrets = (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source));
    assert.deepEqual(secrets.sort(), ['token-key.pem', 'users.json'], `${name}: shared key`);
    assert.equal(s.depends_on?.postgres?.condition, 'service_healthy', name);
  }
  assert.match(config.secrets['token-key.pem']!.file, /secrets\/token-key\.pem$/);
  const ports = config.services.balancer!.ports!.map((p) =>
    typeof p === 'string' ? p : `${p.host_ip}:${p.published}`,
  );
  assert.ok(
    ports.some((p) => p.startsWith(`127.0.0.1:${env.TSREGISTRY_PORT}`)),
    `balancer on loopback: ${ports.join(', ')}`,
  );
  assert.ok(
    (config.services.balancer!.volumes ?? []).some((v) => v.includes('registry/ha-haproxy.cfg')),
  );
  // Replica services publish nothing themselves: clients go through the balancer.
  for (const name of replicas) assert.equal(config.services[name]!.ports, undefined, name);

  const missing = composeConfig({ ...env, S3_ENDPOINT: undefined });
  assert.notEqual(missing.status, 0, 'no S3_ENDPOINT: refused');
  assert.match(missing.stderr, /S3_ENDPOINT/);
});

test('the balancer config passes haproxy -c and names the 3 replicas', async (t) => {
  if (!requirePeer(t, 'haproxy')) return;
  const cfg = join(repo, 'registry', 'ha-haproxy.cfg');
  const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /Configuration file is valid/);
  const text = spawnSync('cat', [cfg], { encoding: 'utf8' }).stdout;
  for (const n of [1, 2, 3])
    assert.match(text, new RegExp(`server registry-${n} registry-${n}:5000 check`));
  assert.match(text, /balance roundrobin/);
});

test('the replicas config with the compose environment: S3, PostgreSQL, token auth with the shared key', () => {
  const r = composeConfig(env);
  const replicaEnv = has('docker-compose')
    ? (parse(r.stdout) as { services: Record<string, Service> }).services['registry-1']!
        .environment!
    : {
        REGISTRY_STORAGE_S3_REGIONENDPOINT: env.S3_ENDPOINT,
        REGISTRY_STORAGE_S3_BUCKET: env.S3_BUCKET,
        REGISTRY_METADATA_POSTGRES_DSN: 'postgresql://tsregistry:x@postgres:5432/tsregistry',
      };
  const config = loadConfig(join(repo, 'registry', 'ha-config.yml'), replicaEnv);
  assert.equal(config.storage.s3?.regionendpoint, env.S3_ENDPOINT);
  assert.equal(config.storage.s3?.bucket, env.S3_BUCKET);
  assert.equal(config.storage.s3?.forcepathstyle, true);
  assert.match(config.metadata?.postgres?.dsn ?? '', /@postgres:5432\/tsregistry$/);
  assert.equal(config.auth?.token.key, '/run/secrets/token-key.pem');
  assert.equal(config.auth?.token.users, '/run/secrets/users.json');
  assert.equal(config.http.addr, '0.0.0.0:5000');
});
