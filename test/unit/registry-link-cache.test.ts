// The link cache (registry/link-cache.ts): links are known per (repository, digest); forgetting
// a digest drops exactly its links, in every repository; a full cache starts over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkCache } from '../../registry/link-cache.js';

test('link cache: add, has, delete, forget a digest in every repository, bounded', () => {
  const links = new LinkCache(4);
  links.add('a', 'sha256:1');
  links.add('b', 'sha256:1');
  links.add('a', 'sha256:2');
  links.add('a', 'sha256:2');
  assert.ok(links.has('a', 'sha256:1') && links.has('b', 'sha256:1') && links.has('a', 'sha256:2'));
  assert.equal(links.has('b', 'sha256:2'), false);
  links.forgetDigest('sha256:1');
  assert.equal(links.has('a', 'sha256:1') || links.has('b', 'sha256:1'), false);
  assert.ok(links.has('a', 'sha256:2'), 'other digests stay');
  links.delete('a', 'sha256:2');
  assert.equal(links.has('a', 'sha256:2'), false);
  for (let i = 0; i < 4; i++) links.add('r', `sha256:${i}`);
  assert.ok(links.has('r', 'sha256:3'));
  links.add('r', 'sha256:9');
  assert.ok(links.has('r', 'sha256:9'), 'the newest link is kept');
  assert.equal(links.has('r', 'sha256:0'), false, 'a full cache starts over');
});
