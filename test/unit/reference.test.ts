// The docker reference grammar: normalisation, short and full forms, and the edge cases
// (ports, uppercase, 128-char tags, digests, localhost, empty components, lengths).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../shared/errors.js';
import {
  familiarName,
  familiarRepository,
  formatReference,
  isInsecureByDefault,
  normalizeRegistry,
  parseReference,
  parseRepositoryName,
  parseTag,
  registryApiHost,
  tryParseReference,
} from '../../shared/reference.js';

const D = `sha256:${'a'.repeat(64)}`;
const D512 = `sha512:${'b'.repeat(128)}`;

function ref(input: string) {
  const r = parseReference(input);
  return [r.registry, r.repository, r.tag, r.digest];
}

function rejects(input: string, pattern: RegExp): void {
  assert.throws(
    () => parseReference(input),
    (e: unknown) => {
      assert.ok(e instanceof InvalidInputError, `${input}: not an InvalidInputError`);
      assert.match(e.message, pattern, `${input}: ${e.message}`);
      return true;
    },
  );
}

test('normalises Docker Hub names', () => {
  assert.deepEqual(ref('busybox'), ['docker.io', 'library/busybox', 'latest', undefined]);
  assert.deepEqual(ref('busybox:1.36'), ['docker.io', 'library/busybox', '1.36', undefined]);
  assert.deepEqual(ref('user/app'), ['docker.io', 'user/app', 'latest', undefined]);
  assert.deepEqual(ref('docker.io/busybox'), ['docker.io', 'library/busybox', 'latest', undefined]);
  assert.deepEqual(ref('index.docker.io/busybox'), [
    'docker.io',
    'library/busybox',
    'latest',
    undefined,
  ]);
  assert.deepEqual(ref('docker.io/library/busybox:musl'), [
    'docker.io',
    'library/busybox',
    'musl',
    undefined,
  ]);
  assert.deepEqual(ref('a/b/c/d'), ['docker.io', 'a/b/c/d', 'latest', undefined]);
});

test('detects the domain: dot, colon or localhost in the first component', () => {
  assert.deepEqual(ref('localhost/x'), ['localhost', 'x', 'latest', undefined]);
  assert.deepEqual(ref('localhost:5000/x:v1'), ['localhost:5000', 'x', 'v1', undefined]);
  assert.deepEqual(ref('a.b/c'), ['a.b', 'c', 'latest', undefined]);
  assert.deepEqual(ref('127.0.0.1:5000/team/p1:v2'), [
    '127.0.0.1:5000',
    'team/p1',
    'v2',
    undefined,
  ]);
  assert.deepEqual(ref('ghcr.io/org/img'), ['ghcr.io', 'org/img', 'latest', undefined]);
  assert.deepEqual(ref('[::1]:5000/x'), ['[::1]:5000', 'x', 'latest', undefined]);
  // No slash: the whole thing is a Docker Hub name, `:5000` a tag.
  assert.deepEqual(ref('foo:5000'), ['docker.io', 'library/foo', '5000', undefined]);
  assert.deepEqual(ref('localhost'), ['docker.io', 'library/localhost', 'latest', undefined]);
  assert.deepEqual(ref('a.b'), ['docker.io', 'library/a.b', 'latest', undefined]);
  // An uppercase first component is a host (distribution/reference), the path stays lowercase.
  assert.deepEqual(ref('Example/x'), ['Example', 'x', 'latest', undefined]);
  // Docker Hub single names are only prefixed on docker.io.
  assert.deepEqual(ref('myhost.com/x'), ['myhost.com', 'x', 'latest', undefined]);
});

