// A two-platform build whose RUN runs the arm64 busybox under QEMU user emulation (binfmt_misc
// with the fix-binary flag), pushed as an index to tsregistry with --push, then judged by peers:
// skopeo sees the index and each platform's config, each image holds what its RUN printed
// (`uname -m`), tsrun --platform and docker run the arm64 image through the same emulation. Also: the one-line
// error when a platform cannot be emulated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../shared/store/content-store.js';
import { emulationStatus } from '../../shared/emulation.js';
import { currentPlatform } from '../../shared/platform.js';
import {
  makeBuildRoot,
  run,
  tsbuild,
  writeContext,
  type BuildRoot,
} from '../helpers/builder-run.js';
import { importBusyboxIndex, pushBusyboxIndex } from '../helpers/busybox-multiarch.js';
import { ensureEmulation, type Emulation } from '../helpers/emulation.js';
import { readPlatformFile } from '../helpers/platform-file.js';
import { spawnRegistry, type RegistryProcess } from '../helpers/registry-server.js';
import { startDockerd } from '../helpers/dockerd.js';
import { tsCommand } from './runner-helpers.js';
import { peerUnavailable } from '../helpers/peers.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
let br: BuildRoot;
let work: string;
let reg: RegistryProcess;
let emulation: Emulation | { reason: string };

