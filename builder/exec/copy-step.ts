// COPY/ADD execution up to the layer entries and their cache identity: selects sources in the
// context (or a stage/image view for --from), fetches ADD URLs (with --checksum), and unpacks
// local ADD archives through the hardened extractor (entries climbing out with `..` are refused,
// symlinks cannot redirect writes). The layer itself is written by layer-output.ts.
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { closeSync, createReadStream, createWriteStream, readSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join, posix } from 'node:path';
import { DigestingStream } from '../../shared/digest.js';
import { ChangedError } from '../../shared/tar/safe-tree.js';
import { BuildStepError, errorAt, type SourceLocation } from '../errors.js';
import {
  cleanRel,
  hasWildcard,
  openSelected,
  selectSource,
  wildcardBaseExists,
  type SourceMatch,
} from '../context/select.js';
import type { ExpandedStep } from '../plan/expand.js';
import { planCopy, type PlannedCopy } from './copy-plan.js';
import { trackTemp } from './interrupt.js';
import type { FileDigester } from './file-digests.js';
import type { RootfsView } from './rootfs-view.js';
import { needsNamespace, type CacheOnlyProbe } from './namespace-probe.js';

type CopyStep = Extract<ExpandedStep, { kind: 'copy' }>;

export interface CopyInputs {
  step: CopyStep;
  loc: SourceLocation & { original: string };
  /** Where sources are looked up: the context dir, or a merged --from view. */
  sourceRoot?: string;
  isIgnored: (rel: string) => boolean;
  /** Walk into ignored directories (there are `!` re-includes). */
  descendIgnored: boolean;
  /** Resolved absolute destination base (WORKDIR applied). */
  workdir: string;
  uid: number;
  gid: number;
  view: RootfsView;
  /** A cache-only build (rootless, plain user): unpacking an archive needs the namespace. */
  cacheOnly?: CacheOnlyProbe;
  digester: FileDigester;
  tmpDir: string;
  /** The build time (seconds since the epoch). */
  now: number;
}

export interface CopyResult extends PlannedCopy {
  /** Temp dirs to remove once the layer is written. */
  temps: string[];
}

