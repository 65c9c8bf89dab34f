// Compiles the small C helpers (every */native/*.c outside node_modules) into OUT (default
// dist/native). Node cannot call unshare/setns/pivot_root/mknod/setxattr itself; these do.
// Static linking keeps their start-up cheap (no dynamic loader work per container start).
import { readdirSync, mkdirSync, statSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { spawnSync } from 'node:child_process';

const out = process.argv[2] ?? join('dist', 'native');
const roots = ['shared', 'runner', 'builder', 'registry'];
mkdirSync(out, { recursive: true });
let failed = false;
for (const root of roots) {
  const dir = join(root, 'native');
  if (!existsSync(dir)) continue;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.c'))) {
    const src = join(dir, file);
    const bin = join(out, basename(file, '.c'));
    if (existsSync(bin) && statSync(bin).mtimeMs > statSync(src).mtimeMs) continue;
    const cc = process.env.CC ?? 'cc';
    const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-static', '-o', bin, src];
    let res = spawnSync(cc, args, { stdio: 'inherit' });
    if (res.status !== 0) {
      // Fall back to dynamic linking where static libc is not installed.
      res = spawnSync(
        cc,
        args.filter((a) => a !== '-static'),
        { stdio: 'inherit' },
      );
    }
    if (res.status !== 0) {
      console.error(`build-native: failed to compile ${src} with ${cc}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
