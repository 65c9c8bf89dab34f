// The MetadataStore contract, written once and run against every implementation (LevelDB in
// test/unit/registry-metadata-gc.test.ts, PostgreSQL in test/integration/registry-postgres.test.ts):
// tags, manifests, referrers, links, sessions, pagination order, atomic writes, listings that
// span many pages, GC holds and condemnations, and persistence across a reopen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ManifestRecord, MetadataStore } from '../../registry/metadata/store.js';

export interface MetadataFactory {
  name: string;
  /** A fresh, empty, opened store; `reopen` closes it and opens the same data again. */
  create(): Promise<{
    store: MetadataStore;
    reopen(): Promise<MetadataStore>;
    cleanup(): Promise<void>;
  }>;
}

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const rec = (extra: Partial<ManifestRecord> = {}): ManifestRecord => ({
  mediaType: OCI,
  size: 10,
  refs: ['sha256:c', 'sha256:l'],
  ...extra,
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Byte order of UTF-8 strings (what LevelDB keys and the "C" collation sort by). */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function metadataContract(factory: MetadataFactory): void {
  const it = (name: string, fn: (store: MetadataStore) => Promise<void>) =>
    test(`${factory.name} metadata: ${name}`, async () => {
      const { store, cleanup } = await factory.create();
      try {
        await fn(store);
      } finally {
        await store.close().catch(() => {});
        await cleanup();
      }
    });

  it('tags paginate, manifests delete with their tags and referrer entries', async (meta) => {
    await meta.putManifest('a', 'sha256:1', rec(), 'x');
    await meta.putManifest('a', 'sha256:1', rec(), 'y');
    await meta.putManifest('a/b', 'sha256:2', rec({ subject: 'sha256:1', artifactType: 't' }), 'z');
    assert.deepEqual(await meta.listTags('a'), ['x', 'y']);
    assert.deepEqual(await meta.listTags('a', { n: 1 }), ['x']);
    assert.deepEqual(await meta.listTags('a', { last: 'x' }), ['y']);
    assert.deepEqual(await meta.listTags('a', { n: 0 }), []);
    assert.deepEqual(await meta.listRepositories(), ['a', 'a/b']);
    assert.deepEqual(
      (await meta.referrers('a/b', 'sha256:1')).map((d) => d.artifactType),
      ['t'],
    );
    assert.ok(await meta.hasLink('a', 'sha256:1'));
    assert.ok(await meta.deleteManifest('a', 'sha256:1'));
    assert.deepEqual(await meta.listTags('a'), []);
    assert.equal(await meta.deleteManifest('a', 'sha256:1'), false);
    assert.ok(await meta.deleteManifest('a/b', 'sha256:2'));
    assert.deepEqual(await meta.referrers('a/b', 'sha256:1'), []);
    assert.ok(await meta.repositoryExists('a'), 'a repository stays in the catalog');
  });

  it('putManifest records the repository, link, manifest, tag and referrer', async (meta) => {
    const annotations = { 'org.example.z': '1', 'org.example.a': '2' };
    const record = rec({ subject: 'sha256:s', artifactType: 'application/x', annotations });
    assert.equal(await meta.repositoryExists('r'), false);
    assert.equal(await meta.getManifest('r', 'sha256:m'), undefined);
    await meta.putManifest('r', 'sha256:m', record, 'v1');
    assert.ok(await meta.repositoryExists('r'));
    assert.ok(await meta.hasLink('r', 'sha256:m'));
    assert.deepEqual(await meta.getManifest('r', 'sha256:m'), record);
    assert.equal(await meta.getTag('r', 'v1'), 'sha256:m');
    assert.equal(await meta.getTag('r', 'v2'), undefined);
    assert.equal(await meta.getTag('other', 'v1'), undefined);
    const [desc, ...more] = await meta.referrers('r', 'sha256:s');
    assert.equal(more.length, 0);
    assert.deepEqual(desc, {
      mediaType: OCI,
      digest: 'sha256:m',
      size: 10,
      artifactType: 'application/x',
      annotations,
    });
    assert.deepEqual(Object.keys(desc!.annotations!), Object.keys(annotations), 'order kept');
    assert.deepEqual(await meta.referrers('other', 'sha256:s'), [], 'referrers are per repository');
  });

  it('a tag moves; deleting a manifest removes only the tags pointing at it', async (meta) => {
    await meta.putManifest('r', 'sha256:1', rec(), 'old');
    await meta.putManifest('r', 'sha256:1', rec(), 'moving');
    await meta.putManifest('r', 'sha256:2', rec(), 'moving');
    await meta.putManifest('r', 'sha256:2', rec(), 'keep');
    await meta.putManifest('q', 'sha256:1', rec(), 'old');
    assert.equal(await meta.getTag('r', 'moving'), 'sha256:2');
    assert.ok(await meta.deleteManifest('r', 'sha256:1'));
    assert.deepEqual(await meta.listTags('r'), ['keep', 'moving']);
    assert.equal(await meta.getTag('q', 'old'), 'sha256:1', 'other repositories untouched');
    assert.ok(await meta.deleteTag('r', 'keep'));
    assert.equal(await meta.deleteTag('r', 'keep'), false);
    assert.ok(await meta.getManifest('r', 'sha256:2'), 'deleting a tag keeps the manifest');
    const tags = await collect(meta.allTags());
    assert.deepEqual(
      tags.map((t) => `${t.repo}:${t.tag}=${t.digest}`),
      ['q:old=sha256:1', 'r:moving=sha256:2'],
    );
  });

  it('tags and repositories list in byte order with last/n paging', async (meta) => {
    const tags = ['b', 'B', '1', 'a-b', 'a.b', 'a_b', 'a', 'A9', 'z'];
    for (const t of tags) await meta.putManifest('r', 'sha256:1', rec(), t);
    const sorted = [...tags].sort(byteOrder);
    assert.deepEqual(await meta.listTags('r'), sorted);
    const paged: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await meta.listTags('r', { n: 2, ...(last === undefined ? {} : { last }) });
      paged.push(...page);
      if (page.length < 2) break;
      last = page[page.length - 1];
    }
    assert.deepEqual(paged, sorted);
    assert.deepEqual(await meta.listTags('r', { last: 'a', n: 3 }), ['a-b', 'a.b', 'a_b']);
    assert.deepEqual(await meta.listTags('r', { last: 'zz' }), []);
    assert.deepEqual(await meta.listTags('none'), []);
    const repos = ['b', 'a/b', 'a-b', 'a', 'a/b/c', 'a.b'];
    for (const r of repos) await meta.putLink(r, 'sha256:1');
    assert.deepEqual(await meta.listRepositories(), [...repos, 'r'].sort(byteOrder));
    assert.deepEqual(await meta.listRepositories({ last: 'a', n: 2 }), ['a-b', 'a.b']);
    assert.deepEqual(await meta.listRepositories({ n: 0 }), []);
  });

  it('links: put, has, delete, list; a link creates the repository', async (meta) => {
    await meta.putLink('r', 'sha256:b');
    await meta.putLink('r', 'sha256:a');
    await meta.putLink('r', 'sha256:a');
    assert.ok(await meta.repositoryExists('r'));
    assert.ok(await meta.hasLink('r', 'sha256:a'));
    assert.equal(await meta.hasLink('q', 'sha256:a'), false);
    assert.deepEqual(await collect(meta.allLinks()), [
      { repo: 'r', digest: 'sha256:a' },
      { repo: 'r', digest: 'sha256:b' },
    ]);
    assert.ok(await meta.deleteLink('r', 'sha256:a'));
    assert.equal(await meta.deleteLink('r', 'sha256:a'), false);
    assert.equal(await meta.hasLink('r', 'sha256:a'), false);
  });

  it('upload sessions: put, get, delete, list', async (meta) => {
    await meta.putSession({ uuid: 'u2', repo: 'a', startedAt: '2026-01-02T00:00:00.000Z' });
    await meta.putSession({ uuid: 'u1', repo: 'b', startedAt: '2026-01-01T00:00:00.000Z' });
    assert.deepEqual(await meta.getSession('u1'), {
      uuid: 'u1',
      repo: 'b',
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    assert.equal(await meta.getSession('nope'), undefined);
    assert.deepEqual(
      (await collect(meta.allSessions())).map((s) => s.uuid),
      ['u1', 'u2'],
    );
    await meta.deleteSession('u1');
    await meta.deleteSession('u1');
    assert.equal(await meta.getSession('u1'), undefined);
  });

  it('whole-store listings stream past any page size, each row once and in order', async (meta) => {
    const n = 1234;
    const digests = Array.from({ length: n }, (_, i) => `sha256:${String(i).padStart(5, '0')}`);
    for (let i = 0; i < n; i += 50)
      await Promise.all(digests.slice(i, i + 50).map((d, j) => meta.putLink(`r${(i + j) % 3}`, d)));
    for (let i = 0; i < 600; i += 50)
      await Promise.all(
        digests.slice(i, i + 50).map((d) => meta.putManifest('m', d, rec(), `t${d.slice(7)}`)),
      );
    const links = await collect(meta.allLinks());
    assert.equal(links.length, n + 600);
    const keys = links.map((l) => `${l.repo}!${l.digest}`);
    assert.deepEqual(keys, [...keys].sort(byteOrder), 'in key order');
    assert.equal(new Set(keys).size, keys.length, 'no row twice');
    assert.equal((await collect(meta.allManifests())).length, 600);
    assert.equal((await collect(meta.allTags())).length, 600);
    // Stopping early is fine (GC may break out of a listing).
    for await (const _ of meta.allLinks()) break;
  });

  it('GC holds and condemnations are seen by the other side and withdrawn', async (meta) => {
    const now = Date.now();
    await meta.putHold({ id: 'h1', digests: ['sha256:a', 'sha256:b'], at: now });
    await meta.putHold({ id: 'h2', digests: ['sha256:c'], at: now - 1 });
    const holds = await collect(meta.allHolds());
    assert.deepEqual(holds.map((h) => [h.id, h.digests, h.at]).sort(), [
      ['h1', ['sha256:a', 'sha256:b'], now],
      ['h2', ['sha256:c'], now - 1],
    ]);
    await meta.deleteHold('h1');
    assert.deepEqual(
      (await collect(meta.allHolds())).map((h) => h.id),
      ['h2'],
    );
    assert.deepEqual(await meta.condemned(['sha256:a']), []);
    await meta.condemn(['sha256:a', 'sha256:b', 'sha256:c']);
    assert.deepEqual((await meta.condemned(['sha256:b', 'sha256:x', 'sha256:a'])).sort(), [
      'sha256:a',
      'sha256:b',
    ]);
    await meta.pardon(['sha256:a']);
    assert.deepEqual((await meta.condemned(['sha256:a', 'sha256:b', 'sha256:c'])).sort(), [
      'sha256:b',
      'sha256:c',
    ]);
    await meta.pardon();
    assert.deepEqual(await meta.condemned(['sha256:a', 'sha256:b', 'sha256:c']), []);
  });

  test(`${factory.name} metadata: everything survives a reopen`, async () => {
    const { store, reopen, cleanup } = await factory.create();
    let again: MetadataStore | undefined;
    try {
      await store.putManifest('a', 'sha256:1', rec({ subject: 'sha256:0' }), 'x');
      await store.putLink('a', 'sha256:l');
      await store.putSession({ uuid: 'u1', repo: 'a', startedAt: 'now' });
      again = await reopen();
      assert.equal(await again.getTag('a', 'x'), 'sha256:1');
      assert.ok(await again.getManifest('a', 'sha256:1'));
      assert.equal((await again.referrers('a', 'sha256:0')).length, 1);
      assert.ok(await again.hasLink('a', 'sha256:l'));
      assert.equal((await again.getSession('u1'))?.repo, 'a');
    } finally {
      await (again ?? store).close().catch(() => {});
      await cleanup();
    }
  });
}
