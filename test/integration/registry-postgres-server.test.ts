// tsregistry processes with `metadata.postgres` on a real PostgreSQL (test/helpers/postgres.ts):
// skopeo pushes, the registry restarts, skopeo pulls the same image back; an upload started on
// one replica finishes on another (sessions live in the database); and PostgreSQL stopped in
// the middle of pushes: 503 with an OCI body and a retry hint while it is down, the registry
// recovers when it is back, and every acknowledged push is intact. And the distribution-spec
// workflow and pagination tests, unchanged, on a registry whose metadata is in PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { postgresRegistryFixture } from '../helpers/postgres.js';
import {
  expectIntact,
  makeImage,
  pushImage,
  run,
  runTestFile,
  sha256,
  spawnRegistry,
  tsregistryBin,
  writeOciLayout,
  type RegistryProcess,
  type TestImage,
} from '../helpers/registry-server.js';

const { server, tempDir, track } = postgresRegistryFixture('kill9');

/** A tsregistry child process on `root` with its metadata in the database `dsn`. */
async function replica(root: string, dsn: string): Promise<RegistryProcess> {
  const p = await spawnRegistry(root, `metadata:\n  postgres:\n    dsn: ${dsn}\n    poolsize: 4\n`);
  return track(p);
}

const skopeo = (...args: string[]) => run('skopeo', args, { timeoutMs: 60_000 });

