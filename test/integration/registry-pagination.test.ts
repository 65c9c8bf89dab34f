// `_catalog` and tags list pagination followed to the end: every page through `Link` (as a
// client does), `n`/`last` by hand, page sizes that divide the total exactly (no empty extra
// page, no Link on the last one), n=0, and names that need escaping in the Link header.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../shared/client/registry-client.js';
import {
  makeImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';

let reg: TestRegistry;
// Sorted lexically, with nested names (the '/' must survive the Link header's `last`).
const REPOS = ['alpha', 'beta/one', 'beta/two', 'gamma', 'team-a/app', 'team-a/app2', 'zeta'];
const TAGS = ['1.0', '1.1', '2.0', 'A', 'B', 'latest', 'v1', 'v1.0-rc_1', 'v2'];

before(async () => {
  reg = await startRegistry();
  const img = makeImage([16]);
  for (const repo of [...REPOS].reverse()) await pushImage(reg.url, repo, 'v1', img);
  for (const tag of TAGS) await pushImage(reg.url, 'tagged', tag, img);
});
after(async () => {
  await reg?.close();
});

interface Page {
  items: string[];
  link: string | null;
}

async function getPage(path: string, key: 'repositories' | 'tags'): Promise<Page> {
  const res = await fetch(new URL(path, reg.url));
  assert.equal(res.status, 200, path);
  const body = (await res.json()) as Record<string, string[] | null>;
  assert.ok(Array.isArray(body[key]), `${path}: ${key} is ${JSON.stringify(body[key])}`);
  return { items: body[key], link: res.headers.get('link') };
}

/** Follows `Link: <...>; rel="next"` from `first` until there is none; returns the pages. */
async function follow(first: string, key: 'repositories' | 'tags'): Promise<string[][]> {
  const pages: string[][] = [];
  let path: string | undefined = first;
  while (path !== undefined) {
    assert.ok(pages.length < 50, `pagination does not end (at ${path})`);
    const page = await getPage(path, key);
    pages.push(page.items);
    if (page.link === null) path = undefined;
    else {
      const m = /^<([^>]+)>;\s*rel="next"$/.exec(page.link);
      assert.ok(m, `malformed Link header: ${page.link}`);
      path = m[1];
    }
  }
  return pages;
}

const chunks = <T>(xs: T[], n: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

describe('catalog', () => {
  const all = [...REPOS, 'tagged'].sort();

  test('without n: everything, sorted, no Link', async () => {
    const page = await getPage('/v2/_catalog', 'repositories');
    assert.deepEqual(page.items, all);
    assert.equal(page.link, null);
  });

  for (const n of [1, 2, 3, 4, 8, 100]) {
    test(`n=${n}: following Link visits every repository once, in order`, async () => {
      const pages = await follow(`/v2/_catalog?n=${n}`, 'repositories');
      assert.deepEqual(pages, chunks(all, n));
    });
  }

  test('n/last by hand, last not itself a repository, last past the end', async () => {
    const p = await getPage('/v2/_catalog?n=2&last=beta%2Fone', 'repositories');
    assert.deepEqual(p.items, ['beta/two', 'gamma']);
    assert.ok(p.link?.includes('last=gamma'), p.link ?? 'no Link');
    // `last` between two names: the page starts after it.
    const q = await getPage('/v2/_catalog?n=3&last=c', 'repositories');
    assert.deepEqual(q.items, ['gamma', 'tagged', 'team-a/app']);
    const end = await getPage('/v2/_catalog?n=5&last=zeta', 'repositories');
    assert.deepEqual(end.items, []);
    assert.equal(end.link, null);
    const onlyLast = await getPage('/v2/_catalog?last=team-a%2Fapp', 'repositories');
    assert.deepEqual(onlyLast.items, ['team-a/app2', 'zeta']);
    assert.equal(onlyLast.link, null);
  });

  test('n=0: an empty list and no Link', async () => {
    const page = await getPage('/v2/_catalog?n=0', 'repositories');
    assert.deepEqual(page.items, []);
    assert.equal(page.link, null);
  });
});

describe('tags list', () => {
  const all = [...TAGS].sort();

  for (const n of [1, 3, 4, 9, 10]) {
    test(`n=${n}: following Link visits every tag once, in order`, async () => {
      const pages = await follow(`/v2/tagged/tags/list?n=${n}`, 'tags');
      assert.deepEqual(pages, chunks(all, n));
    });
  }

  test('n=0: an empty list and no Link', async () => {
    const page = await getPage('/v2/tagged/tags/list?n=0', 'tags');
    assert.deepEqual(page.items, []);
    assert.equal(page.link, null);
  });

  test('last without n, and last past the end', async () => {
    const p = await getPage('/v2/tagged/tags/list?last=latest', 'tags');
    assert.deepEqual(
      p.items,
      all.filter((t) => t > 'latest'),
    );
    assert.equal(p.link, null);
    const end = await getPage('/v2/tagged/tags/list?n=2&last=zzz', 'tags');
    assert.deepEqual(end.items, []);
    assert.equal(end.link, null);
  });

  test('the registry client follows the pages to the end', async () => {
    const client = new RegistryClient({ registry: reg.host, credentials: null });
    for (const n of [undefined, 1, 2, 9]) assert.deepEqual(await client.listTags('tagged', n), all);
  });
});
