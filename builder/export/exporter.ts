// The exporter: image config + manifest into the local store, tagged under every -t; then the
// requested outputs (`type=oci|docker,dest=file.tar`, `type=oci-dir`) and --push.
import type { Descriptor } from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';
import type { ContentStore } from '../../shared/store/content-store.js';
import type { ExportFormat } from '../../shared/store/layout-io.js';
import { InvalidInputError } from '../../shared/errors.js';
import type { OciImageConfig } from '../image/image-config.js';
import type { LayerRef } from '../cache/build-cache.js';

export interface OutputSpec {
  type: 'oci' | 'docker' | 'oci-dir' | 'image';
  dest?: string;
}

export interface ExportedImage {
  manifest: Descriptor;
  config: Descriptor;
}

export async function writeImage(
  store: ContentStore,
  config: OciImageConfig,
  layers: LayerRef[],
  created: string,
): Promise<ExportedImage> {
  const doc: OciImageConfig = { ...config, created };
  const configDesc = await store.putJson(doc, MediaType.OciConfig);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDesc.digest, size: configDesc.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestDesc = await store.putJson(manifest, MediaType.OciManifest);
  return { manifest: manifestDesc, config: configDesc };
}

/** `--output type=oci,dest=x.tar` and friends (docker's syntax; a bare path means type=local-ish oci tar). */
export function parseOutput(spec: string): OutputSpec {
  const fields = new Map(
    spec.split(',').map((kv) => [kv.split('=')[0]!, kv.split('=').slice(1).join('=')] as const),
  );
  if (!spec.includes('=')) return { type: 'oci', dest: spec };
  const type = fields.get('type') ?? 'oci';
  if (!['oci', 'docker', 'oci-dir', 'image'].includes(type))
    throw new InvalidInputError(
      `unsupported --output type "${type}"`,
      'use type=oci, type=docker or type=oci-dir with dest=PATH',
    );
  const dest = fields.get('dest');
  if (type !== 'image' && !dest)
    throw new InvalidInputError(`--output type=${type} needs dest=PATH`);
  return { type: type as OutputSpec['type'], dest };
}

export async function writeOutputs(
  store: ContentStore,
  ref: string,
  outputs: OutputSpec[],
): Promise<void> {
  for (const o of outputs) {
    if (o.type === 'image' || !o.dest) continue;
    const { exportLayout } = await import('../../shared/store/layout-io.js');
    const format: ExportFormat =
      o.type === 'docker' ? 'docker-tar' : o.type === 'oci-dir' ? 'oci-dir' : 'oci-tar';
    await exportLayout(store, [ref], o.dest === '-' ? process.stdout : o.dest, { format });
  }
}
