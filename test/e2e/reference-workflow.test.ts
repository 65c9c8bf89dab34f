// The reference workflow end to end (bin/demo/reference-workflow.ts) in a temp root with free ports, then interop with the
// peers: docker pulls and runs what tspush pushed, skopeo copies it with the same digests, and an
// image pushed by `docker push` is pulled and run by tspull/tsrun. Needs root (containers, dockerd).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runReferenceWorkflow, type WorkflowResult } from '../../bin/demo/reference-workflow.js';
import { Tools } from '../../bin/demo/run-tools.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { peerUnavailable, requirePeer } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'tsdock-e2e-'));
const root = join(dir, 'root');
const env = { ...process.env, TSDOCK_ROOT: root, TSDOCK_CONFIG: join(dir, 'config') };
const lines: string[] = [];
const tools = new Tools(env, (l) => lines.push(l));
let result: WorkflowResult | undefined;
let dockerd: Dockerd | undefined;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port p with p and p+1 free on 127.0.0.1. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await canBind(p)) && (await canBind(p + 1))) return p;
  }
  throw new Error('no free port pair');
}

function unmountUnder(path: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(path))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}

before(async () => {
  const registryPort = await freePortPair();
  let hostPort = await freePortPair();
  while (Math.abs(hostPort - registryPort) < 2) hostPort = await freePortPair();
  try {
    result = await runReferenceWorkflow({
      root,
      configDir: join(dir, 'config'),
      registryPort,
      hostPort,
      dataDir: dir,
      log: (l) => lines.push(l),
      keepRegistry: true,
    });
  } catch (err) {
    console.log(lines.join('\n'));
    throw err;
  }
});

after(async () => {
  for (const c of ['p1', 'p1-named', 'p1-limits', 'from-docker'])
    tools.run('tsrm', ['-f', c], { allowFail: true, quiet: true });
  await dockerd?.close();
  await result?.registry.stop();
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
});

test('the reference workflow passes every step', () => {
  const r = result!;
  assert.equal(r.steps.length, 12);
  assert.match(r.greeting, /^Hello World!/m);
  assert.match(r.greeting, new RegExp(`Hostname: ${r.hostname}`));
  assert.match(r.greetingNamed, /^Hello tsdock!/m);
  assert.ok(r.pid > 1);
  assert.deepEqual(r.namespaces, ['pid', 'mnt', 'uts', 'net']);
  assert.equal(r.pulledOutput.trim(), 'changed');
  assert.equal(r.volumeOutput.trim(), 'persisted');
  assert.deepEqual(r.cgroup, { cpuQuota: 20000, cpuPeriod: 100000, memoryLimit: 64 << 20 });
  assert.match(r.registry.host, /^127\.0\.0\.1:\d+$/);
  assert.equal(r.registry.username, 'admin', 'a fresh root creates the admin user');
  // The tools see the pushed image by its registry digest.
  const digests = tools.run('tsinspect', ['--format', '{{json .RepoDigests}}', r.pushedRef]);
  assert.match(digests.stdout, /@sha256:[0-9a-f]{64}/);
});

test('skopeo copies the pushed image with the same digests', (t) => {
  const r = result!;
  if (!requirePeer(t, 'skopeo')) return;
  const creds = `${r.registry.username}:${r.registry.password}`;
  const oci = join(dir, 'skopeo-oci');
  const copy = spawnSync(
    'skopeo',
    [
      'copy',
      '--src-creds',
      creds,
      '--src-tls-verify=false',
      `docker://${r.pushedRef}`,
      `oci:${oci}:v2`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(copy.status, 0, copy.stderr);
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const repoDigest = tools.run('tsinspect', ['--format', '{{json .RepoDigests}}', r.pushedRef]);
  const pushed = /@(sha256:[0-9a-f]{64})/.exec(repoDigest.stdout)?.[1];
  assert.equal(index.manifests[0]?.digest, pushed, 'skopeo got the manifest tspush pushed');
  const verify = spawnSync('sh', ['-c', `cd ${oci}/blobs/sha256 && sha256sum * | awk '$1 != $2'`], {
    encoding: 'utf8',
  });
  assert.equal(verify.stdout, '', 'every blob matches its name');
});

test('docker pulls and runs what tspush pushed; tspull runs what docker pushed', async (t) => {
  const r = result!;
  const started = await startDockerd({ insecureRegistries: [r.registry.host] });
  if (!started.ok) return peerUnavailable(t, started.reason);
  dockerd = started.dockerd;
  const docker = (args: string[], input?: string) => {
    const res = dockerd!.docker(args, { input });
    assert.equal(res.status, 0, `docker ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  docker(
    ['login', '-u', r.registry.username, '--password-stdin', r.registry.host],
    r.registry.password,
  );
  docker(['pull', r.pushedRef]);
  assert.equal(
    docker(['run', '--rm', '--network', 'none', r.pushedRef, 'cat', '/app/x']).trim(),
    'changed',
  );
  assert.equal(
    docker([
      'run',
      '--rm',
      '--network',
      'none',
      r.pushedRef,
      'sh',
      '-c',
      'echo Hello $NAME',
    ]).trim(),
    'Hello World',
  );

  // docker makes an image of its own from the busybox-based one and pushes it into our registry.
  const fromDocker = `${r.registry.host}/team/from-docker:v1`;
  docker([
    'run',
    '--name',
    'mk',
    '--network',
    'none',
    r.pushedRef,
    'sh',
    '-c',
    'echo made-by-docker > /made',
  ]);
  docker(['commit', 'mk', fromDocker]);
  docker(['rm', 'mk']);
  docker(['push', fromDocker]);
  tools.run('tspull', ['--progress', 'plain', fromDocker]);
  const out = tools.run('tsrun', ['--rm', fromDocker, 'sh', '-c', 'cat /made /app/x']).stdout;
  assert.equal(out, 'made-by-docker\nchanged\n');
});
