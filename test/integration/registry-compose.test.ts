// docker-compose.yml for real (it runs the registry with a persistent volume and a config
// file): Debian's docker-compose 1.29 runs the repository's
// own compose file, unchanged, against a private dockerd (test/helpers/dockerd.ts), building
// registry/Dockerfile from a local Node base image (no internet here) given as
// TSREGISTRY_BASE_IMAGE, published on a free port given as TSREGISTRY_PORT. An image pushed with
// skopeo survives `down` + `up` (the named volume), and what registry/compose-config.yml sets is
// observable: token auth (service "tsregistry", no anonymous pull), http.addr 0.0.0.0:5000, data
// in storage.filesystem.rootdirectory = the volume, JSON logs.
//
// Networking: the helper's dockerd runs with --bridge=none --iptables=false. --bridge=none only
// drops the default docker0 bridge; compose's "<project>_default" network is a user-defined bridge,
// which that dockerd still creates (a br-<id> interface and a veth pair, and no firewall rules
// since iptables is off), and the published port is served by docker-proxy on 127.0.0.1. So the
// compose file runs as written, with no override. `down` removes the bridge; if the test fails
// before that, the finally block deletes the br-<id> interface it created (dockerd's data root
// goes away with close(), the interface would not).
// Skipped with a reason when docker-compose, skopeo or dockerd is missing or dockerd cannot start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blobDataPath } from '../../registry/paths.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { importNodeBase, repo } from '../helpers/node-base-image.js';
import { makeImage, sha256, tarLayer, writeOciLayout } from '../helpers/registry-server.js';
import { peerUnavailable, requirePeer } from '../helpers/peers.js';

/** A port nobody listens on right now (the kernel's pick), for TSREGISTRY_PORT. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * Polls /healthz. Each probe has its own timeout: until the registry listens, docker-proxy accepts
 * and at once closes the connection, and Node 20's fetch can then wait forever (seen here: the
 * first fetch to a server that accepts and closes never settles; an AbortSignal ends it).
 */
async function waitHealthy(url: string, log: () => string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`no /healthz at ${url} within 30 s:\n${log()}`);
}