before(async () => {
  br = await makeBuildRoot();
  await importBusyboxIndex(await ContentStore.open(br.layout), 'busybox:latest');
  work = await mkdtemp(join(tmpdir(), 'tsbuild-emulation-'));
  reg = await spawnRegistry(join(work, 'registry'));
  emulation = await ensureEmulation([ARM64]);
});
after(async () => {
  if ('release' in emulation) await emulation.release();
  await reg?.stop();
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A file of the `arch` image of the pushed index `ref`. */
const pushedFile = (ref: string, arch: string, path: string): Promise<string> =>
  readPlatformFile(`docker://${ref}`, `linux/${arch}`, path, work);

const DOCKERFILE = 'FROM busybox\nRUN uname -m > /arch && ls /bin/busybox\nCMD ["uname", "-m"]\n';

test('RUN of an arm64 stage runs under QEMU; --push sends the index; skopeo and docker read it', async (t) => {
  if ('reason' in emulation) return peerUnavailable(t, emulation.reason);
  if (currentPlatform().architecture !== 'amd64') return t.skip('the busybox index is amd64+arm64');
  const ctx = await writeContext(work, 'uname', { Dockerfile: DOCKERFILE });
  const ref = `${reg.host}/multi/busybox:1`;
  const r = tsbuild(br, [
    '--network=none',
    '--platform',
    'linux/amd64,linux/arm64',
    '-t',
    ref,
    '--push',
    ctx,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const raw = JSON.parse(
    run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]),
  );
  assert.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(
    raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture),
    ['amd64', 'arm64'],
  );
  const arm = JSON.parse(
    run('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${ref}`]),
  );
  assert.equal(arm.Architecture, 'arm64');
  assert.equal(await pushedFile(ref, 'arm64', 'arch'), 'aarch64\n');
  assert.equal(await pushedFile(ref, 'amd64', 'arch'), 'x86_64\n');

  // tsrun picks the platform from the index; the arm64 one runs under the same emulation
  const tsrun = (args: string[]) =>
    tsCommand(br.root, 'tsrun', ['--rm', '--network', 'none', ...args, ref], { timeout: 60_000 });
  const arm64Run = tsrun(['--platform', 'linux/arm64']);
  assert.equal(arm64Run.code, 0, arm64Run.stderr);
  assert.equal(arm64Run.stdout, 'aarch64\n');
  assert.equal(tsrun([]).stdout, 'x86_64\n');
  // a container of the arm64 image is committed as an arm64 image
  const name = `arm64-${process.pid}`;
  const detached = ['-d', '--name', name, '--network', 'none', '--platform', 'linux/arm64'];
  const started = tsCommand(br.root, 'tsrun', [...detached, ref, 'sleep', '60']);
  assert.equal(started.code, 0, started.stderr);
  const committed = tsCommand(br.root, 'tscommit', [name, 'committed:arm64']);
  tsCommand(br.root, 'tsrm', ['-f', name]);
  assert.equal(committed.code, 0, committed.stderr);
  const arch = tsCommand(br.root, 'tsinspect', [
    '--type',
    'image',
    '-f',
    '{{.Architecture}}',
    'committed:arm64',
  ]);
  assert.equal(arch.stdout, 'arm64\n', arch.stderr);
  const tree = tsCommand(br.root, 'tsimages', ['--tree']).stdout;
  assert.match(tree, /├─ linux\/amd64 .*\n└─ linux\/arm64 /);

  const d = await startDockerd({ insecureRegistries: [reg.host] });
  if (!d.ok) return peerUnavailable(t, d.reason);
  try {
    const out = d.dockerd.docker(
      ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', ref],
      {
        timeoutMs: 120_000,
      },
    );
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, 'aarch64\n');
  } finally {
    await d.dockerd.close();
  }
});

test('FROM an image pulled for this machine: the arm64 stage takes arm64 from its index', async (t) => {
  if ('reason' in emulation) return peerUnavailable(t, emulation.reason);
  if (currentPlatform().architecture !== 'amd64') return t.skip('the busybox index is amd64+arm64');
  const base = `${reg.host}/base/busybox:1`;
  await pushBusyboxIndex(base);
  const pulled = tsCommand(br.root, 'tspull', [base], { timeout: 60_000 });
  assert.equal(pulled.code, 0, pulled.stderr);
  const ctx = await writeContext(work, 'pulled', {
    Dockerfile: `FROM ${base}\nRUN uname -m > /arch\n`,
  });
  const r = tsbuild(br, [
    '--network=none',
    '--platform',
    'linux/amd64,linux/arm64',
    '-t',
    'pulled',
    ctx,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /InvalidBaseImagePlatform/);
  const stored = `oci:${br.layout}:docker.io/library/pulled:latest`;
  assert.equal(await readPlatformFile(stored, 'linux/arm64', 'arch', work), 'aarch64\n');
  assert.equal(await readPlatformFile(stored, 'linux/amd64', 'arch', work), 'x86_64\n');
  // the tag still names this machine's image; tsrun --platform finds arm64 through the index
  const ran = tsCommand(br.root, 'tsrun', [
    '--rm',
    '--network',
    'none',
    '--platform',
    'linux/arm64',
    base,
    'uname',
    '-m',
  ]);
  assert.equal(ran.stdout, 'aarch64\n', ran.stderr);
  assert.equal(
    tsCommand(br.root, 'tsrun', ['--rm', '--network', 'none', base, 'uname', '-m']).stdout,
    'x86_64\n',
  );
});

test('a platform that cannot be emulated stops the build at once with one line saying what to do', async (t) => {
  const s390x = { os: 'linux', architecture: 's390x' };
  if ((await emulationStatus(s390x)).ok) return t.skip('s390x is emulated on this machine');
  const ctx = await writeContext(work, 'foreign', { Dockerfile: DOCKERFILE });
  const r = tsbuild(br, ['--network=none', '--platform', 'linux/s390x', '-t', 'foreign', ctx]);
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0]!,
    /^tsbuild: Dockerfile:2: running linux\/s390x binaries needs QEMU user emulation, but .*: install qemu-user-static .*tsbuild --install-emulators/,
  );
  // without RUN it builds; tsrun then refuses it in one line, before making a container
  const files = { Dockerfile: 'FROM scratch\nCOPY f /f\nCMD ["/f"]\n', f: 'x' };
  const built = tsbuild(br, [
    '--platform',
    'linux/s390x',
    '-t',
    'foreign',
    await writeContext(work, 'copy', files),
  ]);
  assert.equal(built.status, 0, built.stderr);
  const ran = tsCommand(br.root, 'tsrun', ['--rm', '--network', 'none', 'foreign']);
  assert.equal(ran.code, 125);
  assert.match(
    ran.stderr,
    /^tsrun: running linux\/s390x binaries needs QEMU user emulation, but [^\n]*\n$/,
  );
});