test('skopeo push, registry restart, skopeo pull: metadata lives in PostgreSQL', async () => {
  const root = tempDir('tsreg-pgsrv-');
  const work = tempDir('tsreg-pgsk-');
  const dsn = await server().createDatabase('skopeo');
  let reg = await replica(root, dsn);
  const img = makeImage([300_000, 1000]);
  writeOciLayout(join(work, 'in'), 'v1', img);
  let r = await skopeo(
    'copy',
    '--preserve-digests',
    '--dest-tls-verify=false',
    `oci:${join(work, 'in')}:v1`,
    `docker://${reg.host}/pg/app:v1`,
  );
  assert.equal(r.status, 0, r.stderr);
  await reg.stop();
  assert.equal(existsSync(join(root, 'meta')), false, 'no LevelDB store was made');
  reg = await replica(root, dsn);
  r = await skopeo(
    'copy',
    '--preserve-digests',
    '--src-tls-verify=false',
    `docker://${reg.host}/pg/app:v1`,
    `oci:${join(work, 'out')}:v1`,
  );
  assert.equal(r.status, 0, r.stderr);
  const index = JSON.parse(readFileSync(join(work, 'out', 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string }>;
  };
  assert.equal(index.manifests[0]!.digest, img.digest, 'same manifest after the restart');
  for (const b of [img.config, ...img.layers])
    assert.equal(
      sha256(readFileSync(join(work, 'out', 'blobs', 'sha256', sha256(b).slice(7)))),
      sha256(b),
    );
  const tags = (await (await fetch(`${reg.url}/v2/pg/app/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags, ['v1']);
  // gc with PostgreSQL metadata goes through the running server: it sees the image and keeps it
  // (it must never collect against an empty embedded store beside the database).
  const gc = await run(process.execPath, [
    tsregistryBin(),
    'gc',
    '--config',
    join(root, 'config.yml'),
  ]);
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stdout, /deleted 0 blobs/);
  await expectIntact(reg.url, 'pg/app', 'v1', img);
  await reg.stop();
});

test('an upload started on one replica finishes on another', async () => {
  const root = tempDir('tsreg-pgrep-');
  const dsn = await server().createDatabase('replicas');
  const [a, b] = [await replica(root, dsn), await replica(root, dsn)];
  const data = Buffer.from('chunked upload across replicas');
  const post = await fetch(`${a.url}/v2/shared/blob/blobs/uploads/`, { method: 'POST' });
  assert.equal(post.status, 202);
  const path = post.headers.get('location')!.replace(/^https?:\/\/[^/]+/, '');
  const patch = await fetch(`${a.url}${path}`, {
    method: 'PATCH',
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Range': `0-${data.length - 1}`,
    },
    body: data,
  });
  assert.equal(patch.status, 202, await patch.text());
  const status = await fetch(`${b.url}${path}`);
  assert.equal(status.status, 204, 'the other replica knows the session');
  const put = await fetch(
    `${b.url}${path}${path.includes('?') ? '&' : '?'}digest=${sha256(data)}`,
    {
      method: 'PUT',
    },
  );
  assert.equal(put.status, 201, await put.text());
  const got = await fetch(`${a.url}/v2/shared/blob/blobs/${sha256(data)}`);
  assert.equal(got.status, 200);
  assert.equal(Buffer.from(await got.arrayBuffer()).toString(), data.toString());
  await Promise.all([a.stop(), b.stop()]);
});

test('PostgreSQL stops mid-run: 503 with an OCI body, then recovery; acknowledged pushes intact', async () => {
  const root = tempDir('tsreg-pgdown-');
  const dsn = await server().createDatabase('restart');
  let reg = await replica(root, dsn);
  const acked: Array<{ tag: string; img: TestImage }> = [];
  const first = makeImage([5000]);
  await pushImage(reg.url, 'down/app', 'first', first);
  acked.push({ tag: 'first', img: first });

  // Pushes keep going while the database goes away; only those answered 201 count.
  let pushing = true;
  const pushes = (async () => {
    for (let i = 0; pushing && i < 500; i++) {
      const img = makeImage([2000]);
      const ok = await pushImage(reg.url, 'down/app', `t${i}`, img).then(
        () => true,
        () => false,
      );
      if (ok) acked.push({ tag: `t${i}`, img });
    }
  })();
  for (const deadline = Date.now() + 60_000; acked.length < 4;) {
    assert.ok(Date.now() < deadline, 'pushes go through while the database is up');
    await new Promise((r) => setTimeout(r, 20));
  }
  await server().stop();

  const expectUnavailable = async (res: Response) => {
    const text = await res.text();
    assert.equal(res.status, 503, text);
    const body = JSON.parse(text) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
    assert.match(body.errors[0]!.message, /retry/);
    assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After header');
    assert.doesNotMatch(text, /\bat .*\.js:\d+/, 'no stack trace');
  };
  await expectUnavailable(await fetch(`${reg.url}/v2/_catalog`));
  await expectUnavailable(await fetch(`${reg.url}/v2/down/app/tags/list`));
  await expectUnavailable(await fetch(`${reg.url}/v2/down/app/manifests/never-pushed`));
  await expectUnavailable(await fetch(`${reg.url}/v2/down/app/blobs/uploads/`, { method: 'POST' }));
  const blob = Buffer.from('pushed while the database is down');
  await expectUnavailable(
    await fetch(`${reg.url}/v2/down/app/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob,
    }),
  );
  pushing = false;
  await pushes;
  assert.equal(reg.child.exitCode, null, 'the registry is still running');

  await server().start();
  const catalog = await fetch(`${reg.url}/v2/_catalog`);
  assert.equal(catalog.status, 200, await catalog.text());
  const after = makeImage([3000]);
  await pushImage(reg.url, 'down/app', 'after', after);
  acked.push({ tag: 'after', img: after });
  for (const { tag, img } of acked) await expectIntact(reg.url, 'down/app', tag, img);

  // And from a fresh process (no caches): everything acknowledged is in the database.
  await reg.stop();
  reg = await replica(root, dsn);
  const listed = (await (await fetch(`${reg.url}/v2/down/app/tags/list`)).json()) as {
    tags: string[];
  };
  for (const { tag, img } of acked) {
    assert.ok(listed.tags.includes(tag), `${tag} listed`);
    await expectIntact(reg.url, 'down/app', tag, img);
  }
  await reg.stop();
});

test('the distribution-spec workflow and pagination tests pass on PostgreSQL metadata', async () => {
  // Each file starts its own in-process registry; TSREGISTRY_TEST_POSTGRES_DSN puts its metadata
  // in a fresh database (testConfig in test/helpers/registry-server.ts).
  for (const file of ['registry-workflows.test.js', 'registry-pagination.test.js']) {
    const dsn = await server().createDatabase(`suite_${file.split('.')[0]!.replace('-', '_')}`);
    const res = await runTestFile(fileURLToPath(new URL(file, import.meta.url)), {
      TSREGISTRY_TEST_POSTGRES_DSN: dsn,
    });
    assert.equal(res.status, 0, `${file} on PostgreSQL:\n${res.stdout.slice(-4000)}`);
    assert.match(res.stdout, /# fail 0/);
    assert.doesNotMatch(res.stdout, /# pass 0\b/, 'it ran tests');
    const client = new pg.Client({ connectionString: dsn });
    await client.connect();
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM repositories');
    await client.end();
    assert.ok(Number(rows[0]!.n) > 0, `${file} stored its repositories in PostgreSQL`);
  }
});