test(
  'docker-compose.yml: up --build, push, down + up keeps the image, config file in effect',
  { timeout: 420_000 },
  async (t) => {
    if (!requirePeer(t, 'docker-compose', 'skopeo')) return;
    const started = await startDockerd({});
    if (!started.ok) return peerUnavailable(t, started.reason);
    const d: Dockerd = started.dockerd;
    const dir = mkdtempSync(join(tmpdir(), 'tsreg-compose-'));
    const project = `tsregcompose${process.pid}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...d.env,
      TSREGISTRY_BASE_IMAGE: 'local/node-base:20',
      TSREGISTRY_PORT: String(port),
    };
    const composeFile = join(repo, 'docker-compose.yml');
    const composeRun = (args: string[], o: { input?: string; timeoutMs?: number } = {}) =>
      spawnSync('docker-compose', ['-f', composeFile, '-p', project, ...args], {
        cwd: repo,
        env,
        encoding: 'utf8',
        input: o.input,
        timeout: o.timeoutMs ?? 120_000,
      });
    const compose = (args: string[], o: { input?: string; timeoutMs?: number } = {}) => {
      const r = composeRun(args, o);
      assert.equal(r.status, 0, `docker-compose ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const logs = () => composeRun(['logs', '--no-color']).stdout;
    const containerId = () => compose(['ps', '-q', 'registry']).trim();
    const volume = `${project}_registry-data`;
    const password = 'compose-pw';
    const creds = `ci:${password}`;
    const ref = `docker://127.0.0.1:${port}/team/hello:v1`;
    const skopeo = (args: string[]) => {
      const r = spawnSync('skopeo', args, { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    let bridge: string | undefined;
    const began = Date.now();
    try {
      importNodeBase(d, dir, 'local/node-base:20');
      compose(['up', '-d', '--build'], { timeoutMs: 300_000 });
      const built = Date.now();
      const network = d.docker(['network', 'inspect', `${project}_default`, '-f', '{{.Id}}']);
      assert.equal(network.status, 0, network.stderr);
      bridge = `br-${network.stdout.trim().slice(0, 12)}`;
      await waitHealthy(url, logs);

      // The config file is the repository's, bind-mounted read-only; the data is the named volume.
      const first = containerId();
      const inspect = d.docker(['inspect', first, '-f', '{{json .Mounts}}']);
      assert.equal(inspect.status, 0, inspect.stderr);
      const mounts = JSON.parse(inspect.stdout) as Array<{
        Type: string;
        Name?: string;
        Source: string;
        Destination: string;
        RW: boolean;
      }>;
      const byDest = new Map(mounts.map((m) => [m.Destination, m]));
      const config = byDest.get('/etc/tsregistry/config.yml');
      assert.equal(config?.Type, 'bind');
      assert.equal(config.Source, join(repo, 'registry', 'compose-config.yml'));
      assert.equal(config.RW, false, 'mounted read-only');
      assert.equal(byDest.get('/var/lib/tsregistry')?.Name, volume);

      // auth.token from compose-config.yml: a Bearer challenge for service "tsregistry", no
      // anonymous pull; the realm follows the Host the client used (the published port).
      let res = await fetch(`${url}/v2/`);
      assert.equal(res.status, 401);
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer realm="${url}/token",service="tsregistry"`,
      );
      // http.addr 0.0.0.0:5000 (the embedded default is 127.0.0.1, unreachable through the
      // published port) and JSON logs (log.formatter: json).
      const listening = logs()
        .split('\n')
        .map((l) => l.replace(/^[^|]*\|\s?/, ''))
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string; addr?: string; auth?: string; level?: number })
        .find((l) => l.msg === 'listening');
      assert.deepEqual(
        { addr: listening?.addr, auth: listening?.auth, level: listening?.level },
        { addr: '0.0.0.0:5000', auth: 'token', level: 30 },
      );

      // A user (as compose-config.yml's header says), then a push with skopeo.
      compose(
        [
          'exec',
          '-T',
          'registry',
          'node',
          '/opt/tsdock/dist/bin/tsregistry.js',
          'user',
          'add',
          'ci',
          '--password-stdin',
          '--config',
          '/etc/tsregistry/config.yml',
        ],
        { input: `${password}\n`, timeoutMs: 60_000 },
      );
      const img = makeImage([await tarLayer('hello.txt', 'hello from docker-compose\n')]);
      writeOciLayout(join(dir, 'layout'), 'v1', img);
      skopeo([
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${join(dir, 'layout')}:v1`,
        ref,
      ]);
      // storage.filesystem.rootdirectory is the volume: the manifest and the users file are there.
      const mountpoint = d
        .docker(['volume', 'inspect', volume, '-f', '{{.Mountpoint}}'])
        .stdout.trim();
      assert.deepEqual(readFileSync(join(mountpoint, blobDataPath(img.digest))), img.manifest);
      assert.match(readFileSync(join(mountpoint, 'auth', 'users.json'), 'utf8'), /"ci"/);

      // down without -v: the container and network go, the volume stays.
      compose(['down'], { timeoutMs: 60_000 });
      assert.equal(d.docker(['ps', '-aq']).stdout.trim(), '');
      assert.equal(
        d.docker(['volume', 'ls', '-q', '--filter', `name=${volume}`]).stdout.trim(),
        volume,
      );
      assert.notEqual(spawnSync('ip', ['link', 'show', bridge]).status, 0, `${bridge} left`);

      // up again (no --build): a new container serves the same image and the same user.
      compose(['up', '-d']);
      await waitHealthy(url, logs);
      assert.notEqual(containerId(), first, 'a new container');
      const raw = skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, ref]);
      assert.equal(raw, img.manifest.toString());
      skopeo([
        'copy',
        '--preserve-digests',
        '--src-tls-verify=false',
        '--src-creds',
        creds,
        ref,
        `oci:${join(dir, 'back')}:v1`,
      ]);
      const layer = join(dir, 'back', 'blobs', 'sha256', sha256(img.layers[0]!).slice(7));
      assert.deepEqual(readFileSync(layer), img.layers[0], 'the layer pulled back');
      res = await fetch(`${url}/v2/team/hello/manifests/v1`);
      assert.equal(res.status, 401, 'still no anonymous pull');

      // Clean up: --rmi all, since `--rmi local` keeps images named by `image:` (tsregistry:latest).
      compose(['down', '-v', '--rmi', 'all'], { timeoutMs: 60_000 });
      assert.equal(d.docker(['ps', '-aq']).stdout.trim(), '');
      assert.equal(
        d
          .docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])
          .stdout.trim(),
        '',
      );
      assert.equal(
        d
          .docker([
            'network',
            'ls',
            '-q',
            '--filter',
            `label=com.docker.compose.project=${project}`,
          ])
          .stdout.trim(),
        '',
      );
      assert.equal(d.docker(['images', '-q', 'tsregistry']).stdout.trim(), '');
      t.diagnostic(
        `build + first up ${((built - began) / 1000).toFixed(1)} s, whole run ${((Date.now() - began) / 1000).toFixed(1)} s`,
      );
    } finally {
      composeRun(['down', '-v', '--rmi', 'all'], { timeoutMs: 60_000 });
      await d.close();
      if (bridge && spawnSync('ip', ['link', 'show', bridge]).status === 0)
        spawnSync('ip', ['link', 'delete', bridge]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
