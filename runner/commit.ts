// tscommit: a container's changes -> a new image. The overlay upper directory becomes one OCI
// layer (overlay whiteouts -> .wh. files, opaque dirs -> .wh..wh..opq) written straight into the
// store; the base image's config is carried over with the new diff_id and a history entry, and
// the manifest is tagged. A --rootfs container's directory becomes the base layer.
// A running container is frozen (its cgroup's freezer) while its files are read, as
// `docker commit` pauses it; with pause: false it runs on, and a file that changes while we read
// it is left out (reported) instead. Either way files are read only from inside the container's
// tree, never through a symlink (shared/tar/safe-tree.ts), so nothing of the host's gets in.
import { join } from 'node:path';
import {
  claimFrozen,
  containerDir,
  containerPid,
  findContainer,
  releaseFrozen,
} from './containers.js';
import { MediaType } from '../shared/media-types.js';
import { TsdockError } from '../shared/errors.js';
import type { ContainerState } from './containers.js';

export interface CommitOptions {
  message?: string;
  author?: string;
  /** Freeze a running container while its files are read (default true, as docker). */
  pause?: boolean;
  /** Told about each file left out because it changed while read (pause: false only). */
  onSkip?: (path: string) => void;
}

export interface CommitResult {
  /** config digest (the image id) */
  id: string;
  manifestDigest: string;
}

export async function commitContainer(
  ref: string,
  target: string,
  opts: CommitOptions = {},
): Promise<CommitResult> {
  // rootless hook: the upper dir holds files of the user's subordinate ids; read them as root
  // of its namespace (runner/rootless/userns.ts)
  if (process.getuid?.() !== 0) await (await import('./rootless/userns.js')).reexecInUserns();
  const st = await findContainer(ref);
  const running = containerPid(st) !== undefined;
  if (!running || opts.pause === false) return commitFiles(st, ref, target, opts);
  const { cgroupDriver } = await import('./cgroup-driver.js');
  const cgroup = cgroupDriver().open(st.id);
  const thawOnSignal = (signal: NodeJS.Signals) => {
    cgroup.thaw();
    releaseFrozen(st.id);
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, thawOnSignal);
  claimFrozen(st.id); // if we die while it is frozen, the next command thaws it
  try {
    await cgroup.freeze();
    return await commitFiles(st, ref, target, opts);
  } finally {
    try {
      cgroup.thaw();
      releaseFrozen(st.id);
    } finally {
      for (const sig of signals) process.off(sig, thawOnSignal);
    }
  }
}

async function commitFiles(
  st: ContainerState,
  ref: string,
  target: string,
  opts: CommitOptions,
): Promise<CommitResult> {
  const readOpts = {
    changed: opts.pause === false ? ('skip' as const) : ('error' as const),
    onSkip: opts.onSkip,
  };
  const { ContentStore } = await import('../shared/store/content-store.js');
  const { loadImage } = await import('../shared/store/image.js');
  const { writeLayerFromOverlayUpper, writeLayerFromDir } =
    await import('../shared/tar/layer-writer.js');
  const store = await ContentStore.open();
  const layerInto = async (
    write: (
      out: import('node:stream').Writable,
    ) => Promise<{ digest: string; diffId: string; size: number; mediaType: string }>,
  ) => {
    const writer = await store.blobWriter();
    try {
      const res = await write(writer.stream);
      await writer.commit({ digest: res.digest });
      return res;
    } catch (err) {
      await writer.abort();
      throw err;
    }
  };
  const now = new Date().toISOString();
  let config: Record<string, unknown>;
  let layers: { mediaType: string; digest: string; size: number }[];
  const history: Record<string, unknown>[] = [];
  if (st.imageId.startsWith('rootfs:')) {
    const base = await layerInto((out) => writeLayerFromDir(st.layers[0]!, out, readOpts));
    layers = [{ mediaType: base.mediaType, digest: base.digest, size: base.size }];
    config = {
      created: now,
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      config: { Env: st.spec.env.filter((e) => e.startsWith('PATH=')), Cmd: st.spec.argv },
      rootfs: { type: 'layers', diff_ids: [base.diffId] },
    };
    history.push({ created: now, created_by: `tsrun --rootfs ${st.layers[0]}` });
  } else {
    const base = await loadImage(store, st.imageId).catch((err: unknown) => {
      throw new TsdockError(`the image of container ${ref} is gone from the store`, String(err));
    });
    config = JSON.parse(JSON.stringify(base.config)) as Record<string, unknown>;
    layers = base.manifest.layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
    }));
    history.push(...((config.history as Record<string, unknown>[] | undefined) ?? []));
  }
  const upper = join(containerDir(st.id), 'upper');
  const lowerDirs = [...st.layers].reverse();
  const layer = await layerInto((out) =>
    writeLayerFromOverlayUpper(upper, out, { lowerDirs, ...readOpts }),
  );
  layers.push({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size });
  const rootfs = config.rootfs as { diff_ids: string[] };
  rootfs.diff_ids = [...rootfs.diff_ids, layer.diffId];
  history.push({
    created: now,
    created_by: `tscommit ${st.spec.argv.join(' ')}`,
    ...(opts.author ? { author: opts.author } : {}),
    ...(opts.message ? { comment: opts.message } : {}),
  });
  config.history = history;
  config.created = now;
  if (opts.author) config.author = opts.author;
  const configDesc = await store.putJson(config, MediaType.OciConfig);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDesc.digest, size: configDesc.size },
    layers,
  };
  const manifestDesc = await store.putJson(manifest, MediaType.OciManifest);
  await store.tag(target, manifestDesc);
  return { id: configDesc.digest, manifestDigest: manifestDesc.digest };
}
