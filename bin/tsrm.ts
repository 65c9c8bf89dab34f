#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tsrm: remove containers (docker rm); -f stops running ones first.
import { rmContainer } from '../runner/lifecycle.js';
import { errorLine } from '../shared/errors.js';

async function main(args: string[]): Promise<number> {
  const force = args.some((a) => a === '-f' || a === '--force');
  const refs = args.filter((a) => !a.startsWith('-'));
  if (!refs.length) {
    process.stderr.write('usage: tsrm [-f] CONTAINER...\n');
    return 125;
  }
  let code = 0;
  for (const ref of refs) {
    try {
      await rmContainer(ref, force);
      console.log(ref);
    } catch (err) {
      process.stderr.write(`tsrm: ${errorLine(err)}\n`);
      code = 1;
    }
  }
  return code;
}
main(process.argv.slice(2)).then((c) => process.exit(c));
