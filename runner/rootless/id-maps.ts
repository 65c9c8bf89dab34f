// The id mappings of a rootless user namespace (pure): the user becomes root, and its
// /etc/subuid and /etc/subgid ranges (`name:start:count` or `uid:start:count` lines, as
// shadow's newuidmap reads them) follow as ids 1..N, the layout podman and rootlesskit use.
// With no range, only the user itself is mapped: files of other owners cannot be made.

export interface IdRange {
  /** first id inside the namespace */
  inside: number;
  /** first id outside (on the host) */
  outside: number;
  count: number;
}

/** The ranges of `/etc/subuid`-style TEXT that belong to NAME or ID, in file order. */
export function subordinateRanges(text: string, name: string, id: number): IdRange[] {
  const ranges: IdRange[] = [];
  let next = 1;
  for (const line of text.split('\n')) {
    const m = /^\s*([^:#\s]+):(\d+):(\d+)\s*$/.exec(line);
    if (!m || (m[1] !== name && m[1] !== String(id))) continue;
    const count = Number(m[3]);
    if (count <= 0) continue;
    ranges.push({ inside: next, outside: Number(m[2]), count });
    next += count;
  }
  return ranges;
}

/** The full mapping: ID as root, then the subordinate ranges. */
export function namespaceMap(id: number, ranges: IdRange[]): IdRange[] {
  return [{ inside: 0, outside: id, count: 1 }, ...ranges];
}

/** newuidmap/newgidmap's arguments after the pid: `inside outside count` triples. */
export function mapArgs(map: IdRange[]): string[] {
  return map.flatMap((r) => [String(r.inside), String(r.outside), String(r.count)]);
}

/** The host id that id INSIDE maps to, or undefined when it is not mapped. */
export function hostId(map: IdRange[], inside: number): number | undefined {
  const r = map.find((x) => inside >= x.inside && inside < x.inside + x.count);
  return r ? r.outside + (inside - r.inside) : undefined;
}

/**
 * The id inside the namespace that host id HOST shows as: the inverse of hostId, and the
 * kernel's overflow id (65534) for a host id the mapping does not cover.
 */
export function insideId(map: IdRange[], host: number): number {
  const r = map.find((x) => host >= x.outside && host < x.outside + x.count);
  return r ? r.inside + (host - r.outside) : 65534;
}
