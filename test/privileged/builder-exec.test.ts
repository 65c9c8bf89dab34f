// tsbuild execution read back from the built images: FROM --platform and COPY --from=<image>
// picking from a multi-arch index, independent stages running at the same time, --target
// pruning, COPY --chmod/--chown in the layer tar, and RUN's cgroup limits (--memory, pids).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ContentStore } from '../../shared/store/content-store.js';
import { MediaType } from '../../shared/media-types.js';
import { digestOf } from '../../shared/digest.js';
import { encodeHeader, padding, trailer } from '../../shared/tar/tar-format.js';
import { readTar } from '../../shared/tar/tar-reader.js';
import { hostPlatform } from '../../builder/plan/build-args.js';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  run,
  TSBUILD,
  tsbuild,
  unpack,
  type BuildRoot,
  writeContext,
} from '../helpers/builder-run.js';
import { leftoverCgroups } from './runner-helpers.js';

let br: BuildRoot;
let work: string;
const host = hostPlatform().architecture;
const other = host === 'arm64' ? 'amd64' : 'arm64';

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
});
after(async () => {
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const context = (name: string, files: Record<string, string>): Promise<string> =>
  writeContext(work, name, files);

async function readFrom(ref: string, path: string): Promise<string> {
  const u = await unpack(br, fullRef(ref));
  try {
    return readFileSync(join(u.rootfs, path), 'utf8');
  } finally {
    await u.close();
  }
}

/** Tags `ref` as an index of two one-layer images (host arch and another) whose /plat names it. */
async function multiArchIndex(ref: string): Promise<void> {
  const store = await ContentStore.open(br.layout);
  const manifests = [];
  for (const architecture of [host, other]) {
    const body = Buffer.from(`${architecture}\n`);
    const layer = Buffer.concat([
      encodeHeader({
        path: 'plat',
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: body.length,
        mtime: 0,
      }),
      body,
      padding(body.length),
      trailer(),
    ]);
    const l = await store.writeBlob(layer);
    const config = await store.putJson(
      {
        architecture,
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [digestOf(layer)] },
        history: [{ created_by: `plat ${architecture}` }],
      },
      MediaType.OciConfig,
    );
    const m = await store.putJson(
      {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config,
        layers: [{ mediaType: MediaType.OciLayer, digest: l.digest, size: l.size }],
      },
      MediaType.OciManifest,
    );
    manifests.push({ ...m, platform: { os: 'linux', architecture } });
  }
  const index = await store.putJson(
    { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests },
    MediaType.OciIndex,
  );
  await store.tag(ref, index);
}

test('FROM --platform picks that platform out of an index; --platform sets the default', async () => {
  await multiArchIndex('multi:1');
  const dir = await context('from-platform', {
    Dockerfile: [
      `FROM --platform=linux/${other} multi:1 AS foreign`,
      'FROM multi:1 AS native',
      'FROM scratch',
      'COPY --from=foreign /plat /foreign',
      'COPY --from=native /plat /native',
      '',
    ].join('\n'),
  });
  const res = tsbuild(br, ['-t', 'plat:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.equal(await readFrom('plat:1', 'foreign'), `${other}\n`);
  assert.equal(await readFrom('plat:1', 'native'), `${host}\n`);

  const t = tsbuild(br, ['-t', 'plat:foreign', '--target', 'foreign', dir]);
  assert.equal(t.status, 0, t.stderr);
  assert.equal(inspectConfig(br, fullRef('plat:foreign')).architecture, other);
  assert.equal(await readFrom('plat:foreign', 'plat'), `${other}\n`);

  const cli = await context('cli-platform', { Dockerfile: 'FROM multi:1\n' });
  const c = tsbuild(br, ['-t', 'plat:cli', '--platform', `linux/${other}`, cli]);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(inspectConfig(br, fullRef('plat:cli')).architecture, other);
  assert.equal(await readFrom('plat:cli', 'plat'), `${other}\n`);
});

test("COPY --from=<image> uses the build's platform, not the stage's FROM --platform (as BuildKit)", async () => {
  await multiArchIndex('multi:2');
  const dir = await context('copy-from-platform', {
    Dockerfile: [
      `FROM --platform=linux/${other} multi:2`,
      'COPY --from=multi:2 /plat /copied',
      '',
    ].join('\n'),
  });
  const res = tsbuild(br, ['-t', 'cfp:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.equal(await readFrom('cfp:1', 'plat'), `${other}\n`, 'the base follows FROM --platform');
  assert.equal(await readFrom('cfp:1', 'copied'), `${host}\n`, 'COPY --from the build platform');
  const cli = await context('copy-from-cli', {
    Dockerfile: 'FROM scratch\nCOPY --from=multi:2 /plat /copied\n',
  });
  const c = tsbuild(br, ['-t', 'cfp:2', '--platform', `linux/${other}`, cli]);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(await readFrom('cfp:2', 'copied'), `${other}\n`);
});

test('independent stages run at the same time; --target builds only what it needs', async () => {
  // Each RUN leaves its marker in a shared cache mount and waits for the other's: run one after
  // the other, the first would give up after 20 s and fail the build.
  const id = `conc-${randomBytes(4).toString('hex')}`;
  const wait = (mine: string, theirs: string) =>
    `RUN --mount=type=cache,id=${id},target=/c touch /c/${mine}; i=0; while [ ! -e /c/${theirs} ]; do i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.1; done; echo ${mine} > /done`;
  const dir = await context('concurrent', {
    Dockerfile: [
      'FROM busybox AS a',
      wait('a', 'b'),
      'FROM busybox AS b',
      wait('b', 'a'),
      'FROM busybox AS unrelated',
      'RUN echo UNRELATED-RAN; exit 7',
      'FROM scratch AS both',
      'COPY --from=a /done /a',
      'COPY --from=b /done /b',
      'FROM both AS later',
      'RUN echo LATER-RAN; exit 8',
      '',
    ].join('\n'),
  });
  const started = Date.now();
  const res = tsbuild(br, ['-t', 'conc:1', '--target', 'both', dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.ok(Date.now() - started < 20_000, 'neither RUN waited for its timeout');
  assert.equal(await readFrom('conc:1', 'a'), 'a\n');
  assert.equal(await readFrom('conc:1', 'b'), 'b\n');
  for (const s of ['UNRELATED', '[unrelated', 'LATER', '[later'])
    assert.ok(!res.stderr.includes(s), `stage not needed by --target ran: ${s}\n${res.stderr}`);

  // Timing as a second witness: each `sleep 1` notes when it ran (/proc/uptime is the host's
  // clock); run one after the other, the two intervals could not overlap.
  const span =
    'RUN read t _ < /proc/uptime; echo $t > /s; sleep 1; read t _ < /proc/uptime; echo $t > /e';
  const timed = await context('timed', {
    Dockerfile: [
      'FROM busybox AS x',
      span,
      'FROM busybox AS y',
      span,
      'FROM scratch',
      'COPY --from=x /s /xs',
      'COPY --from=x /e /xe',
      'COPY --from=y /s /ys',
      'COPY --from=y /e /ye',
      '',
    ].join('\n'),
  });
  const tr = tsbuild(br, ['-t', 'timed:1', '--no-cache', timed]);
  assert.equal(tr.status, 0, tr.stderr);
  const u = await unpack(br, fullRef('timed:1'));
  try {
    const t = (f: string) => Number(readFileSync(join(u.rootfs, f), 'utf8'));
    const [xs, xe, ys, ye] = ['xs', 'xe', 'ys', 'ye'].map(t) as [number, number, number, number];
    assert.ok(xe - xs >= 1 && ye - ys >= 1, `each RUN slept: ${[xs, xe, ys, ye]}`);
    assert.ok(Math.max(xs, ys) < Math.min(xe, ye), `the RUNs overlapped: ${[xs, xe, ys, ye]}`);
  } finally {
    await u.close();
  }
});

interface TarHeader {
  type: string;
  mode: number;
  uid: number;
  gid: number;
}

/** The entries of the image's layers from `first` on (0-based), by path, read from the blobs. */
async function layerHeaders(ref: string, first: number): Promise<Map<string, TarHeader>> {
  const manifest = JSON.parse(
    run('skopeo', ['inspect', '--raw', `oci:${br.layout}:${fullRef(ref)}`]),
  ) as { layers: { digest: string; mediaType: string }[] };
  const out = new Map<string, TarHeader>();
  for (const l of manifest.layers.slice(first)) {
    const blob = readFileSync(join(br.layout, 'blobs', 'sha256', l.digest.slice(7)));
    const src = Readable.from([blob]);
    const plain = l.mediaType.endsWith('gzip') ? src.pipe(createGunzip()) : src;
    for await (const { header: h } of readTar(plain)) {
      out.set(h.path.replace(/^\.?\/+/, ''), {
        type: h.type,
        mode: h.mode & 0o7777,
        uid: h.uid,
        gid: h.gid,
      });
    }
  }
  return out;
}

test('COPY --chmod and --chown: modes and owner numbers in the layer tar', async () => {
  const dir = await context('chmod-chown', {
    Dockerfile: [
      'FROM busybox',
      'COPY --chmod=750 --chown=1234:5678 tool.sh /opt/tool.sh',
      'COPY --chmod=640 --chown=nobody:nobody tree/ /opt/tree/',
      'COPY --chown=42 plain.txt /opt/',
      'COPY plain.txt /opt/root.txt',
      '',
    ].join('\n'),
    'tool.sh': '#!/bin/sh\n',
    'tree/a.txt': 'a\n',
    'tree/sub/b.txt': 'b\n',
    'plain.txt': 'p\n',
  });
  run('chmod', ['600', join(dir, 'plain.txt')]);
  const res = tsbuild(br, ['-t', 'chown:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  const baseLayers = (inspectConfig(br, fullRef('busybox:latest')).rootfs as { diff_ids: string[] })
    .diff_ids.length;
  const h = await layerHeaders('chown:1', baseLayers);
  const got = (p: string) => {
    const e = h.get(p);
    assert.ok(e, `${p} in the layers: ${[...h.keys()].join(' ')}`);
    return [e.mode.toString(8), e.uid, e.gid];
  };
  assert.deepEqual(got('opt/tool.sh'), ['750', 1234, 5678]);
  assert.deepEqual(got('opt/tree/a.txt'), ['640', 65534, 65534]);
  assert.deepEqual(got('opt/tree/sub/b.txt'), ['640', 65534, 65534]);
  assert.deepEqual(got('opt/tree/sub'), ['640', 65534, 65534], '--chmod applies to directories');
  assert.deepEqual(got('opt/plain.txt'), ['600', 42, 42], 'a lone uid is also the gid');
  assert.deepEqual(got('opt/root.txt'), ['600', 0, 0], 'no --chown: root, the file mode kept');
  // and as the unpacked image has them (umoci as root keeps owners)
  const u = await unpack(br, fullRef('chown:1'));
  try {
    const st = statSync(join(u.rootfs, 'opt/tool.sh'));
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o750, 1234, 5678]);
  } finally {
    await u.close();
  }
});

test('RUN runs in a cgroup with the --memory and default pids limits; the memory limit bites', async () => {
  const dir = await context('limits', {
    Dockerfile: 'FROM busybox\nRUN echo limits-started; sleep 4\n',
  });
  const child = spawn(
    process.execPath,
    [TSBUILD, '--progress=plain', '--no-cache', '--memory', '96m', '-t', 'limits:1', dir],
    { env: br.env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = once(child, 'exit');
  try {
    for (let i = 0; i < 150 && !/[\d.]+ limits-started/.test(log); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(log, /[\d.]+ limits-started/);
    const dirs = leftoverCgroups('tsbuild-').filter((d) => d.endsWith(`-${child.pid}`));
    assert.ok(dirs.length > 0, 'the RUN cgroup is under tsdock/');
    const file = (name: string) => {
      const p = dirs.map((d) => join(d, name)).find((f) => existsSync(f));
      assert.ok(p, `${name} in ${dirs.join(' ')}`);
      return readFileSync(p, 'utf8').trim();
    };
    const v2 = dirs.length === 1 && existsSync(join(dirs[0]!, 'cgroup.controllers'));
    assert.equal(file(v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(96 * 1024 * 1024));
    assert.equal(file('pids.max'), '4096');
    // the RUN's own processes are the ones in it
    const procs = file('cgroup.procs').split('\n').filter(Boolean);
    const cmds = procs.map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '));
    assert.ok(
      cmds.some((c) => c.includes('sleep 4')),
      `the RUN is in the cgroup: ${cmds.join(' | ')}`,
    );
  } finally {
    const [code] = (await exited) as [number];
    assert.equal(code, 0, log);
  }
  // Enforced: dd's 150 MiB buffer does not fit in 64m (no swap beyond the limit), fits without.
  const dd = await context('oom', {
    Dockerfile: 'FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=150M count=1\n',
  });
  const limited = tsbuild(br, ['-t', 'oom:1', '--no-cache', '--memory', '64m', dd]);
  assert.notEqual(limited.status, 0, limited.stderr);
  assert.match(limited.stderr, /exit code: 137/);
  const free = tsbuild(br, ['-t', 'oom:2', '--no-cache', dd]);
  assert.equal(free.status, 0, free.stderr);
});
