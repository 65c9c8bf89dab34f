#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tsstop: stop containers (docker stop): SIGTERM, then SIGKILL after -t seconds (default 10).
import { stopContainer } from '../runner/lifecycle.js';
import { errorLine } from '../shared/errors.js';

async function main(args: string[]): Promise<number> {
  let timeout = 10;
  const refs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-t' || a === '--time' || a === '--timeout') timeout = Number(args[++i]);
    else if (/^--?t(ime(out)?)?=/.test(a)) timeout = Number(a.split('=')[1]);
    else refs.push(a);
  }
  if (!refs.length || !(timeout >= 0)) {
    process.stderr.write('usage: tsstop [-t SECONDS] CONTAINER...\n');
    return 125;
  }
  let code = 0;
  for (const ref of refs) {
    try {
      await stopContainer(ref, timeout);
      console.log(ref);
    } catch (err) {
      process.stderr.write(`tsstop: ${errorLine(err)}\n`);
      code = 1;
    }
  }
  return code;
}
main(process.argv.slice(2)).then((c) => process.exit(c));