export async function prepareCopy(c: CopyInputs): Promise<CopyResult> {
  const { step, loc } = c;
  const temps: string[] = [];
  const matches: SourceMatch[] = [];
  const fileSources = step.sources.filter((s) => !s.heredoc);
  try {
    for (const src of fileSources) {
      if (step.add && /^https?:\/\//.test(src.path)) {
        const dir = trackTemp(await mkdtemp(join(c.tmpDir, 'url-')));
        temps.push(dir);
        const name = await fetchUrl(src.path, dir, step.checksum, loc);
        matches.push(...(await selectSource(dir, name, () => false)));
        continue;
      }
      if (!c.sourceRoot)
        throw new BuildStepError(
          loc.file,
          loc.line,
          `${loc.original.split(/\s/)[0]} failed: no build context`,
          'build from a directory, not `-`',
        );
      const found = await selectSource(c.sourceRoot, src.path, c.isIgnored, c.descendIgnored);
      // a wildcard matching nothing in a directory that is there copies nothing (BuildKit's
      // AllowEmptyWildcard for COPY/ADD); in a missing one it fails, as a plain source does
      const rel = cleanRel(src.path);
      if (
        found.length === 0 &&
        hasWildcard(rel) &&
        (await wildcardBaseExists(c.sourceRoot, rel, c.isIgnored))
      )
        continue;
      if (found.length === 0)
        throw new BuildStepError(
          loc.file,
          loc.line,
          `failed to compute cache key: "${src.path}": not found`,
          'the source is missing from the build context or excluded by .dockerignore',
        );
      for (const m of found) {
        // an archive is read as selected: below the root, the same inode (select.ts)
        const fd = step.add && m.root.stat.isFile() ? openSelected(m.root) : undefined;
        if (fd === undefined || !isArchive(fd)) {
          if (fd !== undefined) closeSync(fd);
          matches.push(m);
          continue;
        }
        const archive = createReadStream(m.root.abs, { fd, start: 0 });
        const named = new Set<string>();
        try {
          if (c.cacheOnly) needsNamespace(c.cacheOnly, 'unpacking an ADD archive');
          const dir = trackTemp(await mkdtemp(join(c.tmpDir, 'untar-')));
          temps.push(dir);
          const { extractLayer } = await import('../../shared/tar/extract.js');
          await extractLayer(archive, dir, {
            whiteouts: 'apply',
            onEntry: (p) => named.add(p),
          }).catch((e: Error) => {
            throw errorAt(
              loc,
              `ADD ${src.path}: ${e.message}`,
              'the archive was refused; nothing was written',
            );
          });
          const inner = await selectSource(dir, '/', () => false);
          matches.push(...inner.map((x) => ({ ...x, keepOwners: !step.chown, archive: named })));
        } finally {
          archive.destroy(); // closes fd (already closed when the archive was read to its end)
        }
      }
    }
    const multiple =
      step.sources.length > 1 || step.sources.some((s) => /[*?[]/.test(s.path) && !s.heredoc);
    const written = posix.resolve(c.workdir, step.dest);
    const dest = (await c.view.resolveDest(written)) + (step.dest.endsWith('/') ? '/' : '');
    const planned = await planCopy(
      matches,
      step.sources.flatMap((s) => (s.heredoc ? [s.heredoc] : [])),
      {
        dest,
        multiple,
        uid: c.uid,
        gid: c.gid,
        chmod: step.chmod,
        isDir: (p) => c.view.isDir(p),
        stat: (p) => c.view.stat(p),
        now: c.now,
      },
      c.digester,
    );
    return { ...planned, temps };
  } catch (e) {
    await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
    throw sourceChangedAt(loc, e);
  }
}

/** A source that changed between selection and read, as a step error (others unchanged). */
export function sourceChangedAt(loc: SourceLocation, e: unknown): unknown {
  if (!(e instanceof ChangedError)) return e;
  return new BuildStepError(
    loc.file,
    loc.line,
    e.message,
    'nothing else was read in its place; keep the build context still while it builds, and retry',
  );
}

/** Whether the file open on fd starts like a tar, gzip or zstd archive (fd stays open). */
function isArchive(fd: number): boolean {
  const buf = Buffer.alloc(512);
  const bytesRead = readSync(fd, buf, 0, 512, 0);
  if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return true;
  if (bytesRead >= 4 && buf.readUInt32BE(0) === 0x28b52ffd) return true;
  return bytesRead >= 262 && buf.toString('latin1', 257, 262) === 'ustar';
}

/**
 * Downloads an ADD URL into dir, streaming (any size, constant memory) through the registry
 * client's HTTP layer (redirects, retries, TLS trust); verifies --checksum before the file is
 * used. Returns the file name.
 */
async function fetchUrl(
  url: string,
  dir: string,
  checksum: string | undefined,
  loc: SourceLocation,
): Promise<string> {
  const [algo, hex] = checksum ? checksum.split(':') : ['sha256', undefined];
  if (algo !== 'sha256' && algo !== 'sha512')
    throw errorAt(loc, `unsupported --checksum ${checksum}`, 'use sha256:<hex> or sha512:<hex>');
  const { send, drain } = await import('../../shared/client/http.js');
  const res = await send({ method: 'GET', url }).catch((e: Error) => {
    throw new BuildStepError(loc.file, loc.line, `ADD ${url}: ${e.message}`);
  });
  if (res.status < 200 || res.status > 299) {
    await drain(res);
    throw new BuildStepError(loc.file, loc.line, `ADD ${url}: HTTP ${res.status}`);
  }
  const name = posix.basename(new URL(url).pathname) || 'download';
  const hashing = new DigestingStream(algo);
  const out = join(dir, name);
  try {
    await pipeline(res.body, hashing, createWriteStream(out, { mode: 0o600, flags: 'wx' }));
  } catch (e) {
    throw new BuildStepError(loc.file, loc.line, `ADD ${url}: ${(e as Error).message}`);
  }
  const got = hashing.digest().slice(algo.length + 1);
  if (hex !== undefined && got !== hex) {
    await rm(out, { force: true });
    throw new BuildStepError(
      loc.file,
      loc.line,
      `ADD ${url}: checksum mismatch: expected ${checksum}, got ${algo}:${got}`,
      'nothing was added',
    );
  }
  // The Dockerfile reference: the file's mtime is the response's Last-Modified, when it has one.
  const modified = Date.parse(String(res.headers['last-modified'] ?? ''));
  if (Number.isFinite(modified)) await utimes(out, modified / 1000, modified / 1000);
  return name;
}
