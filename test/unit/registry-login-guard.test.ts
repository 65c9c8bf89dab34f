// Pure pieces of the registry's abuse defences: the failed-login limiter (per user, per
// address, window, reset on success), unknown users checked against a dummy hash of the same
// cost, credential generations, the GC report filter, challenge quoting, the config keys, and
// the body watcher's accounting of stalls (server backpressure never counts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoginLimiter } from '../../registry/auth/login-limiter.js';
import { credentialGeneration, UsersFile } from '../../registry/auth/users.js';
import { visibleReport } from '../../registry/handlers/admin.js';
import { AuthChallenge, quoted } from '../../registry/auth/access.js';
import { loadConfig } from '../../registry/config.js';
import { parseChallenge } from '../../shared/client/auth.js';
import { BodyWatcher } from '../../registry/body-timeout.js';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

test('login limiter: per user and per address, Retry-After, window end, reset on success', () => {
  let now = 1_000_000;
  const limiter = new LoginLimiter(
    { enabled: true, peruser: 2, peraddress: 3, window: 60 },
    () => now,
  );
  assert.equal(limiter.blocked('u', '10.0.0.1'), undefined);
  limiter.failed('u', '10.0.0.1');
  limiter.failed('u', '10.0.0.1');
  assert.equal(limiter.blocked('u', '10.0.0.2'), 60, 'user locked from any address');
  assert.equal(limiter.blocked('v', '10.0.0.1'), undefined, 'address below its limit');
  limiter.failed('v', '::ffff:10.0.0.1');
  assert.equal(limiter.blocked('w', '10.0.0.1'), 60, 'address locked for any user');
  now += 30_500;
  assert.equal(limiter.blocked('u', '10.0.0.9'), 30);
  now += 30_000;
  assert.equal(limiter.blocked('u', '10.0.0.1'), undefined, 'window over');
  limiter.failed('x', '10.0.0.5');
  limiter.succeeded('x');
  limiter.failed('x', '10.0.0.5');
  assert.equal(limiter.blocked('x', '10.0.0.6'), undefined, 'success cleared the count');
  const off = new LoginLimiter({ enabled: false, peruser: 1, peraddress: 1, window: 60 });
  off.failed('u', 'a');
  off.failed('u', 'a');
  assert.equal(off.blocked('u', 'a'), undefined);
});

