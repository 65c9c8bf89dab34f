#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tskill: send a signal (default SIGKILL) to containers' PID 1 (docker kill).
import { killContainer } from '../runner/lifecycle.js';
import { errorLine } from '../shared/errors.js';

async function main(args: string[]): Promise<number> {
  let sig = 'KILL';
  const refs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-s' || a === '--signal') sig = args[++i] ?? '';
    else if (a.startsWith('--signal=')) sig = a.slice('--signal='.length);
    else refs.push(a);
  }
  if (!refs.length) {
    process.stderr.write('usage: tskill [-s SIGNAL] CONTAINER...\n');
    return 125;
  }
  let code = 0;
  for (const ref of refs) {
    try {
      await killContainer(ref, sig);
      console.log(ref);
    } catch (err) {
      process.stderr.write(`tskill: ${errorLine(err)}\n`);
      code = 1;
    }
  }
  return code;
}
main(process.argv.slice(2)).then((c) => process.exit(c));
