// An ordinary user for rootless tests and benchmarks, made by root: `useradd` with a home in a
// temp dir and (unless ranges: false) its own /etc/subuid and /etc/subgid range, chosen above
// every range already there. Commands run as the user through `runuser` with a clean
// environment (HOME, XDG dirs in that temp dir). The user needs to read the repository's dist/:
// when it cannot (a clone under /root), dist/ is copied into the temp dir. cleanup() kills
// every process of the user and of its subordinate ids (by pid), removes the user (userdel also
// drops its subuid/subgid lines) and the temp dir.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';

export interface AsyncResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RootlessUser {
  name: string;
  uid: number;
  gid: number;
  /** first host id of its subordinate range (undefined without ranges) */
  subStart?: number;
  subCount: number;
  home: string;
  /** the dist/ the user runs (the repository's, or a copy) */
  dist: string;
  /** runs a tsdock command (`tsrun`, ...) as the user */
  ts(
    cmd: string,
    args: string[],
    opts?: { input?: string; timeout?: number },
  ): SpawnSyncReturns<string>;
  /** the same without blocking this process (for commands that talk to an in-process server) */
  tsAsync(cmd: string, args: string[], extraEnv?: Record<string, string>): Promise<AsyncResult>;
  /** runs any program as the user, in its home */
  run(argv: string[], opts?: { input?: string; timeout?: number }): SpawnSyncReturns<string>;
  env: Record<string, string>;
  cleanup(): void;
}

function must(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The first id above every range of /etc/subuid and /etc/subgid (and above 1000000). */
function freeRangeStart(): number {
  let top = 1_000_000;
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^[^:]+:(\d+):(\d+)$/.exec(line.trim());
      if (m) top = Math.max(top, Number(m[1]) + Number(m[2]));
    }
  }
  return Math.ceil(top / 65536) * 65536;
}

/** pids of processes owned by uid in [lo, hi) (from /proc). */
function processesOf(ranges: [number, number][]): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const uid = statSync(`/proc/${e}`).uid;
      if (ranges.some(([lo, hi]) => uid >= lo && uid < hi)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function createRootlessUser(opts: {
  prefix: string;
  ranges?: boolean;
  repo: string;
}): RootlessUser {
  const dir = mkdtempSync(join('/tmp', `tsdock-${opts.prefix}-`));
  chmodSync(dir, 0o755);
  const home = join(dir, 'home');
  const name = `${opts.prefix}${process.pid % 100000}`.slice(0, 31);
  must([
    'useradd',
    '-M',
    '-d',
    home,
    '-s',
    '/bin/sh',
    '-K',
    'SUB_UID_COUNT=0',
    '-K',
    'SUB_GID_COUNT=0',
    '-U',
    name,
  ]);
  const subCount = opts.ranges === false ? 0 : 65536;
  const subStart = subCount ? freeRangeStart() : undefined;
  let user: RootlessUser | undefined;
  try {
    if (subStart !== undefined) {
      const range = `${subStart}-${subStart + subCount - 1}`;
      must(['usermod', '--add-subuids', range, '--add-subgids', range, name]);
    }
    const uid = Number(must(['id', '-u', name]).trim());
    const gid = Number(must(['id', '-g', name]).trim());
    mkdirSync(home);
    must(['chown', `${uid}:${gid}`, home]);
    let dist = join(opts.repo, 'dist');
    const readable = spawnSync('runuser', [
      '-u',
      name,
      '--',
      'test',
      '-x',
      join(dist, 'native', 'sandbox'),
    ]);
    if (readable.status !== 0) {
      dist = join(dir, 'dist');
      cpSync(join(opts.repo, 'dist'), dist, { recursive: true });
      must(['chmod', '-R', 'a+rX', dist]);
    }
    const env: Record<string, string> = {
      HOME: home,
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      XDG_DATA_HOME: join(home, '.local', 'share'),
      XDG_CONFIG_HOME: join(home, '.config'),
      TSDOCK_BRIDGE: process.env.TSDOCK_BRIDGE ?? 'tsrl0',
      TSDOCK_SUBNET: process.env.TSDOCK_SUBNET ?? '172.29.78.0/24',
    };
    const run = (argv: string[], o: { input?: string; timeout?: number } = {}) =>
      spawnSync(
        'runuser',
        [
          '-u',
          name,
          '--',
          'env',
          '-i',
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          ...argv,
        ],
        { cwd: home, encoding: 'utf8', input: o.input, timeout: o.timeout ?? 600_000 },
      );
    user = {
      name,
      uid,
      gid,
      subStart,
      subCount,
      home,
      dist,
      env,
      run,
      ts: (cmd, args, o) => run([process.execPath, join(dist, 'bin', `${cmd}.js`), ...args], o),
      tsAsync: (cmd, args, extraEnv = {}) =>
        new Promise((resolve) => {
          const all = Object.entries({ ...env, ...extraEnv }).map(([k, v]) => `${k}=${v}`);
          const argv = [process.execPath, join(dist, 'bin', `${cmd}.js`), ...args];
          const child = spawn('runuser', ['-u', name, '--', 'env', '-i', ...all, ...argv], {
            cwd: home,
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true,
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
          child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
          const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 600_000);
          child.on('close', (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr });
          });
        }),
      cleanup: () => {
        const ranges: [number, number][] = [[uid, uid + 1]];
        if (subStart !== undefined) ranges.push([subStart, subStart + subCount]);
        for (let i = 0; i < 3; i++) {
          const pids = processesOf(ranges);
          if (!pids.length) break;
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
          spawnSync('sleep', ['0.2']);
        }
        spawnSync('userdel', [name]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return user;
  } catch (err) {
    spawnSync('userdel', [name]);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
