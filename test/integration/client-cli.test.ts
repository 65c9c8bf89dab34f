// The commands end to end against the reference registry with htpasswd and with token auth:
// tslogin (wrong password -> one line, exit 125, nothing saved), tspush (skopeo reads it with the
// same credentials), tspull into a fresh store, tslogout (then pulls are denied).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ContentStore } from '../../shared/store/content-store.js';
import { importBusybox } from '../helpers/busybox-image.js';
import {
  startReferenceRegistry,
  type ReferenceRegistry,
  type RegistryAuth,
} from '../helpers/reference-registry.js';

const users = { carol: 'c4r0l-pw' };
const binDir = fileURLToPath(new URL('../../bin/', import.meta.url));

function env(dir: string, root: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TSDOCK_ROOT: join(dir, root),
    TSDOCK_CONFIG: join(dir, 'config'),
    DOCKER_CONFIG: join(dir, 'docker-config'),
  };
}

/** Runs a command asynchronously (the token issuer lives in this process's event loop). */
function run(cmd: string, args: string[], e: NodeJS.ProcessEnv, input?: string) {
  return exec(process.execPath, [join(binDir, `${cmd}.js`), ...args], e, input);
}

function exec(
  file: string,
  args: string[],
  e: NodeJS.ProcessEnv,
  input?: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: e });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

for (const auth of [
  { kind: 'htpasswd', users },
  { kind: 'token', users },
] as RegistryAuth[]) {
  describe(`commands with ${auth.kind} auth`, () => {
    let reg: ReferenceRegistry;
    let dir: string;
    before(async () => {
      reg = await startReferenceRegistry({ auth });
      dir = mkdtempSync(join(tmpdir(), 'tsdock-client-cli-'));
      mkdirSync(join(dir, 'docker-config'));
    });
    after(async () => {
      await reg?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('login, push, pull, logout', async () => {
      const a = env(dir, 'root-a');
      const bad = await run('tslogin', ['-u', 'carol', '--password-stdin', reg.host], a, 'wrong\n');
      assert.equal(bad.status, 125, bad.stderr);
      assert.equal(bad.stdout, '');
      assert.match(
        bad.stderr,
        /^tslogin: unauthorized: incorrect username or password for 127\.0\.0\.1:\d+: .+\n$/,
      );
      assert.equal(existsSync(join(dir, 'config', 'auth.json')), false);

      const ok = await run(
        'tslogin',
        ['-u', 'carol', '--password-stdin', reg.host],
        a,
        `${users.carol}\n`,
      );
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout, 'Login Succeeded\n');
      const saved = JSON.parse(readFileSync(join(dir, 'config', 'auth.json'), 'utf8')) as {
        auths: Record<string, { auth: string }>;
      };
      assert.equal(
        Buffer.from(saved.auths[reg.host]!.auth, 'base64').toString(),
        `carol:${users.carol}`,
      );
      assert.doesNotMatch(ok.stderr + ok.stdout, new RegExp(users.carol));

      // Stored credentials are reused without a prompt (stdin is not a terminal here).
      const reuse = await run('tslogin', [reg.host], a);
      assert.equal(reuse.status, 0, reuse.stderr);
      assert.equal(reuse.stdout, 'Login Succeeded\n');

      const store = await ContentStore.open(join(a.TSDOCK_ROOT!, 'images'));
      await importBusybox(store, 'busybox:latest');
      const local = await store.resolve('busybox:latest');
      const pushed = await run('tspush', ['busybox:latest', `${reg.host}/carol/bb:v1`], a);
      assert.equal(pushed.status, 0, pushed.stderr);
      const lines = pushed.stdout.trim().split('\n');
      assert.equal(lines[0], `The push refers to repository [${reg.host}/carol/bb]`);
      assert.equal(lines.at(-1), `v1: digest: ${local.digest} size: ${local.size}`);
      assert.ok(
        lines.some((l) => /^[0-9a-f]{12}: Pushed$/.test(l)),
        pushed.stdout,
      );
      // -q: only the pushed reference, as docker push -q
      const quiet = await run('tspush', ['-q', 'busybox:latest', `${reg.host}/carol/bb:v2`], a);
      assert.equal(quiet.status, 0, quiet.stderr);
      assert.equal(quiet.stdout, `${reg.host}/carol/bb:v2\n`);

      const insp = await exec(
        'skopeo',
        [
          'inspect',
          '--tls-verify=false',
          '--creds',
          `carol:${users.carol}`,
          `docker://${reg.host}/carol/bb:v1`,
        ],
        process.env,
      );
      assert.equal(insp.status, 0, insp.stderr);
      assert.equal((JSON.parse(insp.stdout) as { Digest: string }).Digest, local.digest);

      const b = env(dir, 'root-b');
      const pulled = await run('tspull', [`${reg.host}/carol/bb:v1`], b);
      assert.equal(pulled.status, 0, pulled.stderr);
      assert.match(pulled.stdout, /^v1: Pulling from 127\.0\.0\.1:\d+\/carol\/bb\n/);
      assert.match(pulled.stdout, new RegExp(`Digest: ${local.digest}\n`));
      assert.match(
        pulled.stdout,
        /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/carol\/bb:v1\n127\.0\.0\.1:\d+\/carol\/bb:v1\n$/,
      );
      const storeB = await ContentStore.open(join(b.TSDOCK_ROOT!, 'images'));
      assert.equal((await storeB.resolve(`${reg.host}/carol/bb:v1`)).digest, local.digest);
      const again = await run('tspull', ['-q', `${reg.host}/carol/bb:v1`], b);
      assert.equal(again.stdout, `${reg.host}/carol/bb:v1\n`);

      const out = await run('tslogout', [reg.host], a);
      assert.equal(out.stdout, `Removing login credentials for ${reg.host}\n`);
      const denied = await run('tspull', [`${reg.host}/carol/bb:v1`], env(dir, 'root-c'));
      assert.equal(denied.status, 125);
      assert.match(
        denied.stderr,
        /^tspull: pull access denied for 127\.0\.0\.1:\d+\/carol\/bb, repository does not exist or may require 'tslogin'/,
      );
      assert.equal(denied.stderr.trim().split('\n').length, 1);

      // Credentials from `docker login` (Docker's config.json) work too.
      writeFileSync(
        join(dir, 'docker-config', 'config.json'),
        JSON.stringify({
          auths: { [reg.host]: { auth: Buffer.from(`carol:${users.carol}`).toString('base64') } },
        }),
      );
      const viaDocker = await run('tspull', ['-q', `${reg.host}/carol/bb:v1`], env(dir, 'root-d'));
      assert.equal(viaDocker.status, 0, viaDocker.stderr);
      rmSync(join(dir, 'docker-config', 'config.json'));
    });
  });
}
