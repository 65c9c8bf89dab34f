// Manifest, index and image-config parsing: media type resolution, schema1 rejection, and
// field-named errors for every kind of malformed document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../../shared/digest.js';
import { InvalidInputError } from '../../shared/errors.js';
import {
  manifestReferences,
  parseImageConfig,
  parseManifest,
  serializeJson,
  validateDescriptor,
} from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;

function ociManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: D1, size: 100 },
    layers: [
      { mediaType: MediaType.OciLayerGzip, digest: D2, size: 2000 },
      { mediaType: MediaType.OciLayerGzip, digest: D3, size: 3000 },
    ],
    ...extra,
  };
}

function ociIndex(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      {
        mediaType: MediaType.OciManifest,
        digest: D1,
        size: 500,
        platform: { architecture: 'amd64', os: 'linux' },
      },
    ],
    ...extra,
  };
}

const buf = (v: unknown) => Buffer.from(JSON.stringify(v));

function fails(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidInputError, `not an InvalidInputError: ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('parses OCI and Docker manifests and indexes', () => {
  const m = parseManifest(buf(ociManifest()));
  assert.equal(m.kind, 'manifest');
  assert.equal(m.mediaType, MediaType.OciManifest);
  assert.equal(m.kind === 'manifest' && m.manifest.layers[1]!.digest, D3);
  assert.deepEqual(
    manifestReferences(m).map((d) => d.digest),
    [D1, D2, D3],
  );

  const docker = ociManifest({ mediaType: MediaType.DockerManifest });
  assert.equal(
    parseManifest(buf(docker), MediaType.DockerManifest).mediaType,
    MediaType.DockerManifest,
  );

  const i = parseManifest(buf(ociIndex()), `${MediaType.OciIndex}; charset=utf-8`);
  assert.equal(i.kind, 'index');
  assert.deepEqual(
    manifestReferences(i).map((d) => d.digest),
    [D1],
  );
  const list = ociIndex({ mediaType: MediaType.DockerManifestList });
  assert.equal(parseManifest(buf(list)).mediaType, MediaType.DockerManifestList);
});

test('media type: body, else content type, else inferred; mismatch is an error', () => {
  const { mediaType: _m, ...bare } = ociManifest();
  assert.equal(parseManifest(buf(bare)).mediaType, MediaType.OciManifest);
  assert.equal(
    parseManifest(buf(bare), MediaType.DockerManifest).mediaType,
    MediaType.DockerManifest,
  );
  assert.equal(parseManifest(buf(bare), 'application/json').mediaType, MediaType.OciManifest);
  const { mediaType: _i, ...bareIndex } = ociIndex();
  assert.equal(parseManifest(buf(bareIndex)).kind, 'index');
  fails(
    () => parseManifest(buf(ociManifest()), MediaType.DockerManifest),
    /^manifest\.mediaType: ".*oci.image.manifest.*" does not match the content type ".*docker.*"/,
  );
  fails(
    () => parseManifest(buf(bare), 'image/png'),
    /manifest: unsupported content type "image\/png"/,
  );
  fails(
    () => parseManifest(buf(ociManifest({ mediaType: 'application/vnd.foo+json' }))),
    /manifest\.mediaType: unsupported manifest media type "application\/vnd.foo\+json"/,
  );
  fails(
    () => parseManifest(buf({ schemaVersion: 2 })),
    /manifest\.mediaType: missing, and the document has neither/,
  );
  fails(
    () => parseManifest(buf(ociManifest({ manifests: [] }))),
    /manifest\.manifests: an image manifest has no "manifests"/,
  );
  fails(
    () => parseManifest(buf(ociIndex({ layers: [] }))),
    /an image index has no "config" or "layers"/,
  );
});

test('rejects schema1 and bad schemaVersion', () => {
  fails(
    () => parseManifest(buf({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] })),
    /schema1 manifests are not supported/,
  );
  fails(
    () =>
      parseManifest(
        buf({ schemaVersion: 2 }),
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
      ),
    /schema1/,
  );
  fails(
    () => parseManifest(buf(ociManifest({ schemaVersion: 3 }))),
    /manifest\.schemaVersion: must be 2, got 3/,
  );
  fails(
    () => parseManifest(buf(ociManifest({ schemaVersion: '2' }))),
    /manifest\.schemaVersion: must be 2, got "2"/,
  );
});

test('malformed documents name the field', () => {
  const bad = (patch: (m: Record<string, unknown>) => void, re: RegExp) => {
    const m = structuredClone(ociManifest());
    patch(m);
    fails(() => parseManifest(buf(m)), re);
  };
  const layer = (m: Record<string, unknown>, i: number) =>
    (m['layers'] as Record<string, unknown>[])[i]!;
  fails(() => parseManifest(Buffer.from('{"schemaVersion":2,')), /^manifest: invalid JSON/);
  fails(() => parseManifest(Buffer.from('[1]')), /^manifest: must be an object, got an array/);
  bad(
    (m) => (layer(m, 1)['digest'] = 'sha256:xyz'),
    /^manifest\.layers\[1\]\.digest: invalid sha256 digest/,
  );
  bad((m) => delete layer(m, 0)['digest'], /^manifest\.layers\[0\]\.digest: is required/);
  bad(
    (m) => (layer(m, 0)['size'] = -1),
    /^manifest\.layers\[0\]\.size: must be a non-negative integer, got -1/,
  );
  bad((m) => (layer(m, 0)['size'] = 1.5), /^manifest\.layers\[0\]\.size: must be a non-negative/);
  bad((m) => (layer(m, 0)['size'] = '12'), /^manifest\.layers\[0\]\.size: .*got "12"/);
  bad((m) => delete layer(m, 1)['mediaType'], /^manifest\.layers\[1\]\.mediaType: is required/);
  bad(
    (m) => (layer(m, 1)['mediaType'] = 'not a type'),
    /^manifest\.layers\[1\]\.mediaType: invalid media type/,
  );
  bad((m) => (layer(m, 1)['urls'] = [1]), /^manifest\.layers\[1\]\.urls\[0\]: must be a string/);
  bad(
    (m) => (layer(m, 1)['annotations'] = { a: 1 }),
    /^manifest\.layers\[1\]\.annotations\.a: must be a string/,
  );
  bad(
    (m) => (layer(m, 1)['annotations'] = { 'org.x': false }),
    /^manifest\.layers\[1\]\.annotations\["org\.x"\]: must be a string/,
  );
  bad((m) => (m['layers'] = {}), /^manifest\.layers: must be an array, got an object/);
  bad((m) => delete m['layers'], /^manifest\.layers: must be an array, got nothing/);
  bad((m) => delete m['config'], /^manifest\.config: must be an object, got nothing/);
  bad((m) => (m['config'] = null), /^manifest\.config: must be an object, got null/);
  bad(
    (m) => (m['subject'] = { mediaType: MediaType.OciManifest, digest: D1 }),
    /^manifest\.subject\.size/,
  );
  bad((m) => (m['annotations'] = []), /^manifest\.annotations: must be an object/);
  bad((m) => (m['artifactType'] = 7), /^manifest\.artifactType: must be a string/);

  const i = structuredClone(ociIndex());
  const entry = (i['manifests'] as Record<string, unknown>[])[0]!;
  entry['platform'] = { os: 'linux' };
  fails(
    () => parseManifest(buf(i)),
    /^manifest\.manifests\[0\]\.platform\.architecture: is required/,
  );
  entry['platform'] = { os: 'linux', architecture: 'amd64', 'os.features': 'x' };
  fails(
    () => parseManifest(buf(i)),
    /^manifest\.manifests\[0\]\.platform\["os\.features"\]: must be an array/,
  );
  i['manifests'] = 'x';
  fails(() => parseManifest(buf(i)), /^manifest\.manifests: must be an array, got "x"/);
});

test('embedded data must match size and digest', () => {
  const content = Buffer.from('{}');
  const good = {
    mediaType: MediaType.OciEmpty,
    digest: digestOf(content),
    size: 2,
    data: content.toString('base64'),
  };
  assert.equal(validateDescriptor(good, 'd').data, 'e30=');
  fails(
    () => validateDescriptor({ ...good, size: 3 }, 'd'),
    /^d\.data: decodes to 2 bytes but size is 3/,
  );
  fails(() => validateDescriptor({ ...good, digest: D1 }, 'd'), /^d\.data: does not match digest/);
  fails(() => validateDescriptor({ ...good, data: '!!' }, 'd'), /^d\.data: is not base64/);
});

test('keeps unknown fields and the exact descriptor content', () => {
  const m = ociManifest({ annotations: { 'org.opencontainers.image.created': 'now' }, extra: 1 });
  const p = parseManifest(buf(m));
  assert.deepEqual(p.manifest, m);
});

test('serializeJson is compact JSON', () => {
  const v = { a: [1, { b: 'c' }], d: 'é' };
  assert.equal(serializeJson(v).toString(), '{"a":[1,{"b":"c"}],"d":"é"}');
  assert.ok(Buffer.isBuffer(serializeJson(v)));
});

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    created: '2024-01-02T03:04:05.123456789Z',
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/bin', 'NAME=World'],
      Cmd: ['/bin/sh'],
      ExposedPorts: { '80/tcp': {} },
      WorkingDir: '/app',
      Labels: { a: 'b' },
    },
    rootfs: { type: 'layers', diff_ids: [D1, D2] },
    history: [
      { created_by: 'ADD x /', empty_layer: false },
      { created_by: 'ENV', empty_layer: true },
    ],
    ...extra,
  };
}

test('parses image configs, dropping Docker nulls', () => {
  const c = parseImageConfig(buf(config()));
  assert.equal(c.architecture, 'amd64');
  assert.deepEqual(c.rootfs.diff_ids, [D1, D2]);
  assert.equal(c.config?.WorkingDir, '/app');
  assert.equal(c.history?.[1]?.empty_layer, true);
  const withNulls = config({
    config: { Cmd: null, Entrypoint: null, Env: null, Labels: null, Volumes: null, OnBuild: null },
    container_config: { Hostname: 'x' },
    docker_version: '24',
  });
  const n = parseImageConfig(buf(withNulls));
  assert.equal(n.config?.Cmd, undefined);
  assert.ok(!('Entrypoint' in (n.config ?? {})));
  assert.equal((n as unknown as Record<string, unknown>)['docker_version'], '24');
  assert.ok(parseImageConfig(buf(config({ config: null }))));
});

test('malformed image configs name the field', () => {
  const bad = (patch: (c: Record<string, unknown>) => void, re: RegExp) => {
    const c = structuredClone(config());
    patch(c);
    fails(() => parseImageConfig(buf(c)), re);
  };
  const cc = (c: Record<string, unknown>) => c['config'] as Record<string, unknown>;
  fails(() => parseImageConfig(Buffer.from('nope')), /^config: invalid JSON/);
  bad((c) => delete c['architecture'], /^config\.architecture: is required/);
  bad((c) => (c['os'] = ''), /^config\.os: must be a non-empty string/);
  bad((c) => delete c['rootfs'], /^config\.rootfs: is required/);
  bad(
    (c) => (c['rootfs'] = { type: 'x', diff_ids: [] }),
    /^config\.rootfs\.type: must be "layers", got "x"/,
  );
  bad((c) => (c['rootfs'] = { type: 'layers' }), /^config\.rootfs\.diff_ids: must be an array/);
  bad(
    (c) => (c['rootfs'] = { type: 'layers', diff_ids: [D1, 'sha256:1'] }),
    /^config\.rootfs\.diff_ids\[1\]: invalid sha256 digest/,
  );
  bad((c) => (cc(c)['Env'] = 'A=1'), /^config\.config\.Env: must be an array of strings/);
  bad(
    (c) => (cc(c)['Env'] = ['A=1', null]),
    /^config\.config\.Env\[1\]: must be a string, got null/,
  );
  bad((c) => (cc(c)['Cmd'] = ['sh', 2]), /^config\.config\.Cmd\[1\]: must be a string/);
  bad(
    (c) => (cc(c)['ExposedPorts'] = { '80/tcp': 1 }),
    /^config\.config\.ExposedPorts\["80\/tcp"\]: must be an object/,
  );
  bad((c) => (cc(c)['User'] = 0), /^config\.config\.User: must be a string, got 0/);
  bad((c) => (cc(c)['ArgsEscaped'] = 'yes'), /^config\.config\.ArgsEscaped: must be true or false/);
  bad(
    (c) => (cc(c)['Healthcheck'] = { Retries: 'x' }),
    /^config\.config\.Healthcheck\.Retries: must be an integer/,
  );
  bad(
    (c) => (c['history'] = [{}, { empty_layer: 1 }]),
    /^config\.history\[1\]\.empty_layer: must be true or false/,
  );
  bad((c) => (c['history'] = {}), /^config\.history: must be an array/);
});
