// QEMU user emulation for foreign platforms (RUN of an arm64 stage, tsrun --platform): whether
// the kernel runs a platform's binaries (binfmt_misc handler `qemu-<arch>`, enabled, with the
// fix-binary flag F so the interpreter, opened when registered, works inside a container's own
// root), and registering / removing those handlers from Debian's qemu-user-static (as
// tonistiigi/binfmt does). Registering is host-global: only done when asked for.
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { TsdockError } from './errors.js';
import type { Platform } from './manifest.js';
import { currentPlatform, formatPlatform, platformsEqual } from './platform.js';

export const BINFMT_MISC = '/proc/sys/fs/binfmt_misc';
/** Where Debian's qemu-user-static puts its binfmt registrations (systemd-binfmt's format). */
export const BINFMT_CONF_DIR = '/usr/lib/binfmt.d';

/** How to make emulation available, said in every "unavailable" message. */
const HOW =
  'install qemu-user-static (apt-get install qemu-user-static) and run `tsbuild --install-emulators` as root';

/** QEMU's name for an OCI architecture (qemu-<name>, the binfmt_misc entry). */
export function qemuArch(p: Platform): string | undefined {
  const byArch: Record<string, string> = {
    amd64: 'x86_64',
    arm64: 'aarch64',
    arm: 'arm',
    '386': 'i386',
    ppc64le: 'ppc64le',
    ppc64: 'ppc64',
    s390x: 's390x',
    riscv64: 'riscv64',
    mips64le: 'mips64el',
    mips64: 'mips64',
    mipsle: 'mipsel',
    mips: 'mips',
    loong64: 'loongarch64',
  };
  return p.os === 'linux' ? byArch[p.architecture] : undefined;
}

export type EmulationStatus = { ok: true; native: boolean } | { ok: false; reason: string };

/** Whether this machine can run `p`'s binaries: natively, or through a usable QEMU handler. */
export async function emulationStatus(p: Platform): Promise<EmulationStatus> {
  if (platformsEqual(p, currentPlatform())) return { ok: true, native: true };
  // amd64 machines run 386 binaries themselves
  if (currentPlatform().architecture === 'amd64' && p.architecture === '386' && p.os === 'linux')
    return { ok: true, native: true };
  const name = qemuArch(p);
  const what = `running ${formatPlatform(p)} binaries needs QEMU user emulation`;
  if (!name) return { ok: false, reason: `${what}, and QEMU has no emulator for that platform` };
  if (!existsSync(`${BINFMT_MISC}/status`))
    return { ok: false, reason: `${what}, but binfmt_misc is not mounted: ${HOW}` };
  const entry = await readEntry(`qemu-${name}`);
  if (!entry)
    return { ok: false, reason: `${what}, but no qemu-${name} handler is registered: ${HOW}` };
  if (!entry.enabled)
    return { ok: false, reason: `${what}, but the qemu-${name} handler is disabled: ${HOW}` };
  if (!entry.flags.includes('F'))
    return {
      ok: false,
      reason: `${what}, but qemu-${name} is registered without the fix-binary flag (F), so containers cannot find ${entry.interpreter}: run \`tsbuild --uninstall-emulators\` then \`tsbuild --install-emulators\` as root`,
    };
  return { ok: true, native: false };
}

