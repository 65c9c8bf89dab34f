// QEMU emulation for a test file: registers in binfmt_misc only the handlers that are missing
// (mounting binfmt_misc if it is not), and release() removes exactly those (and unmounts what it
// mounted when nothing else is registered), so the host is left as it was found.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import {
  BINFMT_MISC,
  emulationStatus,
  mountBinfmtMisc,
  registerEmulators,
  unregisterEmulators,
} from '../../shared/emulation.js';
import type { Platform } from '../../shared/manifest.js';

export interface Emulation {
  release(): Promise<void>;
}

/** Emulation for `platforms`, or the reason it cannot be had here (to skip with). */
export async function ensureEmulation(
  platforms: Platform[],
): Promise<Emulation | { reason: string }> {
  if (process.getuid?.() !== 0) return { reason: 'registering QEMU in binfmt_misc needs root' };
  let mounted = false;
  let registered: string[] = [];
  try {
    mounted = mountBinfmtMisc();
    registered = await registerEmulators(platforms);
    for (const p of platforms) {
      const s = await emulationStatus(p);
      if (!s.ok) throw new Error(s.reason);
    }
  } catch (e) {
    await release(registered, mounted);
    return { reason: (e as Error).message };
  }
  return { release: () => release(registered, mounted) };
}

async function release(registered: string[], mounted: boolean): Promise<void> {
  await unregisterEmulators(registered);
  if (!mounted) return;
  const left = readdirSync(BINFMT_MISC).filter((n) => n !== 'register' && n !== 'status');
  if (left.length === 0) spawnSync('umount', [BINFMT_MISC]);
}
