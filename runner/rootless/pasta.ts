// User-mode networking for rootless containers and RUN steps, in place of the bridge (which
// needs root): `pasta` (Debian `passt`, what podman 5 uses) attached to the container's network
// namespace once its PID 1 exists. It copies the host's addresses and routes into the namespace,
// carries outbound TCP/UDP through host sockets (so the container reaches what the user reaches),
// and publishes `-p [ip:]host:ctr` by listening on the host (127.0.0.1 unless an address is
// given, as the rootful userland proxy). The host's loopback is not reachable from inside
// (--no-map-gw), and nothing the container listens on is forwarded back (-T/-U none).
//
// pasta daemonizes once the namespace is configured, so its exit is the readiness signal; its
// pid (from --pid) is kept in the run's directory and it is stopped with the container.
// Run by the user itself it joins the container's namespaces by pid; run as root of the
// rootless namespace (tsbuild, first runs) it gets the network namespace as an inherited
// descriptor and stays root there (--runas 0), since the namespace's nobody could not join.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../../shared/errors.js';
import { processIdentity } from '../container-leftovers.js';
import type { PortMapping } from '../spec.js';

/** pasta's arguments (pure): quiet, configure the namespace, publish PORTS, nothing else in. */
export function pastaArgs(ports: PortMapping[], pidFile: string, target: string[]): string[] {
  const a = ['-q', '--config-net', '--no-map-gw', '-u', 'none', '-T', 'none', '-U', 'none'];
  a.push('--pid', pidFile);
  if (ports.length === 0) a.push('-t', 'none');
  for (const p of ports) {
    const host = p.hostIp && p.hostIp !== '0.0.0.0' ? `${p.hostIp}/` : '';
    a.push('-t', `${host}${p.hostPort}:${p.containerPort}`);
  }
  return [...a, ...target];
}

/** Attaches pasta to PID's network namespace; resolves once it is configured. */
export async function attachPasta(
  pid: number,
  ports: PortMapping[],
  runDir: string,
): Promise<{ close(): void }> {
  const pidFile = join(runDir, 'pasta.pid');
  const inNamespace = process.getuid?.() === 0;
  let nsFd: number | undefined;
  let target = [String(pid)];
  if (inNamespace) {
    nsFd = openSync(`/proc/${pid}/ns/net`, 'r');
    target = ['--runas', '0:0', '--netns', '/proc/self/fd/3'];
  }
  const args = pastaArgs(ports, pidFile, target);
  const child = spawn('pasta', args, {
    stdio: ['ignore', 'ignore', 'pipe', ...(nsFd !== undefined ? [nsFd] : [])],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (c) => resolve(c ?? 1));
  });
  if (nsFd !== undefined) closeSync(nsFd);
  if (code === -1)
    throw new TsdockError(
      'rootless networking needs pasta',
      'apt-get install passt, or run with --network none or --network host',
    );
  if (code !== 0) {
    const line = err.split('\n').find((l) => l && !l.startsWith('Failed to send')) ?? '';
    throw new TsdockError(`pasta failed: ${line.trim() || `exit ${code}`}`);
  }
  const daemon = Number(readFileSync(pidFile, 'utf8').trim());
  const identity = processIdentity(daemon);
  return {
    close() {
      if (identity && processIdentity(daemon) === identity) process.kill(daemon, 'SIGTERM');
    },
  };
}

/** Stops the pasta a killed supervisor left for the run in RUNDIR (its pid file, if it is one). */
export function stopLeftoverPasta(runDir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(runDir, 'pasta.pid'), 'utf8').trim());
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8');
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (!comm.startsWith('pas') || Number(uid) !== process.getuid?.()) return;
  } catch {
    return; // no pasta, or gone
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone meanwhile */
  }
}
