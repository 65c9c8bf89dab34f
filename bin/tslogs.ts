#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tslogs: print a detached container's logs (docker logs); -f follows until it exits.
import { showLogs } from '../runner/lifecycle.js';
import { errorLine } from '../shared/errors.js';

const args = process.argv.slice(2);
const follow = args.some((a) => a === '-f' || a === '--follow');
const ref = args.find((a) => !a.startsWith('-'));
if (!ref) {
  process.stderr.write('usage: tslogs [-f] CONTAINER\n');
  process.exit(125);
}
showLogs(ref, follow).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`tslogs: ${errorLine(err)}\n`);
    process.exit(1);
  },
);
