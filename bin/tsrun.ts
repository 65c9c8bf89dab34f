#!/usr/bin/env node
// tsrun: run a command in a new container (docker run). Thin: parse flags, call runner/.
// Imports stay lazy and few: start latency is a measured target (bench/run-start.ts).
// Every flag value is checked before the image is looked up or pulled (runner/run-flags.ts).
import { runCommand } from '../shared/cli.js';
import { toRunArgs, tsrunCommand } from '../runner/run-flags.js';

void runCommand(tsrunCommand, async (parsed) => {
  const args = toRunArgs(parsed);
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
});
