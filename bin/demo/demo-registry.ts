// Starts tsregistry for the reference workflow (embedded defaults: token auth, data under
// $TSDOCK_ROOT/registry) and finds credentials: the admin password it prints on first start, or a
// `demo` user with a random password when the admin was created on an earlier run.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { TsdockError } from '../../shared/errors.js';
import type { Tools } from './run-tools.js';

export interface DemoRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  pid: number;
  username: string;
  password: string;
  /** Stops the registry by its PID (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
}

const PASSWORD_LINE = /created user "([^"]+)" with password (\S+)/;

export async function startDemoRegistry(tools: Tools, port: number): Promise<DemoRegistry> {
  const host = `127.0.0.1:${port}`;
  const child = tools.spawn('tsregistry', [], { REGISTRY_HTTP_ADDR: host });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      const t = setTimeout(
        () => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'),
        10_000,
      );
      await exited;
      clearTimeout(t);
    }
  };
  try {
    await waitReady(child, host, () => stderr);
    const first = PASSWORD_LINE.exec(stderr);
    if (first) {
      tools.log(`  registry up at ${host}; first start created user "${first[1]}"`);
      tools.log(`  ${first[0]} (shown once: note it)`);
      return { host, pid: child.pid!, username: first[1]!, password: first[2]!, stop };
    }
    const password = randomBytes(12).toString('base64url');
    tools.run('tsregistry', ['user', 'remove', 'demo'], { allowFail: true, quiet: true });
    tools.run('tsregistry', ['user', 'add', 'demo', '--password-stdin'], {
      input: password + '\n',
    });
    tools.log(`  registry up at ${host}; admin exists from an earlier run, added user "demo"`);
    return { host, pid: child.pid!, username: 'demo', password, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitReady(child: ChildProcess, host: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new TsdockError(`tsregistry exited (${child.exitCode}): ${oneLine(stderr())}`);
    try {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      // Another server on the port would answer too: insist on a registry, and on ours being alive.
      if (res.headers.get('docker-distribution-api-version')) {
        // The password line is written right after listen; give stderr a moment.
        await new Promise((r) => setTimeout(r, 200));
        if (child.exitCode === null) return;
      }
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new TsdockError(`tsregistry did not answer on ${host} within 20 s: ${oneLine(stderr())}`);
}

function oneLine(text: string): string {
  return text.trim().split('\n').slice(-2).join(' | ').slice(-300);
}
