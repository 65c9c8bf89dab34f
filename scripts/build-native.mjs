// Compiles the small C helpers into OUT (default dist/native). Node cannot call
// unshare/setns/pivot_root/mknod/setxattr itself; these do. A helper is either one file,
// <root>/native/NAME.c, or a folder of several, <root>/native/NAME/*.c (with its headers),
// compiled and linked together into one binary NAME. Static linking keeps their start-up cheap
// (no dynamic loader work per container start).
import { readdirSync, mkdirSync, statSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { spawnSync } from 'node:child_process';

const out = process.argv[2] ?? join('dist', 'native');
const roots = ['shared', 'runner', 'builder', 'registry'];
const cc = process.env.CC ?? 'cc';
mkdirSync(out, { recursive: true });

/** Every helper under DIR: { name, sources (the .c files), inputs (sources and headers) }. */
function helpers(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.c')) {
      found.push({ name: basename(entry.name, '.c'), sources: [path], inputs: [path] });
    } else if (entry.isDirectory()) {
      const files = readdirSync(path).sort();
      const sources = files.filter((f) => f.endsWith('.c')).map((f) => join(path, f));
      const inputs = files.filter((f) => /\.[ch]$/.test(f)).map((f) => join(path, f));
      if (sources.length > 0) found.push({ name: entry.name, sources, inputs });
    }
  }
  return found;
}

function upToDate(bin, inputs) {
  if (!existsSync(bin)) return false;
  const built = statSync(bin).mtimeMs;
  return inputs.every((f) => statSync(f).mtimeMs < built);
}

let failed = false;
for (const root of roots) {
  const dir = join(root, 'native');
  if (!existsSync(dir)) continue;
  for (const { name, sources, inputs } of helpers(dir)) {
    const bin = join(out, name);
    if (upToDate(bin, inputs)) continue;
    const args = [
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-std=gnu11',
      '-static',
      '-o',
      bin,
      ...sources,
    ];
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
      console.error(`build-native: failed to compile ${name} (${sources.join(' ')}) with ${cc}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
