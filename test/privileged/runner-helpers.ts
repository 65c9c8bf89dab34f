// Test fixtures for the runner's privileged tests: a busybox rootfs made from the host's static
// busybox (busybox-static), and a cleanup check for leftovers (mounts, cgroups, processes).
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';

/** A fresh busybox root filesystem directory (with /etc/passwd, /etc/group). */
export function makeBusyboxRootfs(parent = mkdtempSync(join(tmpdir(), 'tsdock-rootfs-'))): string {
  const root = join(parent, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  execFileSync('chmod', ['755', join(root, 'bin/busybox')]);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n');
  for (const a of applets) if (a && a !== 'busybox') symlinkSync('busybox', join(root, 'bin', a));
  writeFileSync(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
  );
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return root;
}

/** Host mounts whose path contains `needle` (from /proc/self/mountinfo). */
export function mountsMatching(needle: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(needle));
}

/** Container cgroups left under tsdock/ in any v1 hierarchy or the v2 tree. */
export function leftoverCgroups(prefix = ''): string[] {
  const out: string[] = [];
  for (const c of ['memory', 'cpu', 'pids', 'devices', 'cpuacct', 'unified', '']) {
    const dir = join('/sys/fs/cgroup', c, 'tsdock');
    try {
      out.push(
        ...readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isDirectory() && d.name.startsWith(prefix))
          .map((d) => join(dir, d.name)),
      );
    } catch {
      /* no such hierarchy */
    }
  }
  return out;
}

/** Runs one of the runner's commands (compiled bin/<cmd>.js) with TSDOCK_ROOT=root. */
export function tsCommand(
  root: string,
  cmd: string,
  args: string[],
  opts: { input?: string; timeout?: number; env?: Record<string, string> } = {},
): { code: number; stdout: string; stderr: string } {
  const bin = fileURLToPath(new URL(`../../bin/${cmd}.js`, import.meta.url));
  const res = spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, ...opts.env, TSDOCK_ROOT: root },
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeout ?? 30000,
  });
  return { code: res.status ?? 128, stdout: res.stdout, stderr: res.stderr };
}

/** Host processes of the sandbox helper working under `root` (leftover check). */
export function sandboxProcesses(root: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readlinkSync(`/proc/${pid}/exe`).endsWith('/native/sandbox')) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root)) out.push(Number(pid));
    } catch {
      /* gone or kernel thread */
    }
  }
  return out;
}

/** Host network devices created for containers (veth host ends). */
export function leftoverVeths(): string[] {
  return readdirSync('/sys/class/net').filter((n) => n.startsWith('tsv'));
}
