#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tsrun: run a command in a new container (docker run). Thin: parse flags, call runner/.
// Imports stay lazy and few: start latency is a measured target (bench/run-start.ts).
// The shebang keeps Node from parsing NODE_EXTRA_CA_CERTS at start-up (30 ms here); a pull adds
// those certificates to the client's TLS trust itself (shared/tls-trust.ts).
import { parseRunArgs, RUN_USAGE } from '../runner/run-flags.js';

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help') {
    console.log(RUN_USAGE);
    return argv.length === 0 ? 125 : 0;
  }
  const args = parseRunArgs(argv);
  const { createContainer, startContainer } = await import('../runner/run.js');
  if (args.detached) {
    const { startDetached } = await import('../runner/monitor.js');
    const st = await createContainer({ ...args, detached: true });
    await startDetached(st.id);
    console.log(st.id);
    return 0;
  }
  const st = await createContainer(args);
  const stdin = args.interactive ? 'inherit' : 'ignore';
  const run = await startContainer(st, [stdin, 'inherit', 'inherit']);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
    process.on(sig, () => run.child.kill(sig));
  }
  return run.wait();
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (err: unknown) => {
    const { errorLine } = await import('../shared/errors.js');
    process.stderr.write(`tsrun: ${errorLine(err)}\n`);
    process.exit((err as { exitCode?: number }).exitCode ?? 125);
  },
);