/** docker's check for `run --platform P IMAGE` when IMAGE is a single-platform image. */
export function checkImagePlatform(
  ref: string,
  config: { os?: string; architecture?: string; variant?: string },
  want: Platform,
): void {
  const actual: Platform = {
    os: config.os || 'linux',
    architecture: config.architecture || want.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  if (!platformsEqual(actual, want))
    throw new TsdockError(
      `image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(actual)}`,
      'pull or build that platform (tsbuild --platform), or run without --platform',
    );
}

/** Throws a one-line TsdockError when `p` can be neither run natively nor emulated. */
export async function requireEmulation(p: Platform): Promise<void> {
  const s = await emulationStatus(p);
  if (!s.ok) throw new TsdockError(s.reason);
}

interface BinfmtEntry {
  enabled: boolean;
  interpreter: string;
  flags: string;
}

async function readEntry(name: string): Promise<BinfmtEntry | undefined> {
  const text = await readFile(`${BINFMT_MISC}/${name}`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  return {
    enabled: lines[0] === 'enabled',
    interpreter: lines.find((l) => l.startsWith('interpreter '))?.slice(12) ?? '',
    flags:
      lines
        .find((l) => l.startsWith('flags:'))
        ?.slice(6)
        .trim() ?? '',
  };
}

/** Mounts binfmt_misc when it is not; returns whether it did. Needs root. */
export function mountBinfmtMisc(): boolean {
  if (existsSync(`${BINFMT_MISC}/status`)) return false;
  const r = spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_MISC], {
    encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new TsdockError(
      `cannot mount binfmt_misc on ${BINFMT_MISC}: ${r.stderr.trim() || `mount exited ${r.status}`}`,
      'run as root (a container needs --privileged)',
    );
  return true;
}

/**
 * Registers Debian's QEMU handler (with the fix-binary flag) for each platform that cannot run
 * yet; returns the entry names it registered, for `unregisterEmulators`. Needs root.
 */
export async function registerEmulators(platforms: Platform[]): Promise<string[]> {
  mountBinfmtMisc();
  const done: string[] = [];
  for (const p of platforms) {
    if ((await emulationStatus(p)).ok) continue;
    const name = qemuArch(p);
    if (!name) throw new TsdockError(`QEMU has no emulator for ${formatPlatform(p)}`);
    const entry = `qemu-${name}`;
    if (await readEntry(entry))
      throw new TsdockError(
        `binfmt_misc handler ${entry} exists but cannot be used (disabled or without the F flag)`,
        'remove it with `tsbuild --uninstall-emulators` first',
      );
    await writeFile(`${BINFMT_MISC}/register`, await registrationLine(entry));
    done.push(entry);
  }
  return done;
}

/** Every platform Debian's qemu-user-static has a registration for. */
export async function installablePlatforms(): Promise<Platform[]> {
  const names = await readdir(BINFMT_CONF_DIR).catch(() => [] as string[]);
  const all: Platform[] = [
    'amd64',
    'arm64',
    'arm',
    '386',
    'ppc64le',
    's390x',
    'riscv64',
    'mips64le',
    'loong64',
  ].map((architecture) => ({ os: 'linux', architecture }));
  return all.filter((p) => names.includes(`qemu-${qemuArch(p)}.conf`));
}

/** Removes binfmt_misc handlers by entry name (`qemu-aarch64`); missing ones are skipped. */
export async function unregisterEmulators(names: string[]): Promise<void> {
  for (const n of names) {
    if (!/^qemu-[a-z0-9_]+$/.test(n)) throw new TsdockError(`not a QEMU handler name: ${n}`);
    if (existsSync(`${BINFMT_MISC}/${n}`)) await writeFile(`${BINFMT_MISC}/${n}`, '-1');
  }
}

/** Names of the registered qemu-* handlers. */
export async function registeredEmulators(): Promise<string[]> {
  const names = await readdir(BINFMT_MISC).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('qemu-')).sort();
}

/** Debian's `:qemu-aarch64:M::magic:mask:interpreter:flags` line, with F added to its flags. */
async function registrationLine(entry: string): Promise<string> {
  const file = `${BINFMT_CONF_DIR}/${entry}.conf`;
  const text = await readFile(file, 'utf8').catch(() => {
    throw new TsdockError(`${file} not found`, 'apt-get install qemu-user-static');
  });
  const line = text.split('\n').find((l) => l.startsWith(`:${entry}:`));
  if (!line) throw new TsdockError(`${file} has no registration for ${entry}`);
  const fields = line.split(':');
  const flags = fields[fields.length - 1]!;
  if (!existsSync(fields[fields.length - 2]!))
    throw new TsdockError(`${entry}: interpreter ${fields[fields.length - 2]} not found`, HOW);
  fields[fields.length - 1] = flags.includes('F') ? flags : `${flags}F`;
  return fields.join(':');
}

/**
 * `tsbuild --install-emulators` / `--uninstall-emulators`: registers QEMU for `platforms` (all
 * Debian provides when empty) or removes every qemu-* handler; returns lines to print.
 */
export async function manageEmulators(install: boolean, platforms: Platform[]): Promise<string[]> {
  if (process.getuid?.() !== 0)
    throw new TsdockError(
      'binfmt_misc handlers are host-wide: changing them needs root',
      `run tsbuild --${install ? 'install' : 'uninstall'}-emulators as root`,
    );
  if (!install) {
    const names = await registeredEmulators();
    await unregisterEmulators(names);
    return names.map((n) => `removed ${n}`);
  }
  const wanted = platforms.length > 0 ? platforms : await installablePlatforms();
  if (wanted.length === 0) throw new TsdockError('no QEMU emulators found', HOW);
  const added = await registerEmulators(wanted);
  const lines = added.map((n) => `registered ${n}`);
  for (const p of wanted) {
    const s = await emulationStatus(p);
    lines.push(`${formatPlatform(p)}: ${s.ok ? (s.native ? 'native' : 'emulated') : s.reason}`);
  }
  return lines;
}
