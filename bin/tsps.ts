#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tsps: list containers (docker ps). -a shows stopped ones too; -q prints ids only.
import { psTable, formatTable } from '../runner/lifecycle.js';
import { errorLine } from '../shared/errors.js';

const args = process.argv.slice(2);
const short = args.filter((a) => /^-[a-z]+$/.test(a)).join('');
const all = short.includes('a') || args.includes('--all');
const quiet = short.includes('q') || args.includes('--quiet');
psTable(all).then(
  (rows) => {
    if (quiet) rows.slice(1).forEach((r) => console.log(r[0]));
    else console.log(formatTable(rows));
  },
  (err: unknown) => {
    process.stderr.write(`tsps: ${errorLine(err)}\n`);
    process.exit(125);
  },
);