test('unknown user names are checked against a dummy hash of the same cost as real ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-users-'));
  try {
    const seen: string[] = [];
    const checker = {
      compare: async (_password: string, hash: string) => (seen.push(hash), false),
    };
    const file = join(dir, 'users.json');
    new UsersFile(file).add('known', 'pw');
    const users = new UsersFile(file, checker);
    assert.equal(await users.verify('known', 'wrong'), undefined);
    assert.equal(await users.verify('nobody', 'wrong'), undefined);
    assert.equal(await users.verify('__proto__', 'wrong'), undefined);
    assert.equal(seen.length, 3, 'one bcrypt compare for known and unknown names alike');
    const cost = (h: string) => /^\$2[aby]\$(\d\d)\$/.exec(h)?.[1];
    assert.equal(cost(seen[1]!), cost(seen[0]!));
    assert.notEqual(seen[1], seen[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('credential generation changes with the password hash and the grants', () => {
  const a = credentialGeneration('u', { hash: 'h1', access: ['repository:*:pull'] });
  assert.equal(a, credentialGeneration('u', { hash: 'h1', access: ['repository:*:pull'] }));
  assert.notEqual(a, credentialGeneration('u', { hash: 'h2', access: ['repository:*:pull'] }));
  assert.notEqual(a, credentialGeneration('u', { hash: 'h1', access: ['repository:*:push'] }));
  assert.notEqual(a, credentialGeneration('v', { hash: 'h1', access: ['repository:*:pull'] }));
});

test('GC report: names only what the grant may see', () => {
  const report = {
    dryRun: true,
    blobsDeleted: ['sha256:1', 'sha256:2'],
    bytesFreed: 10,
    uploadsPurged: 0,
    manifestsDeleted: [
      { repo: 'a/x', digest: 'sha256:3' },
      { repo: 'b/y', digest: 'sha256:4' },
    ],
  };
  const repoOnly = {
    subject: 'j',
    can: (repo: string) => repo === 'a/x',
    allows: () => false,
  };
  const v = visibleReport(report, repoOnly);
  assert.deepEqual(v.manifestsDeleted, [{ repo: 'a/x', digest: 'sha256:3' }]);
  assert.deepEqual(v.blobsDeleted, []);
  assert.deepEqual(v.hidden, { manifests: 1, blobs: 2 });
  const all = visibleReport(report, { subject: 'a', can: () => false, allows: () => true });
  assert.equal(all.manifestsDeleted.length, 2);
  assert.deepEqual(all.hidden, { manifests: 0, blobs: 0 });
});

test('challenge values are quoted strings a client parses back intact', () => {
  assert.equal(quoted('a"b\\c\r\n'), '"a\\"b\\\\c"');
  const c = new AuthChallenge('http://h/token?x="y"', 'svc "1"', []);
  const parsed = parseChallenge(c.headers['WWW-Authenticate']);
  assert.equal(parsed?.params.realm, 'http://h/token?x="y"');
  assert.equal(parsed?.params.service, 'svc "1"');
});

test('config: uploadpurging, timeouts, login limits, debug address', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-cfg-'));
  try {
    const file = join(dir, 'c.yml');
    writeFileSync(
      file,
      [
        'storage:',
        '  maintenance:',
        '    uploadpurging:',
        '      age: 2h',
        '      interval: 30m',
        'http:',
        '  addr: 127.0.0.1:5000',
        '  debug:',
        '    addr: 127.0.0.1:5001',
        '  timeouts:',
        '    bodyidle: 2m',
        'auth:',
        '  token:',
        '    loginlimit:',
        '      peruser: 3',
        '',
      ].join('\n'),
    );
    const c = loadConfig(file, {});
    assert.deepEqual(c.storage.maintenance.uploadpurging, {
      enabled: true,
      age: 7200,
      interval: 1800,
      dryrun: false,
    });
    assert.equal(c.http.timeouts.bodyidle, 120);
    assert.equal(c.http.timeouts.headers, 70);
    assert.equal(c.http.debug?.addr, '127.0.0.1:5001');
    assert.deepEqual(c.auth?.token.loginlimit, {
      enabled: true,
      peruser: 3,
      peraddress: 50,
      window: 300,
    });
    assert.equal(c.storage.maintenance.gc.loopbackonly, true);
    const d = loadConfig(undefined, {
      REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED: 'false',
    });
    assert.equal(d.storage.maintenance.uploadpurging.enabled, false);
    assert.equal(d.storage.maintenance.uploadpurging.age, 168 * 3600);
    assert.equal(d.storage.maintenance.uploadpurging.interval, 24 * 3600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A request-like object the body watcher reads: headers, socket bytes, stream state. */
function fakeExchange() {
  const req = Object.assign(new EventEmitter(), {
    headers: { 'content-length': '1000' } as Record<string, string>,
    complete: false,
    destroyed: false,
    readableFlowing: null as boolean | null,
    readableLength: 0,
    readableHighWaterMark: 16384,
    socket: { bytesRead: 100, destroyed: false, destroy: () => (req.socket.destroyed = true) },
  });
  const res = Object.assign(new EventEmitter(), {
    headersSent: false,
    status: 0,
    writeHead(status: number) {
      this.status = status;
      this.headersSent = true;
      return this;
    },
    end(_body: string, cb: () => void) {
      cb();
    },
  });
  return { req, res };
}

test('body watcher: time the server is not reading never counts; a stalled client is cut', (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  const advance = (ms: number) => {
    for (let left = ms; left > 0; left -= 10) t.mock.timers.tick(10);
  };
  const watcher = new BodyWatcher({ idleMs: 200, minRate: 0 });
  const { req, res } = fakeExchange();
  watcher.watch(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  // The server pauses the body (storage is slow) for three idle periods: not the client's fault.
  req.readableFlowing = false;
  advance(700);
  assert.equal(res.status, 0, 'not cut while the server was not reading');
  // Reading again, nothing arrives: cut with 408, connection closed.
  req.readableFlowing = true;
  advance(190);
  assert.equal(res.status, 0, 'not cut before idleMs without a byte');
  advance(100);
  assert.equal(res.status, 408);
  assert.ok(req.socket.destroyed);
  // A body that ended is no longer watched.
  const done = fakeExchange();
  watcher.watch(done.req as unknown as IncomingMessage, done.res as unknown as ServerResponse);
  done.req.complete = true;
  done.req.emit('end');
  advance(400);
  assert.equal(done.res.status, 0);
  watcher.close();
});
