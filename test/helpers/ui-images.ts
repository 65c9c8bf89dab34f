// Images for the console's tests and benchmark: an image whose config has env, cmd, labels and
// a history (the lines the manifest page shows), a two-platform index, both as OCI layouts for
// skopeo to push; and many tags of one manifest, PUT concurrently.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { imageOf, sha256, type TestImage } from './registry-server.js';

export function describedImage(arch: string, layerSizes: number[]): TestImage {
  const layers = layerSizes.map((n) => randomBytes(n));
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      created: '2026-01-02T03:04:05Z',
      config: {
        Env: ['PATH=/usr/bin:/bin', 'NAME=World'],
        Cmd: ['python', 'app.py'],
        Entrypoint: ['/entry.sh'],
        WorkingDir: '/app',
        Labels: { 'org.opencontainers.image.title': 'ui-test' },
      },
      rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
      history: [
        ...layers.map((_, i) => ({
          created: '2026-01-02T03:04:05Z',
          created_by: `/bin/sh -c #(nop) ADD file:layer${i} in /app`,
        })),
        { created_by: 'ENV NAME=World', empty_layer: true },
        { created_by: 'CMD ["python" "app.py"]', empty_layer: true },
      ],
    }),
  );
  return imageOf(config, layers, 'application/vnd.oci.image.layer.v1.tar+gzip');
}

/** An OCI layout holding `images` under `tag`: one image, or an index of several platforms. */
export function writeLayout(dir: string, tag: string, images: TestImage[], arches: string[]): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (blob: Buffer): void =>
    writeFileSync(join(dir, 'blobs', 'sha256', sha256(blob).slice(7)), blob);
  for (const img of images) for (const b of [img.config, ...img.layers, img.manifest]) put(b);
  let top = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: images[0]!.digest,
    size: images[0]!.manifest.length,
  };
  if (images.length > 1) {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: images.map((img, i) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: img.digest,
          size: img.manifest.length,
          platform: { os: 'linux', architecture: arches[i] },
        })),
      }),
    );
    put(index);
    top = {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: sha256(index),
      size: index.length,
    };
  }
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}

/** PUTs one stored manifest under `count` tags (`t00000`...), `concurrency` at a time. */
export async function tagMany(
  url: string,
  repo: string,
  manifest: Buffer,
  count: number,
  headers: Record<string, string> = {},
  concurrency = 16,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const tag = `t${String(next++).padStart(5, '0')}`;
      const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', ...headers },
        body: manifest,
      });
      if (res.status !== 201) throw new Error(`PUT ${tag}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
