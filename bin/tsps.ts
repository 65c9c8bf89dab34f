#!/usr/bin/env node
// tsps: list containers (docker ps). -a shows stopped ones too; -q prints ids only.
import { runCommand } from '../shared/cli.js';
import { tspsCommand } from './commands/tsps.js';

void runCommand(tspsCommand, async ({ values }) => {
  const { psTable, formatTable } = await import('../runner/lifecycle.js');
  const rows = await psTable(values.all === true);
  if (values.quiet) rows.slice(1).forEach((r) => console.log(r[0]));
  else console.log(formatTable(rows));
});
