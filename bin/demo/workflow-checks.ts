// Checks for the reference workflow that look outside the tools: the offline busybox base, an HTTP
// GET with retries (httpd takes a moment to listen), and the limits in the host's cgroup files.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../../shared/errors.js';
import { BIN_DIR, check, repoRoot, type Tools } from './run-tools.js';

/** Imports busybox:latest (made offline by fixtures/base-images/make-busybox.sh) unless present. */
export function ensureBusybox(tools: Tools, env: NodeJS.ProcessEnv, root: string): void {
  if (
    tools.run('tsinspect', ['--type', 'image', 'busybox:latest'], { allowFail: true, quiet: true })
      .status === 0
  ) {
    tools.log('  busybox:latest is already in the store');
    return;
  }
  const script = join(repoRoot(), 'fixtures', 'base-images', 'make-busybox.sh');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  const work = mkdtempSync(join(root, 'tmp', 'busybox-'));
  try {
    tools.log(`$ fixtures/base-images/make-busybox.sh LAYOUT latest --import busybox:latest`);
    const res = spawnSync(script, [join(work, 'layout'), 'latest', '--import', 'busybox:latest'], {
      env: { ...env, TSLOAD: join(BIN_DIR, 'tsload.js') },
      encoding: 'utf8',
    });
    if (res.status !== 0)
      throw new TsdockError(
        `make-busybox.sh failed (${res.status}): ${(res.stderr ?? '').trim().slice(-300)}`,
      );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** GETs `url`, retrying for up to 10 s while the server starts; returns the body. */
export async function httpGet(url: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      const body = await res.text();
      if (res.ok) return body;
      last = `HTTP ${res.status}: ${body}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new TsdockError(`GET ${url} failed: ${last}`);
}

/** Reads p1-limits' CPU and memory limits from the host's cgroup files (v1 or v2) and checks them. */
export function checkCgroupLimits(tools: Tools): {
  cpuQuota: number;
  cpuPeriod: number;
  memoryLimit: number;
} {
  const pid = tools.run('tsinspect', ['--format', '{{.State.Pid}}', 'p1-limits']).stdout.trim();
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const find = (ctrl: string) => {
    for (const l of lines) {
      const [, ctrls = '', path = ''] = l.split(':');
      if (ctrls.split(',').includes(ctrl)) return join('/sys/fs/cgroup', ctrls, path);
    }
    return undefined;
  };
  const read = (f: string) => readFileSync(f, 'utf8').trim();
  let out: { cpuQuota: number; cpuPeriod: number; memoryLimit: number };
  const cpuDir = find('cpu');
  const memDir = find('memory');
  if (cpuDir && memDir && existsSync(join(cpuDir, 'cpu.cfs_quota_us'))) {
    tools.log(`  reading ${cpuDir}/cpu.cfs_{quota,period}_us and ${memDir}/memory.limit_in_bytes`);
    out = {
      cpuQuota: Number(read(join(cpuDir, 'cpu.cfs_quota_us'))),
      cpuPeriod: Number(read(join(cpuDir, 'cpu.cfs_period_us'))),
      memoryLimit: Number(read(join(memDir, 'memory.limit_in_bytes'))),
    };
  } else {
    const unified = lines.find((l) => l.startsWith('0::'))?.slice(3) ?? '';
    const dir = join('/sys/fs/cgroup', unified);
    tools.log(`  reading ${dir}/cpu.max and memory.max`);
    const [quota = '', period = ''] = read(join(dir, 'cpu.max')).split(' ');
    out = {
      cpuQuota: Number(quota),
      cpuPeriod: Number(period),
      memoryLimit: Number(read(join(dir, 'memory.max'))),
    };
  }
  check(
    out.cpuQuota === 20000 && out.cpuPeriod === 100000 && out.memoryLimit === 64 * 1024 * 1024,
    'the cgroup has cpu quota 20000/100000 and a 64 MiB memory limit',
    JSON.stringify(out),
  );
  return out;
}
