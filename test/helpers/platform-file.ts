// Reads a file from one platform's image of a multi-platform index, as peers pick it: skopeo
// copies that platform (--override-arch/--override-variant) to a temp OCI layout, umoci unpacks.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, unpackLayout } from './builder-run.js';

/** `path` in the `platform` (os/arch[/variant]) image of `source` (`oci:L:ref`, `docker://r`). */
export async function readPlatformFile(
  source: string,
  platform: string,
  path: string,
  tmp: string,
): Promise<string> {
  const [os, arch, variant] = platform.split('/');
  const dest = await mkdtemp(join(tmp, 'pick-'));
  try {
    run('skopeo', [
      'copy',
      '-q',
      ...(source.startsWith('docker://') ? ['--src-tls-verify=false'] : []),
      '--override-os',
      os!,
      '--override-arch',
      arch!,
      ...(variant ? ['--override-variant', variant] : []),
      source,
      `oci:${dest}:x`,
    ]);
    const u = await unpackLayout(dest, 'x');
    try {
      return readFileSync(join(u.rootfs, path), 'utf8');
    } finally {
      await u.close();
    }
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}