test('tags and digests', () => {
  assert.deepEqual(ref(`busybox@${D}`), ['docker.io', 'library/busybox', undefined, D]);
  assert.deepEqual(ref(`busybox:1@${D}`), ['docker.io', 'library/busybox', '1', D]);
  assert.deepEqual(ref(`h:5000/a/b@${D512}`), ['h:5000', 'a/b', undefined, D512]);
  assert.deepEqual(ref('x:_a.B-1'), ['docker.io', 'library/x', '_a.B-1', undefined]);
  const t128 = 'a'.repeat(128);
  assert.equal(parseReference(`x:${t128}`).tag, t128);
  rejects(`x:${'a'.repeat(129)}`, /tag is longer than 128 characters \(129\)/);
  rejects('x:', /tag is empty/);
  rejects('x:-a', /invalid tag "-a"/);
  rejects('x:.a', /invalid tag "\.a"/);
  rejects('x:a+b', /invalid tag "a\+b"/);
  rejects('x@', /digest after "@" is empty/);
  rejects('x@sha256:abc', /invalid sha256 digest/);
  rejects(`x@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/);
  rejects(`x@sha256:${'A'.repeat(64)}`, /invalid sha256 digest/);
  rejects(`x@${D}@${D}`, /invalid/);
});

test('rejects invalid names, saying which part is wrong', () => {
  rejects('', /reference is empty/);
  rejects('Busybox', /repository name "Busybox" must be lowercase/);
  rejects('docker.io/Foo/bar', /must be lowercase/);
  rejects('ghcr.io/Org/img', /"Org\/img" must be lowercase/);
  rejects('a//b', /empty path component/);
  rejects('a/', /ends with "\/"/);
  rejects('/a', /invalid registry host ""|empty/);
  rejects('localhost/', /repository name is empty/);
  rejects('foo:5000/', /repository name is empty/);
  rejects(':tag', /repository name is empty/);
  rejects('ab/c/d-', /invalid path component "d-"/);
  rejects('x/a__-b', /invalid path component "a__-b"/);
  rejects('x/a___b', /invalid path component "a___b"/);
  rejects('x/-a', /invalid path component "-a"/);
  rejects('x y', /invalid/);
  assert.throws(
    () => parseReference('busybox:latest\n'),
    (e: unknown) =>
      e instanceof InvalidInputError && !e.toLine().includes('\n') && /"latest\\n"/.test(e.message),
  );
  rejects('f'.repeat(64), /image ID, not a repository name/);
  rejects('bad_host.com:5000:6000/x', /invalid registry host/);
  rejects('-host.com/x', /invalid registry host "-host.com"/);
  rejects('host.com:port/x', /invalid registry host "host.com:port"/);
});

test('separators inside path components', () => {
  for (const ok of ['a.b', 'a_b', 'a__b', 'a-b', 'a---b', 'a0.b1_c2__d3-e4', 'x/y.z/w_v']) {
    assert.ok(tryParseReference(ok), ok);
  }
  for (const bad of ['a..b', 'a._b', 'a_', '_a', 'a.', 'a-', 'a.-b']) {
    assert.equal(tryParseReference(bad), undefined, bad);
  }
});

test('the normalised name may be 255 characters, not 256 (registry included)', () => {
  const host = 'r.io/';
  const name255 = `${host}${'c'.repeat(255 - host.length)}`;
  assert.equal(formatReference(parseReference(`${name255}:t`)), `${name255}:t`);
  rejects(`${host}${'c'.repeat(256 - host.length)}:t`, /name is longer than 255 characters/);
  // Docker Hub names count with their `docker.io/library/` prefix, as docker counts them.
  const hub = 'docker.io/library/';
  assert.ok(parseReference('d'.repeat(255 - hub.length)));
  rejects('d'.repeat(256 - hub.length), /longer than 255/);
  // The tag does not count.
  assert.ok(parseReference(`${'a/'.repeat(117)}a:${'t'.repeat(128)}`));
  rejects(`${'a/'.repeat(128)}a:tag`, /longer than 255/);
});

// Cases from the distribution/reference grammar tests, as [input, registry, repository, tag, digest].
const F64 = `sha256:${'f'.repeat(64)}`;
const F128 = `sha512:${'f'.repeat(128)}`;
const VALID: [string, string, string, string?, string?][] = [
  ['test_com', 'docker.io', 'library/test_com', 'latest'],
  ['test.com:tag', 'docker.io', 'library/test.com', 'tag'],
  ['test.com:5000', 'docker.io', 'library/test.com', '5000'],
  ['test.com/repo:tag', 'test.com', 'repo', 'tag'],
  ['test:5000/repo', 'test:5000', 'repo', 'latest'],
  [`test:5000/repo@${F64}`, 'test:5000', 'repo', undefined, F64],
  [`test:5000/repo:tag@${F64}`, 'test:5000', 'repo', 'tag', F64],
  ['lowercase:Uppercase', 'docker.io', 'library/lowercase', 'Uppercase'],
  [
    'sub-dom1.foo.com/bar/baz/quux:some-long-tag',
    'sub-dom1.foo.com',
    'bar/baz/quux',
    'some-long-tag',
  ],
  [
    'b.gcr.io/test.example.com/my-app:test.example.com',
    'b.gcr.io',
    'test.example.com/my-app',
    'test.example.com',
  ],
  [`xn--7o8h.com/myimage:xn--7o8h.com@${F128}`, 'xn--7o8h.com', 'myimage', 'xn--7o8h.com', F128],
  ['foo_bar.com:8080', 'docker.io', 'library/foo_bar.com', '8080'],
  ['foo/foo_bar.com:8080', 'docker.io', 'foo/foo_bar.com', '8080'],
  ['192.168.1.1', 'docker.io', 'library/192.168.1.1', 'latest'],
  ['192.168.1.1:5000', 'docker.io', 'library/192.168.1.1', '5000'],
  ['192.168.1.1/repo', '192.168.1.1', 'repo', 'latest'],
  ['192.168.1.1:5000/repo:5050', '192.168.1.1:5000', 'repo', '5050'],
  ['[2001:db8::1]/repo', '[2001:db8::1]', 'repo', 'latest'],
  ['[2001:db8:1:2:3:4:5:6]/repo:tag', '[2001:db8:1:2:3:4:5:6]', 'repo', 'tag'],
  [`[2001:db8::1]:5000/repo:tag@${F64}`, '[2001:db8::1]:5000', 'repo', 'tag', F64],
  ['[2001:db8::]:5000/repo', '[2001:db8::]:5000', 'repo', 'latest'],
  ['test_com/foo', 'docker.io', 'test_com/foo', 'latest'],
  ['test-com:8080/foo', 'test-com:8080', 'foo', 'latest'],
  ['Docker/docker', 'Docker', 'docker', 'latest'],
  [`docker.io/${'1a3f'.repeat(16)}`, 'docker.io', `library/${'1a3f'.repeat(16)}`, 'latest'],
  [
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'docker.io',
    'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'latest',
  ],
  ['docker---rules/docker', 'docker.io', 'docker---rules/docker', 'latest'],
  ['dock__er/docker', 'docker.io', 'dock__er/docker', 'latest'],
  ['d/docker', 'docker.io', 'd/docker', 'latest'],
];
const INVALID = [
  ':justtag',
  `@${F64}`,
  'repo@sha256:ffffffffffffffffffffffffffffffffff',
  `validname@invaliddigest:${'f'.repeat(64)}`,
  'Uppercase:tag',
  'test:5000/Uppercase/lowercase:tag',
  'aa/asdf$$^/aa',
  '[2001:db8::1]',
  '[2001:db8::1]:5000',
  '[2001:db8::1]:tag',
  '[fe80::1%eth0]:5000/repo',
  '[2001:db8:3:4::192.0.2.33]:5000/debian',
  'fc00::1:5000/debian',
  'https://github.com/docker/docker',
  'docker/Docker',
  '-docker',
  '-docker.io/docker/docker',
  'docker///docker',
  'docker-/docker',
  '____/____',
  '_docker/_docker',
  'dock..er/docker',
  'dock_.er/docker',
  'dock-.er/docker',
  'docker/',
  '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
];

test('grammar vectors from distribution/reference', () => {
  for (const [input, registry, repository, tag, digest] of VALID) {
    assert.deepEqual(ref(input), [registry, repository, tag, digest], input);
  }
  for (const input of INVALID) {
    assert.throws(() => parseReference(input), InvalidInputError, input);
  }
});

test('formatReference and familiarName', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
    ['docker.io/library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['127.0.0.1:5000/team/p1:v2', '127.0.0.1:5000/team/p1:v2', '127.0.0.1:5000/team/p1:v2'],
    [`h:5000/a/b@${D}`, `h:5000/a/b@${D}`, `h:5000/a/b@${D}`],
    [`x:tag@${D}`, `docker.io/library/x:tag@${D}`, `x:tag@${D}`],
  ];
  for (const [input, full, short] of cases) {
    const r = parseReference(input);
    assert.equal(formatReference(r), full, input);
    assert.equal(familiarName(r), short, input);
    assert.deepEqual(parseReference(formatReference(r)), r, `${input} round trip`);
    assert.deepEqual(parseReference(familiarName(r)), r, `${input} short round trip`);
  }
  assert.equal(
    familiarRepository({ registry: 'docker.io', repository: 'library/busybox' }),
    'busybox',
  );
});

test('registry hosts', () => {
  assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
  assert.equal(registryApiHost('localhost:5000'), 'localhost:5000');
  assert.equal(normalizeRegistry('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeRegistry('registry-1.docker.io'), 'docker.io');
  assert.equal(normalizeRegistry('http://LOCALHOST:5000/v2/'), 'localhost:5000');
  assert.equal(normalizeRegistry('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('loopback registries are insecure by default', () => {
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1', '127.0.0.1:5000', '127.1.2.3:80']) {
    assert.equal(isInsecureByDefault(h), true, h);
  }
  assert.equal(isInsecureByDefault('[::1]:5000'), true);
  assert.equal(isInsecureByDefault('::1'), true);
  for (const h of [
    'docker.io',
    'ghcr.io',
    '10.0.0.1:5000',
    '127.0.0.300',
    'localhost.com',
    '128.0.0.1',
  ]) {
    assert.equal(isInsecureByDefault(h), false, h);
  }
});

test('parseRepositoryName and parseTag', () => {
  assert.equal(parseRepositoryName('library/busybox'), 'library/busybox');
  assert.equal(parseRepositoryName('a.b-c__d/e'), 'a.b-c__d/e');
  assert.throws(() => parseRepositoryName(''), /name is empty/);
  assert.throws(() => parseRepositoryName('Foo'), /"Foo": path component "Foo" must be lowercase/);
  assert.throws(() => parseRepositoryName('a//b'), /empty path component/);
  assert.throws(() => parseRepositoryName('a/'), /ends with/);
  assert.throws(() => parseRepositoryName('a:b'), /invalid path component "a:b"/);
  assert.throws(() => parseRepositoryName('x'.repeat(256)), /longer than 255/);
  assert.equal(parseTag('v1.0'), 'v1.0');
  assert.throws(() => parseTag('a'.repeat(129)), /tag "a+\.\.\.": tag is longer than 128/);
  assert.throws(() => parseTag('-x'), InvalidInputError);
});
