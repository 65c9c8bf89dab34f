// Operations on existing containers behind tsps, tsstop, tskill, tsrm, tslogs and tsexec.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import {
  containerDir,
  containerPid,
  findContainer,
  listContainers,
  loadState,
  reconcile,
  removeContainer,
  type ContainerState,
} from './containers.js';
import { InvalidInputError, TsdockError } from '../shared/errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ago(iso: string | undefined): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 1) return 'Less than a second';
  if (s === 1) return 'About a second';
  if (s < 60) return `${s} seconds`;
  if (s < 3600) return `${Math.round(s / 60)} minutes`;
  if (s < 86400) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86400)} days`;
}

/** `tsps` table rows (header first). */
export async function psTable(all: boolean): Promise<string[][]> {
  const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
  for (const c of await listContainers()) {
    if (!all && c.status !== 'running') continue;
    const cmd = c.spec.argv.join(' ');
    const status =
      c.status === 'running'
        ? `Up ${ago(c.startedAt)}`
        : c.status === 'exited'
          ? `Exited (${c.exitCode ?? 0}) ${ago(c.finishedAt)} ago`
          : 'Created';
    const ports = c.spec.ports
      .map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/tcp`)
      .join(', ');
    rows.push([
      c.id.slice(0, 12),
      c.image,
      JSON.stringify(cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd),
      `${ago(c.created)} ago`,
      status,
      ports,
      c.name,
    ]);
  }
  return rows;
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]! + 3))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

/** Waits until the container is recorded as exited (or its supervisor is gone). */
async function waitExited(id: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const st = loadState(id);
    if (!st || st.status !== 'running') return true;
    if ((await reconcile(st))?.status !== 'running') return true;
    await sleep(20);
  }
  return false;
}

export function signalNumber(sig: string): number {
  const name = (
    /^\d+$/.test(sig) ? '' : sig.toUpperCase().replace(/^(SIG)?/, 'SIG')
  ) as NodeJS.Signals;
  const n = name ? constants.signals[name] : Number(sig);
  if (!n) throw new InvalidInputError(`invalid signal "${sig}"`);
  return n;
}

/** Sends a signal to the container's PID 1. */
export async function killContainer(ref: string, sig = 'KILL'): Promise<ContainerState> {
  const st = await findContainer(ref);
  const pid = containerPid(st);
  if (!pid) throw new TsdockError(`container ${ref} is not running`);
  process.kill(pid, signalNumber(sig));
  return st;
}

/** SIGTERM, then SIGKILL after `timeout` seconds; waits until the exit is recorded. */
export async function stopContainer(ref: string, timeout = 10): Promise<void> {
  const st = await findContainer(ref);
  const pid = containerPid(st);
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone already */
  }
  if (await waitExited(st.id, timeout * 1000)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
  if (!(await waitExited(st.id, 10000))) throw new TsdockError(`container ${ref} did not stop`);
}

export async function rmContainer(ref: string, force: boolean): Promise<void> {
  let st = await findContainer(ref);
  if (st.status === 'running') {
    if (!force) {
      throw new TsdockError(
        `cannot remove container ${ref}: it is running`,
        'stop it first or use tsrm -f',
      );
    }
    await stopContainer(st.id, 0);
    st = loadState(st.id) ?? st;
  }
  await removeContainer(st);
}

function printLogChunk(
  text: string,
  out: { stdout: (s: string) => void; stderr: (s: string) => void },
) {
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const rec = JSON.parse(line) as { log: string; stream: string };
      (rec.stream === 'stderr' ? out.stderr : out.stdout)(rec.log);
    } catch {
      /* a partial line at the end of a rotated file */
    }
  }
}

/** Prints the logs of a detached container; with follow, keeps printing until it exits. */
export async function showLogs(ref: string, follow: boolean): Promise<void> {
  const st = await findContainer(ref);
  const out = {
    stdout: (s: string) => process.stdout.write(s),
    stderr: (s: string) => process.stderr.write(s),
  };
  const file = join(containerDir(st.id), 'container.log');
  try {
    printLogChunk(readFileSync(`${file}.1`, 'utf8'), out);
  } catch {
    /* not rotated */
  }
  let offset = 0;
  let pending = '';
  const drain = () => {
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size < offset) offset = 0; // rotated
    if (size === offset) return;
    const buf = Buffer.alloc(size - offset);
    const fd = openSync(file, 'r');
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    offset = size;
    const text = pending + buf.toString('utf8');
    const cut = text.lastIndexOf('\n') + 1;
    pending = text.slice(cut);
    printLogChunk(text.slice(0, cut), out);
  };
  drain();
  while (follow) {
    const now = loadState(st.id);
    if (!now || (await reconcile(now))?.status !== 'running') {
      drain();
      break;
    }
    await sleep(100);
    drain();
  }
}

export interface ExecOptions {
  argv: string[];
  env: string[];
  workdir?: string;
  user?: string;
  tty: boolean;
  interactive: boolean;
}

/** Runs a command inside a running container (all its namespaces and its cgroup). */
export async function execInContainer(ref: string, opts: ExecOptions): Promise<number> {
  const st = await findContainer(ref);
  const pid = containerPid(st);
  if (!pid) throw new TsdockError(`container ${ref} is not running`);
  const env = new Map(st.spec.env.map((e) => [e.split('=')[0]!, e] as const));
  for (const e of opts.env)
    env.set(e.split('=')[0]!, e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`);
  const { namespaceExecutor } = await import('./namespace-executor.js');
  const running = await namespaceExecutor.exec(
    { id: st.id, pid },
    {
      argv: opts.argv,
      env: [...env.values()],
      cwd: opts.workdir ?? st.spec.cwd,
      user: opts.user ?? (st.spec.user || undefined),
      tty: opts.tty,
    },
    { stdio: [opts.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'] },
  );
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
    process.on(sig, () => running.child.kill(sig));
  return (await running.wait()).exitCode;
}
