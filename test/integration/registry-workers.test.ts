// tsregistry with several worker processes on one socket (registry/cluster.ts), metadata in a
// real PostgreSQL (test/helpers/postgres.ts): skopeo pushes and pulls through the workers; a
// worker killed with SIGKILL during concurrent pushes is restarted by the primary, clients retry,
// and every acknowledged push is intact; SIGTERM drains every worker and exits 0; the primary
// killed takes its workers along. Two processes on one database: tags moved or deleted and
// manifests or links deleted through one are served so by the other (at once: see
// registry-replica-reads.test.ts for that with a slow notice path);
// GC in one while the other pushes loses no acknowledged push. With the embedded LevelDB, more
// than one worker is refused with one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresRegistryFixture } from '../helpers/postgres.js';
import {
  expectIntact,
  makeImage,
  pushRetrying,
  run,
  sha256,
  spawnRegistry,
  tsregistryBin,
  writeOciLayout,
  type TestImage,
} from '../helpers/registry-server.js';

const { server, tempDir, track } = postgresRegistryFixture('stop');

/** PIDs of the live child processes of `pid` (the workers of a primary). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 60_000; !(await cond());) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('more than one worker on the embedded LevelDB is refused with one line', async () => {
  const root = tempDir('tsreg-wlvl-');
  const config = join(root, 'config.yml');
  writeFileSync(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`);
  const r = await run(process.execPath, [tsregistryBin(), '--config', config, '--workers', '2']);
  assert.equal(r.status, 125, r.stderr);
  assert.match(r.stderr, /^tsregistry: 2 workers need metadata\.postgres.*\n$/);
});

test('2 workers: skopeo push and pull, a worker killed mid-push is restarted, SIGTERM drains', async () => {
  const root = tempDir('tsreg-wpg-');
  const work = tempDir('tsreg-wsk-');
  const dsn = await server().createDatabase('workers');
  const reg = await spawnRegistry(
    root,
    `metadata:\n  postgres:\n    dsn: ${dsn}\n    poolsize: 4\n`,
    ['--workers', '2'],
  );
  track(reg);
  const primary = reg.child.pid!;
  await until('two workers run', () => childrenOf(primary).length === 2);

  const img = makeImage([300_000, 1000]);
  writeOciLayout(join(work, 'in'), 'v1', img);
  const skopeo = (...args: string[]) => run('skopeo', args, { timeoutMs: 60_000 });
  let r = await skopeo(
    'copy',
    '--preserve-digests',
    '--dest-tls-verify=false',
    `oci:${join(work, 'in')}:v1`,
    `docker://${reg.host}/w/app:v1`,
  );
  assert.equal(r.status, 0, r.stderr);
  r = await skopeo(
    'copy',
    '--preserve-digests',
    '--src-tls-verify=false',
    `docker://${reg.host}/w/app:v1`,
    `oci:${join(work, 'out')}:v1`,
  );
  assert.equal(r.status, 0, r.stderr);
  const index = JSON.parse(readFileSync(join(work, 'out', 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string }>;
  };
  assert.equal(index.manifests[0]!.digest, img.digest);

  // 8 clients push in a loop; one worker is killed with SIGKILL while they do.
  const acked: Array<{ tag: string; img: TestImage }> = [];
  let pushing = true;
  const clients = Array.from({ length: 8 }, (_, c) =>
    (async () => {
      for (let i = 0; pushing; i++) {
        const one = makeImage([20_000, 3000]);
        await pushRetrying(reg.url, 'w/kill', `c${c}-${i}`, one);
        acked.push({ tag: `c${c}-${i}`, img: one });
      }
    })(),
  );
  await until('pushes go through', () => acked.length >= 8);
  const [victim] = childrenOf(primary);
  process.kill(victim!, 'SIGKILL');
  const before = acked.length;
  await until('pushes go on after the kill', () => acked.length >= before + 16);
  await until(
    'the primary starts a new worker',
    () => childrenOf(primary).length === 2 && !childrenOf(primary).includes(victim!),
  );
  pushing = false;
  await Promise.all(clients);
  assert.equal(reg.child.exitCode, null, 'the primary keeps running');
  for (const { tag, img: one } of acked) await expectIntact(reg.url, 'w/kill', tag, one);

  const workers = childrenOf(primary);
  await reg.stop();
  assert.equal(reg.child.exitCode, 0, 'SIGTERM: exit 0');
  for (const pid of workers) assert.ok(!childrenOf(1).includes(pid) && !alive(pid), 'worker gone');
});

test('the primary killed with SIGKILL takes its workers with it (nothing keeps the port)', async () => {
  const root = tempDir('tsreg-worph-');
  const dsn = await server().createDatabase('orphans');
  const yaml = `metadata:\n  postgres:\n    dsn: ${dsn}\n    poolsize: 2\n`;
  const reg = await spawnRegistry(root, yaml, ['--workers', '2']);
  track(reg);
  await until('two workers run', () => childrenOf(reg.child.pid!).length === 2);
  const workers = childrenOf(reg.child.pid!);
  await reg.kill9();
  await until('the workers exit', () => workers.every((pid) => !alive(pid)));
  const res = await fetch(`${reg.url}/v2/`).catch((err: Error) => err);
  assert.ok(res instanceof Error, 'nobody answers on the port');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('two processes on one database: tags moved and manifests or links deleted in one are seen by the other', async () => {
  const root = tempDir('tsreg-wcache-');
  const dsn = await server().createDatabase('caches');
  const yaml = `metadata:\n  postgres:\n    dsn: ${dsn}\n    poolsize: 4\n`;
  const a = await spawnRegistry(root, yaml, ['--workers', '1']);
  track(a);
  const b = await spawnRegistry(root, yaml, ['--workers', '1']);
  track(b);
  // Two processes on one storage root and one database, as two replicas (or workers) are.
  const digestOf = async (url: string, ref: string) => {
    const res = await fetch(`${url}/v2/c/app/manifests/${ref}`);
    await res.arrayBuffer();
    return res.status === 200 ? res.headers.get('docker-content-digest') : String(res.status);
  };
  const [one, two] = [makeImage([1000]), makeImage([2000])];
  await pushRetrying(a.url, 'c/app', 'v1', one);
  await pushRetrying(a.url, 'c/app', 'pinned', two);
  for (let i = 0; i < 3; i++) assert.equal(await digestOf(b.url, 'v1'), one.digest, 'b caches v1');
  assert.equal(await digestOf(b.url, two.digest), two.digest);
  // b drops its cached entries when a's notice arrives: a has heard it back before answering,
  // and PostgreSQL signals every listener at once, but on a loaded machine b's may come a few
  // milliseconds later (a wait until, not a margin).
  await pushRetrying(a.url, 'c/app', 'v1', two);
  await until('the tag moved through a is seen by b', async () => {
    return (await digestOf(b.url, 'v1')) === two.digest;
  });
  let res = await fetch(`${a.url}/v2/c/app/manifests/v1`, { method: 'DELETE' });
  assert.equal(res.status, 202);
  await until('the tag deleted through a is gone on b', async () => {
    return (await digestOf(b.url, 'v1')) === '404';
  });
  res = await fetch(`${a.url}/v2/c/app/manifests/${two.digest}`, { method: 'DELETE' });
  assert.equal(res.status, 202);
  await until('the manifest deleted through a, its tags', async () => {
    return (await digestOf(b.url, 'pinned')) === '404';
  });
  await until('the deleted manifest is gone on b', async () => {
    return (await digestOf(b.url, two.digest)) === '404';
  });
  const layer = sha256(one.layers[0]!);
  assert.equal((await fetch(`${b.url}/v2/c/app/blobs/${layer}`, { method: 'HEAD' })).status, 200);
  res = await fetch(`${a.url}/v2/c/app/blobs/${layer}`, { method: 'DELETE' });
  assert.equal(res.status, 202);
  await until('the blob unlinked through a is gone on b', async () => {
    return (await fetch(`${b.url}/v2/c/app/blobs/${layer}`, { method: 'HEAD' })).status === 404;
  });
  await Promise.all([a.stop(), b.stop()]);
});

test('GC in one process while another pushes: no acknowledged push loses a blob', async (t) => {
  const root = tempDir('tsreg-wgc-');
  const dsn = await server().createDatabase('gc_two');
  const yaml = `metadata:\n  postgres:\n    dsn: ${dsn}\n    poolsize: 4\n`;
  const pusher = await spawnRegistry(root, yaml, ['--workers', '1']);
  track(pusher);
  const collector = await spawnRegistry(root, yaml, ['--workers', '1']);
  track(collector);
  const gc = async () => {
    const res = await fetch(`${collector.url}/admin/gc?dryRun=false&grace=0`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
  };
  const base = randomBytes(3000);
  const acked = new Map<string, TestImage>();
  let previous: string | undefined;
  for (let round = 0; round < 40; round++) {
    const img = makeImage([base, 500 + round]);
    for (const blob of [img.config, ...img.layers]) {
      const res = await fetch(`${pusher.url}/v2/two/app/blobs/uploads/?digest=${sha256(blob)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob,
      });
      assert.equal(res.status, 201, await res.text());
    }
    const tag = `r${round}`;
    // Every other round the previous image (sharing `base`) is deleted by digest meanwhile.
    const doomed = round % 2 === 0 && previous ? acked.get(previous)!.digest : undefined;
    if (doomed) {
      acked.delete(previous!);
      previous = undefined;
    }
    const [put] = await Promise.all([
      fetch(`${pusher.url}/v2/two/app/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
        body: img.manifest,
      }),
      gc(),
      doomed &&
        fetch(`${pusher.url}/v2/two/app/manifests/${doomed}`, { method: 'DELETE' }).then((r) =>
          assert.equal(r.status, 202),
        ),
    ]);
    const text = await put.text();
    if (put.status === 201) {
      acked.set(tag, img);
      previous = tag;
    } else assert.match(text, /MANIFEST_BLOB_UNKNOWN/, `${put.status} ${text}`);
  }
  await gc();
  t.diagnostic(`${acked.size} acknowledged pushes kept`);
  assert.ok(acked.size > 0);
  for (const [tag, img] of acked) {
    await expectIntact(pusher.url, 'two/app', tag, img);
    await expectIntact(collector.url, 'two/app', tag, img);
  }
  await Promise.all([pusher.stop(), collector.stop()]);
});
