// The rows `tsimages` prints: one per tag (and one per untagged image kept in index.json), with
// docker's columns, human sizes (decimal, 3 significant digits) and "N hours ago" times.
import { familiarRepository, parseReference } from '../reference.js';
import { REF_NAME_ANNOTATION } from '../media-types.js';
import type { ContentStore } from './content-store.js';
import { imageSize, shortId } from './image.js';
import { indexPlatforms, loadShownImage, type PlatformEntry } from './image-platforms.js';

export interface ImageRow {
  Repository: string;
  Tag: string;
  /** Short id (12 hex), or the full config digest with noTrunc. */
  ID: string;
  Digest: string;
  CreatedAt: string;
  CreatedSince: string;
  Size: string;
  /** `linux/amd64,linux/arm64` for an index; the image's own platform otherwise. */
  Platforms: string;
  /** An index's platforms (tsimages --tree). */
  platforms?: PlatformEntry[];
  /** For sorting and filtering. */
  created: number;
  name?: string;
}

/** Rows for every stored image, newest first; images that cannot be read are skipped. */
export async function listImageRows(
  store: ContentStore,
  opts: { noTrunc?: boolean; now?: number } = {},
): Promise<ImageRow[]> {
  const doc = await store.readIndex();
  const rows: ImageRow[] = [];
  const now = opts.now ?? Date.now();
  for (const d of doc.manifests) {
    let image;
    let platforms: PlatformEntry[] | undefined;
    try {
      image = await loadShownImage(store, d);
      platforms = await indexPlatforms(store, d);
    } catch {
      continue; // no platform stored, or damaged: tsinspect says why
    }
    const name = d.annotations?.[REF_NAME_ANNOTATION];
    const ref = name ? parseReference(name) : undefined;
    const created = Date.parse(image.config.created ?? '') || 0;
    const id = image.configDescriptor.digest;
    rows.push({
      Repository: ref ? familiarRepository(ref) : '<none>',
      Tag: ref?.tag ?? '<none>',
      ID: opts.noTrunc ? id : shortId(id),
      Digest: d.digest,
      CreatedAt: created
        ? new Date(created)
            .toISOString()
            .replace('T', ' ')
            .replace(/\.\d+Z$/, ' +0000 UTC')
        : '',
      CreatedSince: created ? `${humanDuration(now - created)} ago` : 'N/A',
      Size: humanSize(imageSize(image)),
      Platforms: platforms
        ? platforms.map((p) => p.platform).join(',')
        : [image.config.os, image.config.architecture, image.config.variant]
            .filter(Boolean)
            .join('/'),
      ...(platforms ? { platforms } : {}),
      created,
      name,
    });
  }
  return rows.sort((a, b) => b.created - a.created);
}

/** docker's units.HumanSizeWithPrecision(n, 3): 1.09MB, 4.26kB, 0B. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** Column output like docker's tabwriter (min width 10, padding 3). */
export function formatColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(10, widths[i]! + 3))))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * `tsimages --tree` (docker images --tree): each image, then one line per platform of an index
 * (its manifest's short digest, size, and `(not stored)` for a platform that was not pulled).
 */
export function formatTree(rows: ImageRow[]): string {
  const table: string[][] = [['IMAGE', 'ID', 'SIZE', '']];
  for (const r of rows) {
    const name =
      r.Repository === '<none>' ? `<none>@${shortId(r.Digest)}` : `${r.Repository}:${r.Tag}`;
    table.push([name, r.ID, r.Size, r.platforms ? '' : r.Platforms]);
    (r.platforms ?? []).forEach((p, i, all) => {
      const branch = i === all.length - 1 ? '└─' : '├─';
      table.push([
        `${branch} ${p.platform}`,
        shortId(p.descriptor.digest),
        p.available ? humanSize(p.size) : '0B',
        p.available ? '' : '(not stored)',
      ]);
    });
  }
  return `${formatColumns(table)}\n`;
}
